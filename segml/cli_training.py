"""The training commands: ``segml train`` (the tracked pipeline), ``segml demo`` (synthetic data
through it) and ``segml report`` (a run's HTML report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segml.cli_guard import check_store, handles_user_errors, print_warnings
from segml.cli_options import (
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
from segml.cli_output import console, print_result
from segml.config import load_config

DEMO_MODEL_NAME = "segml-demo"  # the synthetic demo never competes with a user's own models


@handles_user_errors
def train(
    config: ConfigOpt = None,
    data: DataOpt = None,
    cutoff: CutoffOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Full pipeline: features, segments, predictors, evaluation; tracked and registered as champion.

    Example: segml train --data data   |   segml train --config configs/telco.yaml
    """
    from segml.pipeline import train as run_train

    setup_logging(quiet, verbose)
    cfg = apply_cutoff(resolve_config(config, data), parse_cutoff(cutoff))
    check_store(cfg)
    with stage_progress(quiet) as progress:
        result = run_train(cfg, progress=progress)
    if not quiet:
        print_result(result)
        console.print(f"{len(progress.steps)} steps in {progress.total():.0f} s", style="dim",
                      highlight=False)
    console.print(f"registered {result.model_uri} as @{result.alias}", highlight=False)
    console.print(f"run: {result.run_id}\nreport: {result.report}", highlight=False,
                  soft_wrap=True)
    print_warnings(result.warnings, "train")


@handles_user_errors
def demo(
    customers: Annotated[int, typer.Option("--customers", "-n", min=500, help="Synthetic customers.")] = 5000,
    seed: Annotated[int, typer.Option("--seed", "-s")] = 42,
    workdir: Annotated[Path, typer.Option("--workdir", help="Where data and the report go.")] = Path("demo"),
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Synthetic data -> full training pipeline -> registered champion -> report.

    Uses the demo's configuration (configs/demo.yaml: the defaults plus the synthetic columns'
    roles, as in the segml.yaml written beside the data) and MLflow's local SQLite store (mlflow.db),
    and registers the model as segml-demo: models trained on your own data (segml-customer, or
    tracking.registered_model_name) never compete with the synthetic one.
    """
    import time

    from segml.datasets import make_customers, synthetic_config
    from segml.pipeline import train as run_train
    from segml.report import write_report

    setup_logging(quiet, verbose)
    started = time.perf_counter()
    cfg = synthetic_config()
    cfg.tracking.registered_model_name = DEMO_MODEL_NAME
    cfg.seed = seed
    check_store(cfg)
    data_dir = workdir / "data"
    with stage_progress(quiet) as progress:
        progress(f"generating {customers:,} synthetic customers (seed {seed})")
        make_customers(customers, seed=seed).write(data_dir)
        cfg.data.dir = str(data_dir.resolve())
        result = run_train(cfg, run_name="demo", progress=progress)
        progress("writing the report")
        report = write_report(result.run_id, workdir / "report.html", tracking=cfg.tracking)
    if not quiet:
        print_result(result)
    console.print(f"registered {result.model_uri} as @{result.alias}", highlight=False)
    console.print(
        f"run: {result.run_id}\nreport: {report} ({time.perf_counter() - started:.0f} s in all)\n"
        f"serve it: mlflow models serve -m models:/{DEMO_MODEL_NAME}@champion "
        "--env-manager local -p 5001", highlight=False, soft_wrap=True)
    print_warnings(result.warnings, "demo")


@handles_user_errors
def report(
    run_id: Annotated[str, typer.Option("--run-id", help="MLflow run id of a train/retrain run.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file.")] = Path("report.html"),
    config: ConfigOpt = None,
) -> None:
    """Write the HTML report of a run (segments, profiles, model vs baselines, drivers).

    Example: segml report --run-id 3f2a... --out report.html
    """
    from segml.report import write_report

    setup_logging(False, False)
    cfg = load_config(config)
    check_store(cfg)
    path = write_report(run_id, out, tracking=cfg.tracking)
    console.print(f"report -> {path}")
