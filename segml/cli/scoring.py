"""The scoring commands: ``segml score`` (batch scores, locally or on Spark) and
``segml audiences`` ("likely to ..." lists cut at an operating point)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from segml.cli.guard import (
    check_output,
    check_store,
    err_console,
    handles_user_errors,
    print_problems,
    print_warnings,
)
from segml.cli.options import (
    ConfigOpt,
    CutoffOpt,
    DataOpt,
    JsonOpt,
    ModelOpt,
    QuietOpt,
    VerboseOpt,
    parse_cutoff,
    resolve_config,
    setup_logging,
)
from segml.cli.output import console, print_json
from segml.errors import Problem, SegmlError


@handles_user_errors
def score(
    model: ModelOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .parquet or .csv file.")],
    data: DataOpt = None,
    config: ConfigOpt = None,
    cutoff: CutoffOpt = None,
    reasons: Annotated[bool, typer.Option("--reasons/--no-reasons", show_default=False, help="Add the top 3 SHAP reasons per score (about twice the time of scores alone: docs/predictions.md).")] = False,
    engine: Annotated[str, typer.Option("--engine", help="local (pandas) or spark (Parquet in and out).")] = "local",
    spark_master: Annotated[str | None, typer.Option("--spark-master", help="Spark master when no session is active (default local[2]).")] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Batch scoring with the model's own feature settings, written atomically to Parquet or CSV.

    Example: segml score --model models:/segml-customer@champion --data data --out scores.parquet
    """
    from segml.data.io import write_frame_atomic
    from segml.tracking.interrupts import interrupts_raise
    from segml.workflow.train import score as run_score

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
    console.print(f"scored {len(scores):,} customers -> {out}", highlight=False, soft_wrap=True)
    print_warnings(warnings, "score", quiet)


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
    out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Output folder: <target>.parquet|csv per list and summary.csv.")],
    data: DataOpt = None,
    config: ConfigOpt = None,
    cutoff: CutoffOpt = None,
    top: Annotated[str | None, typer.Option("--top", metavar="SHARE", help="The top share of each target's population by score, e.g. 10%.")] = None,
    precision: Annotated[float | None, typer.Option("--precision", metavar="P", help="The largest list whose precision on the evaluation window reaches this, in (0, 1].")] = None,
    threshold: Annotated[float | None, typer.Option("--threshold", metavar="P", help="Every customer whose probability is at least this, in [0, 1].")] = None,
    target: Annotated[list[str] | None, typer.Option("--target", "-t", metavar="TARGET", help="Classifier to build a list for: churn, purchase or high_clv (repeat for several; default: all).")] = None,
    min_probability: Annotated[float | None, typer.Option("--min-probability", metavar="P", help="A floor under every list: no customer whose probability is below P (0 to 1), whatever the operating point.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", metavar="FORMAT", help="parquet or csv (default: audiences.format).")] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Lists of customers likely to churn / buy / become high value, with expected precision.

    One operating point at most (default: the first of audiences.operating_points). A
    --precision list is cumulative: its customers reach the precision together, down to the
    lowest probability shown; --min-probability sets a floor. Exit codes: 0 written, 1 a problem
    with the model, data, --out or a precision out of reach, 2 usage.
    Example: segml audiences --model models:/segml-customer@champion --data data --out lists --top 10%
    """
    from segml.scoring.audiences import audiences as build
    from segml.scoring.audiences import write_audiences
    from segml.targets import targets_of
    from segml.workflow.targeting import operating_point

    setup_logging(quiet, verbose)
    try:
        operating_point(top, precision, threshold)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if min_probability is not None and not 0 <= min_probability <= 1:
        raise typer.BadParameter(f"--min-probability must be a number in [0, 1], got {min_probability:g}")
    when = parse_cutoff(cutoff)
    cfg = resolve_config(config, data)
    classifiers = [n for n, t in targets_of(cfg).items() if t.is_classifier]
    unknown = [t for t in target or [] if t not in classifiers]
    if unknown:
        raise typer.BadParameter(f"--target must be one of {', '.join(classifiers)}, got {unknown}")
    fmt = fmt or cfg.audiences.format
    if fmt not in ("parquet", "csv"):
        raise typer.BadParameter(f"--format must be parquet or csv, got {fmt!r}")
    _writable_folder(out)
    with err_console.status("scoring and cutting the lists...", spinner="dots"):
        result = build(model, config=cfg, cutoff=when, top=top, precision=precision,
                       threshold=threshold, targets=target or None,
                       min_probability=min_probability)
    try:
        paths = write_audiences(result, out, fmt)
    except OSError as exc:
        raise SegmlError([Problem(f"cannot write the lists: {exc.strerror or exc}", file=str(out),
                                  key="out")]) from None
    warnings = [Problem(p.message, severity="warning", key=p.key)
                for p in [*result.skipped, *result.notes]]
    if as_json:
        print_json(audiences_document(result, out, paths))
    else:
        _print_audiences(result, out, quiet)
    if not quiet:
        print_problems(warnings)


def _print_audiences(result: Any, out: Path, quiet: bool) -> None:
    floor = "" if result.min_probability is None else f", probability >= {result.min_probability:g}"
    table = Table(title=f"audiences ({result.point.label}{floor}) in {out}", title_justify="left")
    for title in ("list", "customers", "precision", "recall", "lowest prob."):
        table.add_column(title, justify="left" if title == "list" else "right")
    for row in result.summary.to_dict("records"):
        expected = [f"{row[k]:.2f}" if row[k] == row[k] else "-"
                    for k in ("expected_precision", "expected_recall")]
        lowest = row["lowest_probability"]
        table.add_row(f"{row['target']}: {row['audience']}", f"{row['customers']:,}", *expected,
                      f"{lowest:.1%}" if lowest == lowest else "-")
    console.print(table)
    if quiet:
        return
    console.print("expected precision and recall: measured on each target's evaluation window "
                  "(summary.csv)", highlight=False)
    if result.point.precision is not None:
        console.print("a precision list is cumulative: its customers reach the precision "
                      "together, the likeliest above it, the last ones down to the lowest "
                      "probability shown (--min-probability sets a floor)", highlight=False)


def audiences_document(result: Any, out: Path, paths: list[Path]) -> dict[str, Any]:
    """The ``--json`` document of ``segml audiences`` (docs/cli.md): one entry per list."""
    import math

    def clean(value: Any) -> Any:
        value = value.item() if hasattr(value, "item") else value
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return {
        "command": "audiences",
        "operating_point": result.point.label,
        "min_probability": result.min_probability,
        "out": str(out),
        "files": [str(p) for p in paths],
        "lists": [{k: clean(v) for k, v in row.items()}
                  for row in result.summary.to_dict("records")],
        "skipped": [p.to_dict() for p in result.skipped],
        "warnings": [p.to_dict() for p in result.notes],
    }
