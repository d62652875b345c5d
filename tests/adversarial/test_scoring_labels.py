"""Scoring reads no label column (issue 27; ``docs/cutoffs.md``, attributes mode): new customers of
an attributes-mode model (a customers table whose label is declared in ``data.customers.labels``)
are scored with or without the training config, whether their label column is absent, constant,
empty or of another dtype, and the scores equal those of the same customers with their labels.
Training and validation still require and check the label."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import segml
from segml.config import load_config
from segml.data.contract import validate_tables
from segml.tracking.store import using_tracking_uri

from .helpers import NAME, assert_handled, invoke

MODEL = f"models:/{NAME}@champion"
CONFIG = """\
seed: 1
data:
  mode: attributes
  customers:
    signup_date: null
    attributes: {technographic: [plan, tenure, charges]}
    pii: [email]
    labels: {churn: churned}
    positive_label: "Yes"
  transactions: null
  events: null
models:
  targets: [churn]
  n_estimators: 60
"""


def churn_table(n: int = 800, seed: int = 7) -> pd.DataFrame:
    """A churn export: plan and tenure drive the ``churned`` label (Yes/No)."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["monthly", "yearly", "two_year"], n)
    tenure = rng.uniform(0, 72, n).round(1)
    logit = np.where(plan == "monthly", 1.0, -1.5) + np.where(tenure < 12, 1.0, -0.5)
    return pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "plan": plan,
        "tenure": tenure,
        "charges": rng.uniform(20, 120, n).round(2),
        "churned": np.where(rng.random(n) < expit(logit), "Yes", "No"),
        "email": [f"c{i}@example.com" for i in range(n)],
    })


def write_folder(folder: Path, customers: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    customers.to_csv(folder / "customers.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def churn_model(tmp_path_factory) -> dict:
    """An attributes-mode model trained once through the CLI, in a store of its own, and the
    scores of its training customers (labels present, training config): the reference."""
    root = tmp_path_factory.mktemp("attributes-model")
    config = root / "churn.yaml"
    config.write_text(CONFIG)
    customers = churn_table()
    data = write_folder(root / "train", customers)
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db"}
    result = invoke("train", "--config", config, "--data", data, "--quiet", env=env)
    assert result.exit_code == 0, result.output
    out = root / "reference.parquet"
    result = invoke("score", "--model", MODEL, "--config", config, "--data", data, "--out", out,
                    env=env)
    assert result.exit_code == 0, result.output
    reference = pd.read_parquet(out)
    assert reference["churn_probability"].notna().all() and len(reference) == len(customers)
    return {"root": root, "config": config, "env": env, "customers": customers,
            "reference": reference}


LABELS = [
    pytest.param(None, id="f0-label-absent"),
    pytest.param(0, id="f0-label-constant-0"),
    pytest.param("Yes", id="f0-label-constant-positive"),
    pytest.param(np.nan, id="f0-label-all-null"),
    pytest.param("2024-01-31", id="f0-label-wrong-dtype-date"),
    pytest.param(2.5, id="f0-label-wrong-dtype-float"),
]


@pytest.mark.parametrize("with_config", [True, False], ids=["config", "no-config"])
@pytest.mark.parametrize("label", LABELS)
def test_score_reads_no_label_column(churn_model, tmp_path, label, with_config):
    customers = churn_model["customers"].drop(columns="email")  # nor the PII the config declares
    if label is None:
        customers = customers.drop(columns="churned")
    else:
        customers["churned"] = label
    data = write_folder(tmp_path / "new", customers)
    config = ["--config", churn_model["config"]] if with_config else []
    out = tmp_path / "scores.parquet"
    result = invoke("score", "--model", MODEL, *config, "--data", data, "--out", out,
                    env=churn_model["env"])
    output = assert_handled(result, 0)
    assert "churned" not in output and "error" not in output and "warning" not in output, output
    pd.testing.assert_frame_equal(pd.read_parquet(out), churn_model["reference"])


def test_audiences_read_no_label_column(churn_model, tmp_path):
    def lists(customers: pd.DataFrame, name: str) -> pd.DataFrame:
        data = write_folder(tmp_path / name, customers)
        result = invoke("audiences", "--model", MODEL, "--data", data, "--out",
                        tmp_path / f"{name}-lists", "--top", "10%", env=churn_model["env"])
        assert_handled(result, 0)
        return pd.read_parquet(tmp_path / f"{name}-lists" / "churn.parquet")

    labelled = lists(churn_model["customers"], "labelled")
    unlabelled = lists(churn_model["customers"].drop(columns="churned"), "unlabelled")
    assert len(unlabelled) == 80
    pd.testing.assert_frame_equal(unlabelled, labelled)


def test_python_score_and_served_model_read_no_label(churn_model, tmp_path):
    uri = churn_model["env"]["MLFLOW_TRACKING_URI"]
    data = write_folder(tmp_path / "new", churn_model["customers"].assign(churned=np.nan))
    config = load_config(churn_model["config"], tracking={"tracking_uri": uri})
    config.data.dir = str(data)
    scores = segml.score(MODEL, config=config)
    pd.testing.assert_frame_equal(scores.reset_index(drop=True), churn_model["reference"],
                                  check_dtype=False)
    # the served model: a request carrying a label column answers as one without it
    with using_tracking_uri(uri):
        model = mlflow.pyfunc.load_model(MODEL)
    rows = churn_model["customers"].drop(columns="churned").head(5)
    served = model.predict(rows)
    pd.testing.assert_frame_equal(model.predict(rows.assign(churned=[None, 1, "x", 0.5, None])),
                                  served)
    assert served["churn_probability"].tolist() == pytest.approx(
        churn_model["reference"]["churn_probability"].head(5).tolist())


@pytest.mark.parametrize(("change", "culprit"), [
    pytest.param(lambda c: c.drop(columns="churned"),
                 "declared label column 'churned' (churn) does not exist", id="f0-train-label-absent"),
    pytest.param(lambda c: c.assign(churned="No"), "constant", id="f0-train-label-constant"),
])
@pytest.mark.parametrize("command", ["train", "validate"])
def test_training_still_requires_the_label(churn_model, tmp_path, change, culprit, command):
    data = write_folder(tmp_path / "new", change(churn_model["customers"]))
    result = invoke(command, "--config", churn_model["config"], "--data", data,
                    env=churn_model["env"])
    assert_handled(result, 1, culprit)


def test_validation_for_scoring_reads_the_models_attributes_and_no_label():
    customers = churn_table(60)
    config = load_config(None, data={"mode": "attributes", "transactions": None, "events": None,
                                     "customers": {"labels": {"churn": "churned"}, "pii": [],
                                                   "positive_label": "Yes"}})
    model = {"technographic": ["plan", "tenure"]}
    tables, problems = validate_tables(config, customers.assign(churned=None), purpose="score",
                                       attributes=model)
    assert problems == [] and tables is not None
    assert list(tables.customers.columns) == ["customer_id", "plan", "tenure"]
    assert tables.label_columns == {} and tables.attribute_roles == model
    # an attribute the model needs is an error naming it; labels still matter when training
    _, problems = validate_tables(config, customers.drop(columns="tenure"), purpose="score",
                                  attributes=model)
    assert [(p.column, p.message) for p in problems] == [
        ("tenure", "technographic attribute 'tenure' used by the model does not exist")]
    _, problems = validate_tables(config, customers.assign(churned=None))
    assert any("constant" in p.message for p in problems if p.severity == "error")
