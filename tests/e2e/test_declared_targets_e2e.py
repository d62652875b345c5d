"""Declared targets end to end (docs/targets.md): trained beside the built-in ones, logged
(metrics, fit cutoffs), registered, and scored by the batch scorer, the served model in a fresh
process (which knows the targets only from the model) and ``segml audiences``."""

from __future__ import annotations

import json
import subprocess
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from segml.cli.main import app
from segml.data.synthetic.datasets import make_customers, synthetic_config
from segml.workflow.train import score, train

pytestmark = pytest.mark.slow
runner = CliRunner()
TARGETS = {
    "buys_electronics": {"horizon_days": 30,
                         "label": {"purchases": {"category": ["electronics"]}}},
    "contacts_support": {"horizon_days": 60, "label": {"events": {"type": ["support_ticket"]}}},
    "fashion_spend": {"kind": "regressor", "horizon_days": 90,
                      "label": {"spend": {"category": ["fashion"]}}},
    "subscribed": {"label": {"column": {"column": "subscribed", "positive": "yes"}}},
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("declared")
    data = make_customers(1500, seed=5)
    data.write(root / "data")
    customers = pd.read_parquet(root / "data" / "customers.parquet")
    # a column label that depends on the customers' behaviour, so it can be learned
    spend = data.transactions.groupby("customer_id")["amount"].sum()
    rich = spend.reindex(customers["customer_id"]).fillna(0).to_numpy()
    customers["subscribed"] = np.where(rich > np.quantile(rich, 0.7), "yes", "no")
    customers.to_parquet(root / "data" / "customers.parquet")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", uri)
    mp.setenv("SEGML_LOCK_DIR", str(root / "locks"))
    mp.chdir(root)
    config = synthetic_config(targets=TARGETS, models={"n_estimators": 40})
    config.data.dir = str(root / "data")
    result = train(config)
    yield {"root": root, "uri": uri, "config": config, "result": result}
    mp.undo()


def test_declared_targets_are_trained_logged_and_beat_chance(workspace):
    result, uri = workspace["result"], workspace["uri"]
    assert set(TARGETS) <= set(result.scorer.predictors) and not result.skipped
    run = mlflow.MlflowClient(uri).get_run(result.run_id).data
    for name in ("buys_electronics", "contacts_support", "subscribed"):
        assert run.metrics[f"{name}_roc_auc"] > 0.6, name
        assert f"baseline_logreg_{name}_roc_auc" in run.metrics
    assert run.metrics["fashion_spend_spearman"] > 0.3
    assert run.tags["fit_cutoff_buys_electronics"] == result.fit_cutoffs["buys_electronics"]
    assert "fit_cutoff_subscribed" not in run.tags  # a column label has no cutoff
    windows = result.datasets.plan.targets
    assert windows["contacts_support"].horizon_days == 60


def test_batch_scores_carry_each_declared_target(workspace):
    result, config = workspace["result"], workspace["config"]
    scores = score(result.model_uri, config=config, reasons=True)
    for name in ("buys_electronics", "contacts_support", "subscribed"):
        assert scores[f"{name}_probability"].between(0, 1).all(), name
        assert scores[f"{name}_reasons"].notna().all(), name
    assert (scores["predicted_fashion_spend"] >= 0).all()
    assert "fashion_spend_reasons" not in scores


def test_the_served_model_scores_them_in_a_fresh_process(workspace, tmp_path):
    """A new process knows the declared targets only from the model's state."""
    example = workspace["result"].scorer.example_input(3)
    path = tmp_path / "example.parquet"
    example.to_parquet(path)
    code = ("import json, sys, mlflow, pandas as pd\n"
            f"model = mlflow.pyfunc.load_model({workspace['result'].model_uri!r})\n"
            f"out = model.predict(pd.read_parquet({str(path)!r}))\n"
            "print(json.dumps({c: out[c].tolist() for c in out.columns if 'buys' in c or 'fashion' in c}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=workspace["root"], timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(out) == {"buys_electronics_probability", "predicted_fashion_spend"}
    assert all(0 <= p <= 1 for p in out["buys_electronics_probability"])


def test_an_audience_of_a_declared_target(workspace):
    root = workspace["root"]
    config = root / "segml.yaml"
    from segml.config import dump_config

    config.write_text(dump_config(workspace["config"]))
    result = runner.invoke(app, ["audiences", "--model", workspace["result"].model_uri,
                                 "--config", str(config), "--data", str(root / "data"),
                                 "--out", str(root / "lists"), "--top", "10%",
                                 "--target", "buys_electronics", "--format", "csv"])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (root / "lists").iterdir())
    assert any("buys_electronics" in f for f in files), files
    bad = runner.invoke(app, ["audiences", "--model", workspace["result"].model_uri,
                              "--config", str(config), "--data", str(root / "data"),
                              "--out", str(root / "lists2"), "--target", "fashion_spend"])
    assert bad.exit_code == 2 and "buys_electronics" in bad.output
