"""A retrain fingerprints its tables once: the key that makes it safe to re-run and the run's
logged fingerprints come from the same hashes (segml.workflow.retrain.retrain), and its tables
hold the customer ids as codes afterwards, as a training run's do."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

import segml.workflow.tracked_run as tracked_run
from segml.data.contract import load_tables
from segml.data.synthetic.datasets import make_customers, synthetic_config
from segml.workflow.retrain import retrain, retrain_key


@pytest.fixture
def setting(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("SEGML_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.chdir(tmp_path)
    config = synthetic_config()
    config.tracking.registered_model_name = "fingerprint-once"
    config.models.n_estimators = 20
    config.models.candidates = ["lgbm"]
    config.models.targets = ["churn"]
    data = make_customers(600, seed=14)
    tables = load_tables(config, customers=data.customers, transactions=data.transactions,
                         events=data.events)
    return config, tables


def test_one_fingerprint_pass_serves_the_key_and_the_record(setting, monkeypatch):
    config, tables = setting
    calls = []
    real = tracked_run.data_fingerprints

    def counted(t):
        calls.append(1)
        return real(t)

    monkeypatch.setattr(tracked_run, "data_fingerprints", counted)
    outcome = retrain(config, tables=tables)
    assert len(calls) == 1
    prints = real(tables)
    assert retrain_key(tables, config, prints) == retrain_key(tables, config)
    run = mlflow.get_run(outcome.run_id)
    assert run.data.tags["segml.retrain_key"] == retrain_key(tables, config)
    logged = {k: v for k, v in run.data.params.items() if k.startswith("fingerprint.")}
    assert logged == _flat("fingerprint", prints)  # the hashes the key was made of
    # the caller's tables are left as they were (text ids, not codes)
    assert not isinstance(tables.transactions["customer_id"].dtype, pd.CategoricalDtype)


def test_a_repeated_retrain_on_the_same_data_is_recognised(setting):
    config, tables = setting
    first = retrain(config, tables=tables)
    again = retrain(config, tables=tables)
    assert again.reused and again.run_id == first.run_id


def _flat(prefix: str, value) -> dict[str, str]:
    if isinstance(value, dict):
        return {k: v for key, part in value.items() for k, v in _flat(f"{prefix}.{key}", part).items()}
    return {prefix: str(value)}
