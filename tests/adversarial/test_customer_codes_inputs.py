"""Hostile customer ids through a training run that holds them as codes into the customers' ids
(segml.features.timeline.encode_customer_ids): look-alike ids, unknown customers in the
transactions and events, text that is not ASCII. The matrices and the run's metrics are those
of the same run on the ids as text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.config import SegmlConfig
from segml.data.contract import load_tables
from segml.data.synthetic.datasets import make_customers
from segml.features.timeline import encode_customer_ids
from segml.workflow.datasets import build_datasets


def _hostile(n: int, seed: int):
    """Ids that differ only in case, accents, spaces or zero-width characters, plus rows of
    customers the customers' table does not have."""
    data = make_customers(n, seed=seed)
    odd = ["Ǆ", "ǅ", "e\u0301", "é", " x", "x ", "a\u200bb", "ab", "😀", "0x1F"]
    mapping = {old: f"{odd[i % len(odd)]}#{i}" for i, old in enumerate(data.customers["customer_id"])}
    for frame in (data.customers, data.transactions, data.events):
        frame["customer_id"] = frame["customer_id"].map(mapping)
    rng = np.random.default_rng(seed)
    for name in ("transactions", "events"):
        frame = getattr(data, name)
        strays = frame.sample(40, random_state=seed).copy()
        strays["customer_id"] = [f"{odd[k % len(odd)]}#stray{k}" for k in rng.permutation(40)]
        setattr(data, name, pd.concat([frame, strays], ignore_index=True))
    return data


def test_hostile_ids_give_the_same_matrices_and_labels():
    config = SegmlConfig(data={"now": "2026-01-01"}, models={"targets": ["churn", "high_clv"]})
    data = _hostile(400, seed=5)
    tables = load_tables(config, customers=data.customers, transactions=data.transactions,
                         events=data.events)
    assert any(p.severity == "warning" for p in tables.warnings)  # the stray customers
    coded = encode_customer_ids(tables)
    for name in ("transactions", "events"):  # every loaded row's id is one of the customers'
        ids = getattr(coded, name)["customer_id"]
        assert len(ids) == len(getattr(tables, name)) and not ids.isna().any()
    plain, fast = build_datasets(tables, config), build_datasets(coded, config)
    pd.testing.assert_frame_equal(plain.current_X, fast.current_X, check_exact=True)
    for target in ("churn", "high_clv"):
        a, b = plain.training_set(target), fast.training_set(target)
        pd.testing.assert_frame_equal(a.X, b.X, check_exact=True)
        pd.testing.assert_frame_equal(a.Y, b.Y, check_exact=True)
        ea, eb = plain.evaluation_set(target), fast.evaluation_set(target)
        pd.testing.assert_frame_equal(ea[0], eb[0], check_exact=True)
        pd.testing.assert_series_equal(ea[1], eb[1], check_exact=True)


def _isolated_run(tmp_path, monkeypatch, data, targets: list[str], rounds: int):
    """A small config and the loaded tables, with this test's own store, locks and folder."""
    from segml.data.synthetic.datasets import synthetic_config

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("SEGML_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.chdir(tmp_path)
    config = synthetic_config()
    config.data.now = "2026-01-01"
    config.models.n_estimators = rounds
    config.models.candidates = ["lgbm"]
    config.models.targets = targets
    return config, load_tables(config, customers=data.customers,
                               transactions=data.transactions, events=data.events)


@pytest.mark.slow
def test_a_run_on_hostile_ids_equals_the_run_on_text_ids(tmp_path, monkeypatch):
    import segml
    import segml.workflow.stages as stages

    config, tables = _isolated_run(tmp_path, monkeypatch, _hostile(700, seed=9),
                                   ["churn", "spend"], rounds=30)

    def run(store: str, encode) -> dict[str, float]:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / store}")
        monkeypatch.setattr(stages, "encode_customer_ids", encode)
        result = segml.train(config, tables=tables)
        return {k: v for k, v in result.metrics.items() if "seconds" not in k}

    coded = run("coded.db", encode_customer_ids)
    text = run("text.db", lambda t: t)
    assert coded == text
    assert np.isfinite(coded["churn_roc_auc"])
    # the caller's tables are left as they were
    assert not isinstance(tables.transactions["customer_id"].dtype, pd.CategoricalDtype)


@pytest.mark.slow
def test_a_retrain_on_hostile_ids_runs_and_leaves_the_callers_tables_alone(tmp_path, monkeypatch):
    from segml.workflow.retrain import retrain

    config, tables = _isolated_run(tmp_path, monkeypatch, _hostile(500, seed=13), ["churn"],
                                   rounds=20)
    outcome = retrain(config, tables=tables)
    assert outcome.promoted  # no champion yet: the first challenger becomes it
    assert not isinstance(tables.events["customer_id"].dtype, pd.CategoricalDtype)
