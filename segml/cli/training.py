"""The training commands: ``segml train`` (the tracked pipeline), ``segml demo`` (synthetic data
through it) and ``segml report`` (a run's HTML report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from segml.cli.guard import check_store, handles_user_errors, print_warnings
from segml.cli.options import (
    ConfigOpt,
    CutoffOpt,
    DataOpt,
    JsonOpt,
    QuietOpt,
    VerboseOpt,
    apply_cutoff,
    parse_cutoff,
    resolve_config,
    setup_logging,
    stage_progress,
)
from segml.cli.output import (
    console,
    print_json,
    print_result,
    registration_lines,
    train_document,
)
from segml.config import SegmlConfig, load_config
from segml.errors import Problem, SegmlError

DEMO_MODEL_NAME = "segml-demo"  # the synthetic demo never competes with a user's own models
DEMO_EXPERIMENT = "segml-demo"  # nor do its runs mix with the runs on a user's own data


EngineOpt = Annotated[str, typer.Option(
    "--engine", help="local (pandas, one process) or spark (features, labels and samples on "
    "Spark, the models on the driver; Parquet tables: docs/spark.md).")]
SparkMasterOpt = Annotated[str | None, typer.Option(
    "--spark-master", help="Spark master when no session is active (default local[2]).")]


def training_source(engine: str, data: Path | None, cfg: SegmlConfig,
                    master: str | None) -> Any:
    """None for the local engine; for Spark the tables on Spark (``--data`` or the config's
    folder and paths, read as ``score --engine spark`` reads them)."""
    if engine not in ("local", "spark"):
        raise SegmlError([Problem(f"--engine must be local or spark, got {engine!r}",
                                  key="engine")])
    if engine == "local":
        return None
    folder = data or cfg.data.dir
    if not folder:
        raise SegmlError([Problem("--engine spark needs --data DIR (Parquet tables)", key="data")])
    from segml.scale.spark_training import SparkSource, spark_session

    return SparkSource.read(spark_session(master), folder, cfg)


@handles_user_errors
def train(
    config: ConfigOpt = None,
    data: DataOpt = None,
    cutoff: CutoffOpt = None,
    engine: EngineOpt = "local",
    spark_master: SparkMasterOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Full pipeline: features, segments, predictors, evaluation, tracked in MLflow and
    registered (a model's first version becomes @champion, later ones @challenger).

    Example: segml train --data data   |   segml train --config configs/telco.yaml --json
    |   segml train --engine spark --data /lake/customers_2026_11
    """
    from segml.workflow.train import describe_run
    from segml.workflow.train import train as run_train

    setup_logging(quiet, verbose)
    cfg = apply_cutoff(resolve_config(config, data), parse_cutoff(cutoff))
    if engine not in ("local", "spark"):  # before any store or session is touched
        training_source(engine, data, cfg, spark_master)
    check_store(cfg)
    # the tables on Spark, when trained there; else the run loads them itself
    spark = {"tables": training_source(engine, data, cfg, spark_master)} if engine == "spark" else {}
    with stage_progress(quiet) as progress:
        result = run_train(cfg, run_name=describe_run("train", cfg), progress=progress, **spark)
    if as_json:
        print_json(train_document(result, "train", result.report, progress.total()))
        print_warnings(result.warnings, "train", quiet)
        return
    if not quiet:
        print_result(result)
        console.print(f"{len(progress.steps)} steps in {progress.total():.0f} s", style="dim",
                      highlight=False)
    console.print("\n".join(registration_lines(result)), highlight=False, soft_wrap=True)
    console.print(f"run: {result.run_id} ({result.run_name})\nreport: {result.report}",
                  highlight=False, soft_wrap=True)
    print_warnings(result.warnings, "train", quiet)


@handles_user_errors
def demo(
    customers: Annotated[int, typer.Option("--customers", "-n", min=500, help="Synthetic customers.")] = 5000,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Seed of the synthetic customers.")] = 42,
    workdir: Annotated[Path, typer.Option("--workdir", help="Where data and the report go.")] = Path("demo"),
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Synthetic data -> full training pipeline -> registered model -> report.

    Uses the demo's configuration (configs/demo.yaml: the defaults plus the synthetic columns'
    roles, as in the segml.yaml written beside the data, and two declared targets) and MLflow's local SQLite store
    (mlflow.db); runs go to the segml-demo experiment and the model is registered as segml-demo,
    so models trained on your own data (segml-customer) never compete with the synthetic one.
    The first run's version becomes @champion, later ones @challenger; each run writes its own
    report (<workdir>/report-v<version>.html).

    Example: segml demo   |   segml demo --customers 2000 --seed 7 --workdir /tmp/demo --json
    """
    import time

    from segml.data.synthetic.datasets import demo_config, make_customers
    from segml.report import write_report
    from segml.workflow.train import train as run_train

    setup_logging(quiet, verbose)
    started = time.perf_counter()
    cfg = demo_config()
    cfg.tracking.registered_model_name = DEMO_MODEL_NAME
    cfg.tracking.experiment_name = DEMO_EXPERIMENT
    cfg.seed = seed
    check_store(cfg)
    data_dir = workdir / "data"
    with stage_progress(quiet) as progress:
        progress(f"generating {customers:,} synthetic customers (seed {seed})")
        make_customers(customers, seed=seed).write(data_dir)
        cfg.data.dir = str(data_dir.resolve())
        result = run_train(cfg, run_name=f"demo {customers:,} customers, seed {seed}",
                           progress=progress)
        progress("writing the report")
        report = write_report(result.run_id, workdir / f"report-v{result.model_version}.html",
                              tracking=cfg.tracking)
    seconds = time.perf_counter() - started
    if as_json:
        print_json(train_document(result, "demo", str(report), seconds))
        print_warnings(result.warnings, "demo", quiet)
        return
    if not quiet:
        print_result(result)
    console.print("\n".join(registration_lines(result)), highlight=False, soft_wrap=True)
    console.print(f"run: {result.run_id} ({result.run_name}, experiment {DEMO_EXPERIMENT})\n"
                  f"report: {report} ({seconds:.0f} s in all)", highlight=False, soft_wrap=True)
    print_warnings(result.warnings, "demo", quiet)


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
