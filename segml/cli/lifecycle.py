"""The champion's lifecycle: ``segml retrain`` (gated challenger), ``segml promote`` and
``segml rollback``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from segml.cli.guard import check_store, err_console, handles_user_errors, print_warnings
from segml.cli.options import (
    EXIT_LOCKED,
    EXIT_NOT_PROMOTED,
    ConfigOpt,
    CutoffOpt,
    DataOpt,
    QuietOpt,
    VerboseOpt,
    apply_cutoff,
    parse_cutoff,
    resolve_config,
    setup_logging,
    stage_progress,
)
from segml.cli.output import console
from segml.cli.training import EngineOpt, SparkMasterOpt, training_source
from segml.config import load_config

NameOpt = Annotated[str | None, typer.Option(
    "--name", help="Registered model name (default: tracking.registered_model_name of the "
    "config, segml-customer; the demo's is segml-demo).")]


@handles_user_errors
def retrain(
    config: ConfigOpt = None,
    data: DataOpt = None,
    cutoff: CutoffOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Evaluate the gates, register nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Retrain even if this data and cutoff were done.")] = False,
    engine: EngineOpt = "local",
    spark_master: SparkMasterOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Train a challenger, gate it against the champion on the same window, promote if it holds.

    Exit codes: 0 promoted (or nothing to do), 1 data/config problem, 3 not promoted, 4 locked.
    Example: segml retrain --data data --cutoff 2025-06-30   |   segml retrain --engine spark
    --data /lake/customers_2026_12
    """
    from segml.monitor.lock import LockHeld
    from segml.workflow.retrain import retrain as run_retrain

    setup_logging(quiet, verbose)
    cfg = apply_cutoff(resolve_config(config, data), parse_cutoff(cutoff))
    if engine not in ("local", "spark"):  # before any store or session is touched
        training_source(engine, data, cfg, spark_master)
    check_store(cfg)
    # the tables on Spark, when trained there; else the retrain loads them itself
    spark = {"tables": training_source(engine, data, cfg, spark_master)} if engine == "spark" else {}
    try:
        with stage_progress(quiet) as progress:
            outcome = run_retrain(cfg, dry_run=dry_run, force=force, progress=progress, **spark)
    except LockHeld as exc:
        err_console.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(EXIT_LOCKED) from None
    for gate in outcome.gates:
        mark = ("pass", "green") if gate.passed else ("FAIL", "red")
        console.print(Text.assemble(mark, f" {gate.name}: {gate.reason}"), highlight=False)
    console.print(outcome.message)
    print_warnings(outcome.warnings, "retrain", quiet)
    if not outcome.promoted and not outcome.reused and not dry_run:
        raise typer.Exit(EXIT_NOT_PROMOTED)


@handles_user_errors
def promote(
    version: Annotated[str, typer.Option("--version", help="Registered model version to serve.")],
    config: ConfigOpt = None,
    name: NameOpt = None,
) -> None:
    """Make a registered version the champion (the previous one keeps the previous_champion alias).

    Example: segml promote --version 3   |   segml promote --name segml-demo --version 2
    """
    from segml.tracking import registry

    setup_logging(False, False)
    cfg = load_config(config)
    name = name or cfg.tracking.registered_model_name
    registry.promote(name, version, check_store(cfg))
    console.print(f"models:/{name}@champion -> version {version}")


@handles_user_errors
def rollback(config: ConfigOpt = None, name: NameOpt = None) -> None:
    """Restore the previous champion (walks back the promotion history one step per call).

    Example: segml rollback   |   segml rollback --name segml-demo
    """
    from segml.tracking import registry

    setup_logging(False, False)
    cfg = load_config(config)
    name = name or cfg.tracking.registered_model_name
    restored = registry.rollback(name, check_store(cfg))
    console.print(f"models:/{name}@champion -> version {restored.version} (rolled back)")
