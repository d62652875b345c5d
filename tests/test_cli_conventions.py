"""The command line's conventions (issue 32): flags without a value placeholder, an example in
every --help, --json documents of the shapes docs/cli.md describes, --quiet printing results and
errors only, honest hints after a second training, step notes under their step."""

from __future__ import annotations

import io
import json
import logging
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from segml.cli import main as cli
from segml.cli import output as cli_output
from segml.cli.main import app
from segml.cli.output import StageProgress, registration_lines
from segml.config import OperatingPoint
from segml.data.synthetic.datasets import make_customers
from segml.predict.operating import operating_curve, with_registered_scores
from segml.workflow.targeting import build_audiences

runner = CliRunner()
COMMANDS = [c.__name__ for c in cli.COMMANDS]


def _help(command: str) -> str:
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_has_an_example_and_no_python_type_syntax(command):
    text = _help(command)
    assert "Example" in text, command
    assert "<bool>" not in text and "list[str]" not in text, command


def test_boolean_flags_take_no_value_and_have_a_negative_form():
    text = _help("audiences")
    assert re.search(r"--quiet\s+-q\s+--no-quiet", text)
    assert re.search(r"--target\s+-t\s+TARGET", text)
    assert "--min-probability" in text
    result = runner.invoke(app, ["validate", "--data", ".", "--quiet", "true"])
    assert result.exit_code == 2  # "true" is not a value of --quiet: an extra argument


@pytest.mark.parametrize("command", ["train", "demo"])
def test_train_and_demo_help_do_not_promise_the_champion(command):
    text = " ".join(_help(command).split())
    assert "registered as champion" not in text and "registered champion" not in text
    assert "@challenger" in text


# ----------------------------------------------------------------------------- the hints
def _trained(version: str, alias: str, champion: str | None) -> SimpleNamespace:
    return SimpleNamespace(model_uri=f"models:/segml-demo/{version}", model_version=version,
                           alias=alias, champion_version=champion)


def test_hints_after_a_second_training_serve_the_new_version_and_name_the_champion():
    first = registration_lines(_trained("1", "champion", "1"))
    assert first == ["registered models:/segml-demo/1 as @champion",
                     "serve it: mlflow models serve -m models:/segml-demo@champion "
                     "--env-manager local -p 5001"]
    second = registration_lines(_trained("2", "challenger", "1"))
    assert second[0] == "registered models:/segml-demo/2 as @challenger"
    assert "@champion is still version 1" in second[1]
    assert "segml promote --name segml-demo --version 2" in second[1]
    assert second[2].endswith("-m models:/segml-demo/2 --env-manager local -p 5001")
    assert not any("@champion --env" in line for line in second)  # never serves v1 as "it"


# -------------------------------------------------------------------------------- --json
def _fake_result(**overrides):
    comparison = {"churn": pd.DataFrame({"roc_auc": [0.88, np.nan], "rows": [1124, 1124],
                                         "note": ["", ""]}, index=["model", "baseline_logreg"])}
    names = {1: {"1": "Mostly lapsed mid-value customers", "2": "High-value regular buyers"}}
    values = dict(
        run_id="r" * 32, run_name="train data", model_uri="models:/segml-customer/3",
        model_version="3", alias="challenger", champion_version="2",
        cutoff=pd.Timestamp("2025-12-30"), comparison=comparison,
        segmentation=SimpleNamespace(  # top-level sizes over every customer: 2 and 1
            hierarchy=SimpleNamespace(names_=names),
            sizes=lambda column: pd.Series({"1": 2, "2": 1}, name=column)),
        fit_cutoffs={"churn": "2025-10-01"}, warnings=[], report="/tmp/report.html", skipped=[])
    values.update(overrides)
    return SimpleNamespace(**values)


def test_train_json_is_one_document_of_the_documented_shape(tmp_path, monkeypatch):
    import segml.workflow.train

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    seen = {}

    def fake_train(cfg, run_name=None, progress=None):
        seen["run_name"] = run_name
        progress("training churn")
        logging.getLogger("segml.predict.models").info("churn: winner lgbm")
        return _fake_result()

    monkeypatch.setattr(segml.workflow.train, "train", fake_train)
    (tmp_path / "shop").mkdir()
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "shop"), "--cutoff",
                                 "2025-06-30", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # stdout holds the JSON and nothing else
    assert set(document) == {"command", "run_id", "run_name", "model_uri", "model_version",
                             "alias", "champion_version", "report", "cutoff", "fit_cutoffs",
                             "comparison", "segments", "warnings", "seconds"}
    assert document["command"] == "train" and document["alias"] == "challenger"
    assert document["champion_version"] == "2" and document["cutoff"] == "2025-12-30"
    churn = document["comparison"]["churn"]
    assert churn[0] == {"scorer": "model", "roc_auc": 0.88, "rows": 1124}
    assert churn[1]["roc_auc"] is None  # NaN is not JSON: null
    assert document["segments"] == [
        {"segment": "1", "customers": 2, "name": "Mostly lapsed mid-value customers"},
        {"segment": "2", "customers": 1, "name": "High-value regular buyers"}]
    assert seen["run_name"] == "train shop (cutoff 2025-06-30)"  # a run name that says what


def _audiences():
    rng = np.random.default_rng(3)
    n = 2000
    scored = pd.DataFrame({"customer_id": [f"C{i}" for i in range(n)],
                           "segment_path": ["1.1"] * n, "churn_probability": rng.random(n)})
    score = rng.random(4000)
    curve = operating_curve((rng.random(4000) < score).astype(float), score, min_size=50)
    curves = {"churn": with_registered_scores(curve, scored["churn_probability"])}
    return scored, curves


@pytest.mark.parametrize("floor", [None, 0.4])
def test_audiences_json_and_the_cumulative_warning(tmp_path, monkeypatch, floor):
    import segml.scoring.audiences

    scored, curves = _audiences()

    def fake_build(model, *, config, cutoff, top, precision, threshold, targets,
                   min_probability):
        return build_audiences(scored, curves, OperatingPoint(precision=precision),
                               targets, min_probability)

    monkeypatch.setattr(segml.scoring.audiences, "audiences", fake_build)
    args = ["audiences", "--model", "models:/m@champion", "--data", str(tmp_path), "--out",
            str(tmp_path / "lists"), "--precision", "0.6", "--format", "csv"]
    args += [] if floor is None else ["--min-probability", str(floor)]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"command", "operating_point", "min_probability", "out", "files",
                             "lists", "skipped", "warnings"}
    assert document["operating_point"] == "precision >= 0.60"
    assert document["min_probability"] == floor
    (row,) = document["lists"]
    assert {"target", "customers", "expected_precision", "lowest_probability",
            "min_probability"} <= set(row)
    assert any(f.endswith("churn.csv") for f in document["files"])
    if floor is None:  # the list reaches customers far below 0.6: the warning says so
        assert row["lowest_probability"] < 0.3
        assert document["warnings"][0]["severity"] == "warning"
        assert "cumulative" in document["warnings"][0]["message"]
    else:
        assert row["lowest_probability"] >= floor and document["warnings"] == []
    text = runner.invoke(app, args)
    assert "lowest prob." in text.stdout and "cumulative" in text.stdout
    assert ("--min-probability sets a floor" in text.stderr) is (floor is None)
    quiet = runner.invoke(app, [*args, "--quiet"])
    assert quiet.stderr == ""  # --quiet: the results, no warnings


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("shop")
    make_customers(300, seed=3).write(out, format="csv")
    return out


def test_validate_json_valid_and_invalid(data_dir, tmp_path):
    ok = runner.invoke(app, ["validate", "--data", str(data_dir), "--json"])
    assert ok.exit_code == 0, ok.output
    document = json.loads(ok.stdout)
    assert document["valid"] is True and document["mode"] == "behavioural"
    assert document["rows"]["customers"] == 300 and document["errors"] == 0
    broken = tmp_path / "export"
    broken.mkdir()
    for name in ("customers.csv", "events.csv"):
        (broken / name).write_bytes((data_dir / name).read_bytes())
    orders = pd.read_csv(data_dir / "transactions.csv").rename(columns={"timestamp": "order_date"})
    orders.to_csv(broken / "transactions.csv", index=False)
    bad = runner.invoke(app, ["validate", "--data", str(broken), "--json"])
    assert bad.exit_code == 1
    document = json.loads(bad.stdout)
    assert document["valid"] is False and document["errors"] == 1
    (problem,) = document["problems"]
    assert set(problem) == {"message", "severity", "file", "table", "column", "key"}
    assert problem["column"] == "timestamp" and "order_date" in problem["message"]
    assert "data.transactions.timestamp" in problem["message"]


def test_an_unrecognised_transactions_file_name_lists_the_names_looked_for(data_dir, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "customers.csv").write_bytes((data_dir / "customers.csv").read_bytes())
    (folder / "orders.csv").write_bytes((data_dir / "transactions.csv").read_bytes())
    result = runner.invoke(app, ["validate", "--data", str(folder)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    text = " ".join(result.output.split())
    assert "transactions.parquet, transactions.pq, transactions.csv or transactions.csv.gz" in text
    assert "orders.csv" in text and "data.transactions.path" in text


# --------------------------------------------------------------------------- progress
def test_segml_notes_print_under_their_step_not_as_log_lines():
    out = Console(file=io.StringIO(), width=200)
    handler = cli_output.ConsoleLogHandler(out)
    logger = logging.getLogger("segml.test_progress_notes")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        with StageProgress(out) as progress:
            progress("training churn")
            logger.info("churn: ROC AUC on held-out rows: lgbm 0.85; winner lgbm: the best")
            logger.warning("something odd")
            progress("training purchase")
    finally:
        logger.removeHandler(handler)
    lines = out.file.getvalue().splitlines()
    assert lines[0] == "WARNING segml.test_progress_notes: something odd"
    assert lines[1].startswith("✓ training churn")
    assert lines[2] == "    churn: ROC AUC on held-out rows: lgbm 0.85; winner lgbm: the best"
    assert lines[3].startswith("✓ training purchase")
    assert not any(line.startswith("INFO") for line in lines)


def test_the_fit_note_names_the_metric_and_explains_a_one_se_winner():
    from segml.predict.training import fit_note

    scores = {"lgbm": 0.8962, "lgbm_shallow": 0.8950, "logreg": 0.85}
    fitted = {"candidate_scores": scores, "winner": "lgbm_shallow", "best_iteration": 156,
              "validation": "latest training cutoff (2024-12-30)"}
    note = fit_note("high_clv", 1169, scores, True, **fitted)
    assert note.startswith("high_clv: ROC AUC on held-out rows, latest training cutoff 2024-12-30")
    assert "winner lgbm_shallow: within 1 s.e. of the best (lgbm), simpler" in note
    fitted["winner"] = "lgbm"
    assert "winner lgbm: the best" in fit_note("high_clv", 1169, scores, True, **fitted)
    refit = fit_note("high_clv", 2995, {}, False, **fitted)
    assert refit == "high_clv: refit on latest windows: lgbm, 2,995 rows, 156 rounds"
    assert "winner" not in refit  # no second winner line for the refit


def test_importing_segml_tracking_silences_mlflow_progress_bars_and_notes(monkeypatch):
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

    import segml.tracking as tracking

    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    parent, logger = logging.getLogger("mlflow"), logging.getLogger("mlflow.pyfunc")
    saved = parent.level, logger.level
    try:
        parent.setLevel(logging.INFO)  # what importing MLflow sets
        logger.setLevel(logging.NOTSET)
        tracking.quiet_mlflow()
        assert MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.get() is False
        assert not logger.isEnabledFor(logging.INFO)  # "Validating input example ..." is INFO
        assert logger.isEnabledFor(logging.WARNING)
    finally:
        parent.setLevel(saved[0])
        logger.setLevel(saved[1])
