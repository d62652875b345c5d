"""What the command line shows (issue 20): progress per step with times, a summary table intact
at 80 columns, --quiet and --version."""

from __future__ import annotations

import io
import logging
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

import segml
from segml.cli import main as cli
from segml.cli import output as cli_output
from segml.cli.output import StageProgress, comparison_table, configure_logging

runner = CliRunner()
METRICS = ["roc_auc", "pr_auc", "lift_at_10", "ece"]


def _comparison() -> dict[str, pd.DataFrame]:
    """The four targets of a default run, with every baseline each of them has."""
    rng = np.random.default_rng(0)

    def frame(scorers, metrics):
        values = rng.uniform(0.5, 0.99, (len(scorers), len(metrics)))
        table = pd.DataFrame(values, index=scorers, columns=metrics)
        table["rows"], table["note"] = 123_456, ""
        return table

    classifiers = ["model", "baseline_recency", "baseline_logreg", "baseline_bgnbd"]
    return {"churn": frame(classifiers, METRICS), "purchase": frame(classifiers, METRICS),
            "high_clv": frame([*classifiers[:3], "baseline_past_spend"], METRICS),
            "spend": frame(["model", "baseline_past_spend"], ["spearman", "gini"])}


def _printed(width: int, monkeypatch) -> str:
    out = Console(file=io.StringIO(), width=width, force_terminal=False)
    monkeypatch.setattr(cli_output, "console", out)
    names = {1: {"1": "Mid-value regular buyers, sports, low nps score", "2": "Lapsed one-timers"}}
    result = SimpleNamespace(
        run_id="f" * 32, comparison=_comparison(), fit_cutoffs={"churn": "2025-10-01"},
        segmentation=SimpleNamespace(
            hierarchy=SimpleNamespace(names_=names),
            sizes=lambda column: pd.Series({"1": 1, "2": 1}, name=column)))
    cli_output.print_result(result)
    return out.file.getvalue()


@pytest.mark.parametrize("width", [80, 100])
def test_the_summary_is_whole_at_80_columns(width, monkeypatch):
    text = _printed(width, monkeypatch)
    assert "…" not in text and "..." not in text
    assert max(len(line) for line in text.splitlines()) <= width
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("target"))
    assert header.split() == ["target", "scorer", "ROC", "AUC*", "PR", "AUC*", "lift@10%", "ECE",
                              "rows"]
    for label in ("recency", "logreg", "BG/NBD", "past spend"):  # each short label is explained
        assert any(re.search(rf"\s{re.escape(label)}\s+0\.\d{{3}}", line) for line in lines), label
        assert any(line.startswith(f"{label}: ") for line in lines), label
    assert "123,456" in text and "Mid-value regular buyers, sports, low nps score" in text


def test_the_old_long_labels_are_gone(monkeypatch):
    text = _printed(80, monkeypatch)
    assert "baseline_" not in text


def test_a_cross_validated_comparison_says_so():
    frame = pd.DataFrame({"roc_auc": [0.85, 0.84], "roc_auc_std": [0.01, 0.01], "rows": [7043] * 2},
                         index=["model", "baseline_logreg"])
    _, legend = comparison_table({"churn": frame}, "t")
    assert legend.splitlines()[-1] == "all scorers on the same cross-validation folds"


def test_stage_progress_prints_each_step_with_its_time():
    out = Console(file=io.StringIO(), width=80)
    with pytest.raises(RuntimeError), StageProgress(out) as progress:
        progress("loading")
        progress("training churn")
        raise RuntimeError("boom")
    lines = out.file.getvalue().splitlines()
    assert [re.sub(r"\s+", " ", line).strip() for line in lines] == [
        f"✓ loading {progress.steps[0][1]:.1f} s", f"x training churn {progress.steps[1][1]:.1f} s"]
    assert [name for name, _ in progress.steps] == ["loading", "training churn"]


def test_a_disabled_progress_prints_nothing_but_keeps_the_times():
    out = Console(file=io.StringIO(), width=80)
    with StageProgress(out, enabled=False) as progress:
        progress("loading")
    assert out.file.getvalue() == "" and progress.steps[0][0] == "loading"


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    names = ("mlflow", "alembic", "sqlalchemy.engine", "huey", "segml")
    saved = (list(root.handlers), root.level,
             {n: (logging.getLogger(n).level, list(logging.getLogger(n).handlers),
                  logging.getLogger(n).propagate) for n in names})
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, (level, handlers, propagate) in saved[2].items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate
    logging.captureWarnings(False)


@pytest.mark.parametrize("quiet", [False, True])
def test_quiet_silences_the_libraries_logs(quiet, restore_logging):
    from mlflow.utils.logging_utils import _configure_mlflow_loggers

    _configure_mlflow_loggers("mlflow")  # what importing MLflow first does: handlers of its own
    out = Console(file=io.StringIO(), width=200)
    configure_logging(out, quiet=quiet)
    logging.getLogger("mlflow.store.db.utils").info("Creating initial MLflow database tables...")
    logging.getLogger("alembic.runtime.migration").warning("Context impl SQLiteImpl.")
    logging.getLogger("mlflow.models").error("a real MLflow error")
    logging.getLogger("segml.predict.models").info("churn: winner lgbm")
    logging.getLogger("segml.workflow.train").warning("a segml warning")
    text = out.file.getvalue()
    assert "Creating initial" not in text  # MLflow's chatter never shows
    assert ("Context impl" in text) is (not quiet)
    assert ("winner lgbm" in text) is (not quiet)
    assert "a real MLflow error" in text  # errors always show
    assert ("a segml warning" in text) is (not quiet)  # --quiet: results and errors only


def test_version_prints_the_package_version():
    result = runner.invoke(cli.app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"segml {segml.__version__}"
