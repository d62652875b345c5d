"""What the command line shows while it works and when it is done (docs/cli.md).

* :class:`StageProgress` - the ``progress`` callback of :func:`segml.workflow.train.train` (and
  retrain, demo): each step gets a spinner with its elapsed time on stderr, and a line with its
  duration once it is done, so a 5-minute training shows where the time goes.
* :func:`configure_logging` - log records (segml's, MLflow's, Python warnings) printed through the
  same stderr console, above the live progress instead of through it; ``--quiet`` keeps only
  errors of the libraries and segml's own warnings.
* :func:`comparison_table` - model vs baselines with short scorer labels and a legend, readable
  at 80 columns; :func:`print_result` prints it with the top-level segments on :data:`console`
  (stdout, where the commands print their results).

Only the command line prints: library code reports through ``progress`` callbacks and logging.

Example
-------
>>> import io
>>> from rich.console import Console
>>> out = Console(file=io.StringIO(), width=80)
>>> with StageProgress(out) as step:
...     step("loading")
>>> "loading" in out.file.getvalue()
True
>>> short_label("baseline_past_spend")
'past spend'
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

#: Scorer labels in the summary table, and what each means (printed as its legend).
LABELS = {
    "model": ("model", "the registered model"),
    "baseline_recency": ("recency", "RFM heuristic (recency, frequency, monetary percentiles)"),
    "baseline_logreg": ("logreg", "logistic regression on the same features"),
    "baseline_bgnbd": ("BG/NBD", "probabilistic buy-till-you-die model"),
    "baseline_past_spend": ("past spend", "spend of the last 365 days"),
}
NOISY = ("mlflow", "alembic", "sqlalchemy", "huey", "urllib3", "matplotlib", "numba", "shap",
         "lightgbm", "py.warnings", "segml.tracking")
#: The loggers MLflow gives a stderr handler of its own when it configures logging on import.
MLFLOW_OWNED = ("mlflow", "sqlalchemy.engine", "alembic", "huey")
#: Where the commands print their results (stdout; problems and progress go to stderr). No
#: markup: printed text holds user text (paths, values, names) that must appear as it is, so
#: ``[bold]`` or ``[/x]`` in a path is shown, not interpreted (nor a crash); styles are given
#: with ``style=`` or :class:`rich.text.Text`.
console = Console(markup=False)


# -------------------------------------------------------------------------------- progress
class StageProgress:
    """A ``progress(message)`` callback: every message starts a step and ends the previous one.

    A finished step prints one line with its duration; the running one shows a spinner and its
    elapsed time (only on a terminal: in a log file the finished lines are all there is).
    ``steps`` keeps ``(message, seconds)``; :meth:`total` their sum. segml's own INFO log
    records (which candidate won, how many customers were generated) arrive while a step runs:
    :meth:`note` keeps them, and they are printed indented under the step's line, so the step
    lines stay a clean list and each detail sits under the step it belongs to.
    """

    #: The progress display running now (at most one): where :class:`ConsoleLogHandler` sends
    #: segml's INFO records.
    active: StageProgress | None = None

    def __init__(self, console: Console, enabled: bool = True, width: int = 44):
        self.console, self.enabled, self.width = console, enabled, width
        self.steps: list[tuple[str, float]] = []
        self._notes: list[str] = []
        self._current: tuple[str, float] | None = None
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False),
                                  TimeElapsedColumn(), console=console, transient=True,
                                  disable=not (enabled and console.is_terminal))
        self._task: Any = None

    def __enter__(self) -> StageProgress:
        self._progress.start()
        StageProgress.active = self
        return self

    def note(self, text: str) -> None:
        """A detail of the running step, printed under its line once it is done."""
        if self._current is None:
            self._print_note(text)
        else:
            self._notes.append(text)

    def _print_note(self, text: str) -> None:
        if self.enabled:
            self.console.print(f"    {text}", style="dim", markup=False, highlight=False,
                               soft_wrap=True)

    def __call__(self, message: str) -> None:
        self._finish()
        self._current = (message, time.perf_counter())
        if self._task is None:
            self._task = self._progress.add_task(message, total=None)
        else:
            self._progress.reset(self._task, description=message)

    def _finish(self, failed: bool = False) -> None:
        if self._current is None:
            return
        message, start = self._current
        seconds = time.perf_counter() - start
        self.steps.append((message, seconds))
        self._current = None
        if self.enabled:
            mark = ("x", "red") if failed else ("✓", "green")
            line = Text.assemble(mark, f" {message:<{self.width}} {seconds:7.1f} s")
            self.console.print(line, highlight=False)
        notes, self._notes = self._notes, []
        for text in notes:
            self._print_note(text)

    def total(self) -> float:
        return sum(seconds for _, seconds in self.steps)

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        self._finish(failed=exc_type is not None)
        self._progress.stop()
        if StageProgress.active is self:
            StageProgress.active = None


# --------------------------------------------------------------------------------- logging
class ConsoleLogHandler(logging.Handler):
    """Log records printed by a rich console: above its live progress display, never through
    it (a plain stream handler writes into the middle of the spinner line).

    segml's own INFO records are progress details, not log lines: during a
    :class:`StageProgress` they go under the running step (:meth:`StageProgress.note`), else
    they print as an indented note; warnings and errors keep their level and logger name.
    """

    def __init__(self, console: Console, level: int = logging.NOTSET, verbose: bool = False):
        super().__init__(level)
        self.console, self.verbose = console, verbose
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.levelno == logging.INFO and record.name.startswith("segml"):
                progress = StageProgress.active
                if progress is not None and progress.console is self.console:
                    progress.note(record.getMessage())
                else:
                    self.console.print(f"    {record.getMessage()}", style="dim", markup=False,
                                       highlight=False, soft_wrap=True)
                return
            text = self.format(record) if self.verbose else self._one_line(record)
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)

    @staticmethod
    def _one_line(record: logging.LogRecord) -> str:
        """A record as one line: the first line of its message and of its exception, never a
        traceback nor the SQL and parameters MLflow's store appends (``--verbose`` shows all)."""
        lines = record.getMessage().strip().splitlines()
        text = f"{record.levelname} {record.name}: {lines[0] if lines else ''}"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            detail = str(exc).strip().splitlines()
            text += f" ({type(exc).__name__}{': ' + detail[0] if detail else ''})"
        return text[:500]


def configure_logging(console: Console, quiet: bool = False, verbose: bool = False) -> None:
    """Route every log record (Python warnings included) through ``console``.

    Default: segml's progress notes (INFO) and the libraries' warnings; ``verbose``: debug;
    ``quiet``: errors only (the results and errors, nothing else: no warning, no library log).
    MLflow is told not to install its own stderr handler, so its records take the same way (and
    obey the same levels); its progress bars and notes are silenced by :mod:`segml.tracking`.
    """
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(ConsoleLogHandler(console, verbose=verbose))
    root.setLevel(level)
    logging.captureWarnings(True)
    libraries = logging.ERROR if quiet else max(level, logging.WARNING)
    for name in NOISY:
        logging.getLogger(name).setLevel(libraries)
    children = tuple(f"{name}." for name in NOISY)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        # a library's logger with a level of its own (segml.tracking quiets MLflow's notes to
        # WARNING) obeys this command's level: its warnings show unless --quiet
        if (name.startswith(children) and isinstance(logger, logging.Logger)
                and logger.level != logging.NOTSET):
            logger.setLevel(max(libraries, logging.WARNING))
    if "mlflow" in sys.modules:  # MLflow was imported first and configured its loggers: undone
        for name in MLFLOW_OWNED:
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.propagate = True
            if name == "sqlalchemy.engine":
                logger.setLevel(libraries)


# ---------------------------------------------------------------------------- the summary
def short_label(scorer: str) -> str:
    """The summary table's label of a scorer (``baseline_logreg`` -> ``logreg``)."""
    return LABELS.get(scorer, (scorer.removeprefix("baseline_").replace("_", " "), ""))[0]


HEADLINE = {  # column title -> (classifier metric, regressor metric)
    "ROC AUC*": ("roc_auc", "spearman"),
    "PR AUC*": ("pr_auc", "gini"),
    "lift@10%": ("lift_at_10", None),
    "ECE": ("ece", None),
    "rows": ("rows", "rows"),
}


def _cell(row: Any, metric: str | None) -> str:
    value = row.get(metric) if metric else None
    if value is None or (isinstance(value, float) and value != value):
        return "skipped" if metric and str(row.get("note", "")) else "-"
    return f"{int(value):,}" if metric == "rows" else f"{float(value):.3f}"


def comparison_table(comparison: dict[str, Any], title: str,
                     targets: dict[str, Any] | None = None) -> tuple[Table, str]:
    """Model vs baselines per target (headline metrics only) and its legend (``targets``: the
    run's targets by name, its scorer's; None: the built-in ones).

    Example
    -------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"roc_auc": [0.9, 0.8], "rows": [10, 10]},
    ...                      index=["model", "baseline_logreg"])
    >>> table, legend = comparison_table({"churn": frame}, "t")
    >>> table.columns[1].header, legend.splitlines()[0]
    ('scorer', 'logreg: logistic regression on the same features')
    """
    from segml.targets import TARGETS

    registry = TARGETS if targets is None else targets
    table = Table(title=title, title_justify="left", box=None, pad_edge=False,
                  header_style="bold")
    table.add_column("target", no_wrap=True)
    table.add_column("scorer", no_wrap=True)
    for title_ in HEADLINE:
        table.add_column(title_, justify="right", no_wrap=True)
    seen: list[str] = []
    regressors = cross_validated = False
    for target, frame in comparison.items():
        classifier = registry[target].is_classifier
        regressors = regressors or not classifier
        cross_validated = cross_validated or any(str(c).endswith("_std") for c in frame.columns)
        for i, (scorer, row) in enumerate(frame.iterrows()):
            cells = [_cell(row, c if classifier else r) for c, r in HEADLINE.values()]
            if str(scorer) != "model" and str(scorer) not in seen:
                seen.append(str(scorer))
            table.add_row(target if i == 0 else "", short_label(str(scorer)), *cells,
                          style="bold" if scorer == "model" else None,
                          end_section=i == len(frame) - 1)
    legend = [f"{short_label(s)}: {LABELS[s][1]}" for s in seen if s in LABELS]
    if regressors:
        legend.append("* spend: Spearman and normalised Gini")
    legend.append("all scorers on the same " + ("cross-validation folds" if cross_validated
                                                else "out-of-time rows"))
    return table, "\n".join(legend)


def print_result(result: Any) -> None:
    """Model vs baselines per target, the headline metrics only (the rest is in MLflow);
    short scorer labels and a legend keep it whole at 80 columns."""
    scorer = getattr(result, "scorer", None)
    table, legend = comparison_table(result.comparison, f"model vs baselines (run {result.run_id})",
                                     scorer.targets() if scorer is not None else None)
    console.print(table)
    console.print(legend, style="dim", highlight=False)
    segmentation = result.segmentation
    if segmentation is not None:
        names = segmentation.hierarchy.names_.get(1, {})
        sizes = segmentation.sizes("segment_level_1")
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


def registration_lines(result: Any, serve_port: int = 5001) -> list[str]:
    """What a training registered and how to serve it, true after any number of runs.

    The first version of a model becomes ``@champion``; later ones ``@challenger``, and then
    ``@champion`` still serves the version before: the serve command names the version this
    run registered and a line says which version the champion is.

    Example
    -------
    >>> from types import SimpleNamespace
    >>> second = SimpleNamespace(model_uri="models:/segml-demo/2", model_version="2",
    ...                          alias="challenger", champion_version="1")
    >>> for line in registration_lines(second):
    ...     print(line)
    registered models:/segml-demo/2 as @challenger
    @champion is still version 1; to make this one the champion: segml promote --name segml-demo --version 2
    serve this version: mlflow models serve -m models:/segml-demo/2 --env-manager local -p 5001
    """
    uri, alias = result.model_uri, result.alias
    name = str(uri).removeprefix("models:/").rsplit("/", 1)[0]
    lines = [f"registered {uri} as @{alias}" if alias else f"registered {uri} (no alias)"]
    serve = "mlflow models serve -m {} --env-manager local -p " + str(serve_port)
    if alias == "champion":
        lines.append("serve it: " + serve.format(f"models:/{name}@champion"))
        return lines
    champion = getattr(result, "champion_version", None)
    promote = f"segml promote --name {name} --version {result.model_version}"
    lines.append(f"@champion is still version {champion}; to make this one the champion: {promote}"
                 if champion else f"the model has no @champion yet: {promote}")
    lines.append("serve this version: " + serve.format(uri))
    return lines


def train_document(result: Any, command: str, report: str | None = None,
                   seconds: float | None = None) -> dict[str, Any]:
    """The ``--json`` document of ``segml train`` and ``segml demo`` (docs/cli.md)."""
    import math

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if hasattr(value, "item"):  # numpy scalars
            return clean(value.item())
        return value

    comparison = {
        target: [{"scorer": str(scorer), **{str(k): clean(v) for k, v in row.items()
                                            if str(k) != "note"}}
                 for scorer, row in frame.iterrows()]
        for target, frame in (result.comparison or {}).items()}
    segments = []
    if result.segmentation is not None:
        names = result.segmentation.hierarchy.names_.get(1, {})
        sizes = result.segmentation.sizes("segment_level_1")
        segments = [{"segment": str(seg), "customers": int(n), "name": names.get(str(seg), "")}
                    for seg, n in sizes.items()]
    cutoff = getattr(result, "cutoff", None)
    return {
        "command": command,
        "run_id": result.run_id,
        "run_name": getattr(result, "run_name", None),
        "model_uri": result.model_uri,
        "model_version": result.model_version,
        "alias": result.alias,
        "champion_version": getattr(result, "champion_version", None),
        "report": None if report is None else str(report),
        "cutoff": None if cutoff is None else str(getattr(cutoff, "date", lambda: cutoff)()),
        "fit_cutoffs": dict(getattr(result, "fit_cutoffs", None) or {}),
        "comparison": comparison,
        "segments": segments,
        "warnings": list(dict.fromkeys(str(w) for w in result.warnings or [])),
        "seconds": None if seconds is None else round(seconds, 1),
    }


def print_json(document: Any) -> None:
    """One JSON document on stdout, nothing else (no markup, no wrapping)."""
    import json

    console.file.write(json.dumps(document, indent=2, default=str) + "\n")
    console.file.flush()


__all__ = ["ConsoleLogHandler", "StageProgress", "comparison_table", "configure_logging",
           "console", "print_json", "print_result", "registration_lines", "short_label",
           "train_document"]
