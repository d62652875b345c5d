"""The ``segml`` command line: a thin layer over :mod:`segml.pipeline`.

Exit codes
----------
0  success
1  a problem in the data or the config (one line per problem, naming file, table, column or key)
2  usage error (unknown option, missing argument)
3  a retrain that ran but did not promote its challenger (gates failed)
4  another retrain of the same model holds the lock
5  an unexpected internal error (a bug: one line naming it; ``--verbose`` logs the traceback)
130, 143  interrupted by SIGINT (Ctrl-C) or SIGTERM: the run in progress is marked KILLED

No Python traceback, request value or credential reaches the terminal: every message and log
record goes through :func:`segml.errors.redact`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from segml.cli_guard import (
    check_output,
    check_store,
    err_console,
    handles_user_errors,
    print_problems,
    print_warnings,
)
from segml.cli_output import StageProgress, comparison_table, configure_logging
from segml.config import SegmlConfig, load_config
from segml.errors import Problem, SegmlError

EXIT_OK, EXIT_DATA, EXIT_USAGE = 0, 1, 2

app = typer.Typer(
    name="segml",
    help="Customer segment discovery and prediction, tracked in MLflow.\n\n"
    "Exit codes: 0 success, 1 data or config problem, 2 usage, "
    "3 retrain not promoted, 4 retrain locked, 5 internal error, 130/143 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
DEMO_MODEL_NAME = "segml-demo"  # the synthetic demo never competes with a user's own models


def _print_version(value: bool) -> None:
    if value:
        from segml import __version__

        console.print(f"segml {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option(
        "--version", help="Print the segml version and exit.", callback=_print_version,
        is_eager=True)] = False,
) -> None:
    """Customer segment discovery and prediction, tracked in MLflow."""

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file.", dir_okay=False)
]
DataOpt = Annotated[
    Path | None,
    typer.Option("--data", "-d", help="Folder with customers/transactions/events (.parquet/.csv)."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and the result.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")]


def _setup_logging(quiet: bool, verbose: bool) -> None:
    """Log records through the stderr console (above the progress); ``--quiet``: errors only
    from the libraries (MLflow, alembic, ...), ``--verbose``: debug."""
    configure_logging(err_console, quiet=quiet, verbose=verbose)


def resolve_config(config: Path | None, data: Path | None) -> SegmlConfig:
    """The config file (or the embedded defaults) with ``--data`` as the data folder."""
    if config is None and data is None:
        raise SegmlError([Problem("give --config FILE or --data DIR")])
    cfg = load_config(config)
    if data is not None:
        if not data.is_dir():
            raise SegmlError([Problem("data folder not found", file=str(data))])
        cfg.data.dir = str(data.resolve())
    return cfg


@app.command()
@handles_user_errors
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    customers: Annotated[int, typer.Option("--customers", "-n", min=10, help="Customers.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Seed of the customers drawn.")] = 0,
    design_seed: Annotated[int, typer.Option(
        "--design-seed", help="Seed of the segment design (the company); every --seed draws "
        "customers of the same segments.")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    difficulty: Annotated[str, typer.Option(
        "--difficulty", help="default: distinct segments (what segml was tuned on); hard: "
        "overlapping segments, Pareto/NBD purchasing and dropout, heavy-tailed spend, seasons, "
        "uninformative attributes (same tables and ground truth).")] = "default",
    quiet: QuietOpt = False,
) -> None:
    """Write synthetic customers, transactions, events and ground_truth.parquet.

    Example: segml generate --customers 2000 --seed 5 --difficulty hard --out data
    """
    from segml.datasets import DIFFICULTIES, make_customers

    if fmt not in ("parquet", "csv"):
        raise typer.BadParameter("--format must be parquet or csv")
    if difficulty not in DIFFICULTIES:
        raise typer.BadParameter(
            f"--difficulty must be one of {', '.join(DIFFICULTIES)}, got {difficulty!r}"
        )
    with console.status("generating synthetic customers...", spinner="dots"):
        data = make_customers(customers, seed=seed, design_seed=design_seed,
                              difficulty=difficulty)
        paths = data.write(out, format=fmt)
    if not quiet:
        table = Table(title=f"synthetic data in {out}")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, frame in (
            ("customers", data.customers),
            ("transactions", data.transactions),
            ("events", data.events),
            ("ground_truth", data.ground_truth),
        ):
            table.add_row(str(paths.get(name, name)), f"{len(frame):,}")
        console.print(table)


@app.command()
@handles_user_errors
def validate(config: ConfigOpt = None, data: DataOpt = None, quiet: QuietOpt = False) -> None:
    """Check the config and the data; report every problem at once.

    Example: segml validate --data data   |   segml validate --config configs/telco.yaml
    """
    from segml.data.contract import read_raw_tables, validate_tables

    cfg = resolve_config(config, data)
    raw = read_raw_tables(cfg)
    sources = raw.pop("_sources")
    tables, problems = validate_tables(
        cfg, raw["customers"], raw["transactions"], raw["events"], sources=sources
    )
    print_problems(problems)
    if tables is None:
        raise typer.Exit(EXIT_DATA)
    if not quiet:
        console.print(
            f"[green]valid[/green]: {len(tables.customers):,} customers, "
            f"{0 if tables.transactions is None else len(tables.transactions):,} transactions, "
            f"{0 if tables.events is None else len(tables.events):,} events "
            f"({tables.mode} mode, {len(problems)} warning(s))"
        )


CutoffOpt = Annotated[
    str | None, typer.Option("--cutoff", help="Treat this date (YYYY-MM-DD) as the end of the data.")
]
EXIT_NOT_PROMOTED, EXIT_LOCKED = 3, 4


def _progress(quiet: bool) -> StageProgress:
    """Each pipeline step with a spinner and its elapsed time on stderr (nothing with --quiet)."""
    return StageProgress(err_console, enabled=not quiet)


def _with_cutoff(cfg: SegmlConfig, cutoff: str | None) -> SegmlConfig:
    if cutoff is None:
        return cfg
    return cfg.with_cutoff(cutoff)


def _parse_cutoff(cutoff: str | None) -> str | None:
    if cutoff is None:
        return None
    import datetime as dt

    try:
        return dt.date.fromisoformat(cutoff).isoformat()
    except ValueError:
        raise SegmlError([Problem(f"--cutoff must be a date YYYY-MM-DD, got {cutoff!r}", key="cutoff")]) from None


def _print_result(result: Any) -> None:
    """Model vs baselines per target, the headline metrics only (the rest is in MLflow);
    short scorer labels and a legend keep it whole at 80 columns."""
    table, legend = comparison_table(result.comparison, f"model vs baselines (run {result.run_id})")
    console.print(table)
    console.print(legend, style="dim", highlight=False)
    segmentation = result.segmentation
    if segmentation is not None:
        names = segmentation.hierarchy.names_.get(1, {})
        sizes = segmentation.assignments["segment_level_1"].value_counts()
        seg_table = Table(title="top-level segments", title_justify="left")
        seg_table.add_column("segment")
        seg_table.add_column("customers", justify="right")
        seg_table.add_column("name")
        for segment, size in sizes.items():
            seg_table.add_row(str(segment), f"{size:,}", names.get(str(segment), ""))
        console.print(seg_table)
    fitted = getattr(result, "fit_cutoffs", None) or {}
    if fitted:
        console.print("registered predictors fitted up to: "
                      + ", ".join(f"{t} {c}" for t, c in fitted.items()), highlight=False)



@app.command()
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

    _setup_logging(quiet, verbose)
    cfg = _with_cutoff(resolve_config(config, data), _parse_cutoff(cutoff))
    check_store(cfg)
    with _progress(quiet) as progress:
        result = run_train(cfg, progress=progress)
    if not quiet:
        _print_result(result)
        console.print(f"{len(progress.steps)} steps in {progress.total():.0f} s", style="dim",
                      highlight=False)
    console.print(f"registered {result.model_uri} as @{result.alias}", highlight=False)
    console.print(f"run: {result.run_id}\nreport: {result.report}", highlight=False,
                  soft_wrap=True)
    print_warnings(result.warnings, "train")


@app.command()
@handles_user_errors
def score(
    model: Annotated[str, typer.Option("--model", "-m", help="Model URI, e.g. models:/segml-customer@champion.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .parquet or .csv file.")],
    data: DataOpt = None,
    config: ConfigOpt = None,
    cutoff: CutoffOpt = None,
    reasons: Annotated[bool, typer.Option("--reasons", help="Add top 3 SHAP reasons per score.")] = False,
    engine: Annotated[str, typer.Option("--engine", help="local (pandas) or spark (Parquet in and out).")] = "local",
    spark_master: Annotated[str | None, typer.Option("--spark-master", help="Spark master when no session is active (default local[2]).")] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Batch scoring with the model's own feature settings, written atomically to Parquet or CSV.

    Example: segml score --model models:/segml-customer@champion --data data --out scores.parquet
    """
    from segml.data.io import write_frame_atomic
    from segml.pipeline import score as run_score

    _setup_logging(quiet, verbose)
    if engine not in ("local", "spark"):
        raise SegmlError([Problem(f"--engine must be local or spark, got {engine!r}", key="engine")])
    if engine == "spark":
        from segml.scale.spark_scoring import score_to_parquet_spark

        cfg = resolve_config(config, data)
        if not (data or cfg.data.dir):
            raise SegmlError([Problem("--engine spark needs --data DIR (Parquet tables)", key="data")])
        rows = score_to_parquet_spark(model, data or cfg.data.dir, out, config=cfg, reasons=reasons,
                                      cutoff=_parse_cutoff(cutoff), master=spark_master)
        console.print(f"scored {rows:,} customers on Spark -> {out}")
        return
    check_output(out)
    from rich.progress import Progress

    cfg = resolve_config(config, data)
    check_store(cfg)
    warnings: list[Problem] = []
    with Progress(console=err_console, transient=True, disable=quiet) as bar:
        task = bar.add_task("scoring", total=None)
        scores = run_score(
            model, config=cfg, cutoff=_parse_cutoff(cutoff), reasons=reasons,
            on_chunk=lambda done, total: bar.update(task, completed=done, total=total),
            on_warning=warnings.append,
        )  # fmt: skip
    try:
        write_frame_atomic(scores, out)
    except OSError as exc:
        raise SegmlError([Problem(f"cannot write the scores: {exc.strerror or exc}",
                                  file=str(out), key="out")]) from None
    console.print(f"scored {len(scores):,} customers -> {out}")
    print_warnings(warnings, "score")


@app.command()
@handles_user_errors
def demo(
    customers: Annotated[int, typer.Option("--customers", "-n", min=500, help="Synthetic customers.")] = 5000,
    seed: Annotated[int, typer.Option("--seed", "-s")] = 42,
    workdir: Annotated[Path, typer.Option("--workdir", help="Where data and the report go.")] = Path("demo"),
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Synthetic data -> full training pipeline -> registered champion -> report.

    Uses the embedded configuration (configs/demo.yaml) and MLflow's local SQLite store (mlflow.db),
    and registers the model as segml-demo: models trained on your own data (segml-customer, or
    tracking.registered_model_name) never compete with the synthetic one.
    """
    import time

    from segml.datasets import make_customers
    from segml.pipeline import train as run_train
    from segml.report import write_report

    _setup_logging(quiet, verbose)
    started = time.perf_counter()
    cfg = load_config(None)
    cfg.tracking.registered_model_name = DEMO_MODEL_NAME
    cfg.seed = seed
    check_store(cfg)
    data_dir = workdir / "data"
    with _progress(quiet) as progress:
        progress(f"generating {customers:,} synthetic customers (seed {seed})")
        make_customers(customers, seed=seed).write(data_dir)
        cfg.data.dir = str(data_dir.resolve())
        result = run_train(cfg, run_name="demo", progress=progress)
        progress("writing the report")
        report = write_report(result.run_id, workdir / "report.html", tracking=cfg.tracking)
    if not quiet:
        _print_result(result)
    console.print(f"registered {result.model_uri} as @{result.alias}", highlight=False)
    console.print(
        f"run: {result.run_id}\nreport: {report} ({time.perf_counter() - started:.0f} s in all)\n"
        f"serve it: mlflow models serve -m models:/{DEMO_MODEL_NAME}@champion "
        "--env-manager local -p 5001", highlight=False, soft_wrap=True)
    print_warnings(result.warnings, "demo")


@app.command()
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

    _setup_logging(False, False)
    cfg = load_config(config)
    check_store(cfg)
    path = write_report(run_id, out, tracking=cfg.tracking)
    console.print(f"report -> {path}")


@app.command()
@handles_user_errors
def retrain(
    config: ConfigOpt = None,
    data: DataOpt = None,
    cutoff: CutoffOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Evaluate the gates, register nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Retrain even if this data and cutoff were done.")] = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Train a challenger, gate it against the champion on the same window, promote if it holds.

    Exit codes: 0 promoted (or nothing to do), 1 data/config problem, 3 not promoted, 4 locked.
    Example: segml retrain --data data --cutoff 2025-06-30
    """
    from segml.monitor.lock import LockHeld
    from segml.retrain import retrain as run_retrain

    _setup_logging(quiet, verbose)
    cfg = _with_cutoff(resolve_config(config, data), _parse_cutoff(cutoff))
    check_store(cfg)
    try:
        with _progress(quiet) as progress:
            outcome = run_retrain(cfg, dry_run=dry_run, force=force, progress=progress)
    except LockHeld as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_LOCKED) from None
    for gate in outcome.gates:
        mark = "[green]pass[/green]" if gate.passed else "[red]FAIL[/red]"
        console.print(f"{mark} {gate.name}: {gate.reason}", highlight=False)
    console.print(outcome.message)
    print_warnings(outcome.warnings, "retrain")
    if not outcome.promoted and not outcome.reused and not dry_run:
        raise typer.Exit(EXIT_NOT_PROMOTED)


@app.command()
@handles_user_errors
def promote(
    version: Annotated[str, typer.Option("--version", help="Registered model version to serve.")],
    config: ConfigOpt = None,
) -> None:
    """Make a registered version the champion (the previous one keeps the previous_champion alias).

    Example: segml promote --version 3
    """
    from segml.tracking import registry

    _setup_logging(False, False)
    cfg = load_config(config)
    name = cfg.tracking.registered_model_name
    registry.promote(name, version, check_store(cfg))
    console.print(f"models:/{name}@champion -> version {version}")


@app.command()
@handles_user_errors
def rollback(config: ConfigOpt = None) -> None:
    """Restore the previous champion (walks back the promotion history one step per call).

    Example: segml rollback
    """
    from segml.tracking import registry

    _setup_logging(False, False)
    cfg = load_config(config)
    name = cfg.tracking.registered_model_name
    restored = registry.rollback(name, check_store(cfg))
    console.print(f"models:/{name}@champion -> version {restored.version} (rolled back)")


def _writable_folder(out: Path) -> None:
    """``--out`` must be a folder segml can create files in: made and probed before any scoring."""
    import tempfile

    if out.exists() and not out.is_dir():
        raise SegmlError([Problem("--out must be a folder (the lists go inside it)",
                                  file=str(out), key="out")])
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise SegmlError([Problem(f"--out is not a writable folder: {exc.strerror or exc}",
                                  file=str(out), key="out")]) from None


@app.command()
@handles_user_errors
def audiences(
    model: Annotated[str, typer.Option("--model", "-m", help="Model URI, e.g. models:/segml-customer@champion.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: <target>.parquet|csv per list and summary.csv.")],
    data: DataOpt = None,
    config: ConfigOpt = None,
    cutoff: CutoffOpt = None,
    top: Annotated[str | None, typer.Option("--top", help="The top share of each target's population by score, e.g. 10%.")] = None,
    precision: Annotated[float | None, typer.Option("--precision", help="The largest list whose precision on the evaluation window reaches this, in (0, 1].")] = None,
    threshold: Annotated[float | None, typer.Option("--threshold", help="Every customer whose probability is at least this, in [0, 1].")] = None,
    target: Annotated[list[str] | None, typer.Option("--target", "-t", help="Classifier to build a list for (repeatable; default: all).")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="parquet or csv (default: audiences.format).")] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Lists of customers likely to churn / buy / become high value, with expected precision.

    One operating point at most (default: the first of audiences.operating_points). Exit codes:
    0 written, 1 a problem with the model, data, --out or a precision out of reach, 2 usage.
    Example: segml audiences --model models:/segml-customer@champion --data data --out lists --top 10%
    """
    from segml.audience_lists import audiences as build
    from segml.audience_lists import write_audiences
    from segml.targeting import operating_point
    from segml.targets import CLASSIFIERS

    _setup_logging(quiet, verbose)
    try:
        operating_point(top, precision, threshold)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    unknown = [t for t in target or [] if t not in CLASSIFIERS]
    if unknown:
        raise typer.BadParameter(f"--target must be one of {', '.join(CLASSIFIERS)}, got {unknown}")
    when = _parse_cutoff(cutoff)
    cfg = resolve_config(config, data)
    fmt = fmt or cfg.audiences.format
    if fmt not in ("parquet", "csv"):
        raise typer.BadParameter(f"--format must be parquet or csv, got {fmt!r}")
    _writable_folder(out)
    with err_console.status("scoring and cutting the lists...", spinner="dots"):
        result = build(model, config=cfg, cutoff=when, top=top, precision=precision,
                       threshold=threshold, targets=target or None)
    try:
        write_audiences(result, out, fmt)
    except OSError as exc:
        raise SegmlError([Problem(f"cannot write the lists: {exc.strerror or exc}", file=str(out),
                                  key="out")]) from None
    table = Table(title=f"audiences ({result.point.label}) in {out}", title_justify="left")
    for title in ("list", "customers", "precision", "recall"):
        table.add_column(title, justify="left" if title == "list" else "right")
    for row in result.summary.to_dict("records"):
        expected = [f"{row[k]:.2f}" if row[k] == row[k] else "-"
                    for k in ("expected_precision", "expected_recall")]
        table.add_row(f"{row['target']}: {row['audience']}", f"{row['customers']:,}", *expected)
    if not quiet:
        console.print(table)
        console.print("expected precision and recall: measured on each target's evaluation window "
                      "(summary.csv)", highlight=False)
    print_problems([Problem(p.message, severity="warning", key=p.key) for p in result.skipped])


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
