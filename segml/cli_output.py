"""What the command line shows while it works and when it is done (SPEC section 6).

* :class:`StageProgress` - the ``progress`` callback of :func:`segml.pipeline.train` (and
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
    ``steps`` keeps ``(message, seconds)``; :meth:`total` their sum.
    """

    def __init__(self, console: Console, enabled: bool = True, width: int = 44):
        self.console, self.enabled, self.width = console, enabled, width
        self.steps: list[tuple[str, float]] = []
        self._current: tuple[str, float] | None = None
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False),
                                  TimeElapsedColumn(), console=console, transient=True,
                                  disable=not (enabled and console.is_terminal))
        self._task: Any = None

    def __enter__(self) -> StageProgress:
        self._progress.start()
        return self

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

    def total(self) -> float:
        return sum(seconds for _, seconds in self.steps)

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        self._finish(failed=exc_type is not None)
        self._progress.stop()


# --------------------------------------------------------------------------------- logging
class ConsoleLogHandler(logging.Handler):
    """Log records printed by a rich console: above its live progress display, never through
    it (a plain stream handler writes into the middle of the spinner line)."""

    def __init__(self, console: Console, level: int = logging.NOTSET, verbose: bool = False):
        super().__init__(level)
        self.console, self.verbose = console, verbose
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
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
    ``quiet``: segml's warnings and the libraries' errors only. MLflow is told not to install
    its own stderr handler, so its records take the same way (and obey the same levels).
    """
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(ConsoleLogHandler(console, verbose=verbose))
    root.setLevel(level)
    logging.captureWarnings(True)
    libraries = logging.ERROR if quiet else max(level, logging.WARNING)
    for name in NOISY:
        logging.getLogger(name).setLevel(libraries)
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


def comparison_table(comparison: dict[str, Any], title: str) -> tuple[Table, str]:
    """Model vs baselines per target (headline metrics only) and its legend.

    Example
    -------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"roc_auc": [0.9, 0.8], "rows": [10, 10]},
    ...                      index=["model", "baseline_logreg"])
    >>> table, legend = comparison_table({"churn": frame}, "t")
    >>> table.columns[1].header, legend.splitlines()[0]
    ('scorer', 'logreg: logistic regression on the same features')
    """
    from segml.targets import target as target_of

    table = Table(title=title, title_justify="left", box=None, pad_edge=False,
                  header_style="bold")
    table.add_column("target", no_wrap=True)
    table.add_column("scorer", no_wrap=True)
    for title_ in HEADLINE:
        table.add_column(title_, justify="right", no_wrap=True)
    seen: list[str] = []
    regressors = cross_validated = False
    for target, frame in comparison.items():
        classifier = target_of(target).is_classifier
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


__all__ = ["ConsoleLogHandler", "StageProgress", "comparison_table", "configure_logging",
           "console", "print_result", "short_label"]
