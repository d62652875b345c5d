"""The scoring commands: ``segml score`` (batch scores, locally or on Spark) and
``segml audiences`` ("likely to ..." lists cut at an operating point)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from segml.cli_guard import (
    check_output,
    check_store,
    err_console,
    handles_user_errors,
    print_problems,
    print_warnings,
)
from segml.cli_options import (
    ConfigOpt,
    CutoffOpt,
    DataOpt,
    ModelOpt,
    QuietOpt,
    VerboseOpt,
    parse_cutoff,
    resolve_config,
    setup_logging,
)
from segml.cli_output import console
from segml.errors import Problem, SegmlError


@handles_user_errors
def score(
    model: ModelOpt,
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
    from segml.tracking.interrupts import interrupts_raise

    setup_logging(quiet, verbose)
    if engine not in ("local", "spark"):
        raise SegmlError([Problem(f"--engine must be local or spark, got {engine!r}", key="engine")])
    if engine == "spark":
        from segml.scale.spark_scoring import score_to_parquet_spark

        cfg = resolve_config(config, data)
        if not (data or cfg.data.dir):
            raise SegmlError([Problem("--engine spark needs --data DIR (Parquet tables)", key="data")])
        rows = score_to_parquet_spark(model, data or cfg.data.dir, out, config=cfg, reasons=reasons,
                                      cutoff=parse_cutoff(cutoff), master=spark_master)
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
            model, config=cfg, cutoff=parse_cutoff(cutoff), reasons=reasons,
            on_chunk=lambda done, total: bar.update(task, completed=done, total=total),
            on_warning=warnings.append,
        )  # fmt: skip
    try:
        with interrupts_raise():  # SIGTERM mid-write: exit 143 and no temporary file left
            write_frame_atomic(scores, out)
    except OSError as exc:
        raise SegmlError([Problem(f"cannot write the scores: {exc.strerror or exc}",
                                  file=str(out), key="out")]) from None
    console.print(f"scored {len(scores):,} customers -> {out}")
    print_warnings(warnings, "score")


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


@handles_user_errors
def audiences(
    model: ModelOpt,
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

    setup_logging(quiet, verbose)
    try:
        operating_point(top, precision, threshold)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    unknown = [t for t in target or [] if t not in CLASSIFIERS]
    if unknown:
        raise typer.BadParameter(f"--target must be one of {', '.join(CLASSIFIERS)}, got {unknown}")
    when = parse_cutoff(cutoff)
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
