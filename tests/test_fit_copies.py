"""A target's stacks reach the predictor without copies: a sampled stack holds only labelled
rows, and selecting all of them would copy the matrix while the stack is still held
(segml.workflow.fitting; 300k rows x 80 features at a million customers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import segml.predict
from segml.data.contract import load_tables
from segml.data.synthetic.datasets import make_customers, synthetic_config
from segml.workflow.datasets import build_datasets
from segml.workflow.fitting import _labelled, fit_target


@pytest.fixture(scope="module")
def world():
    return make_customers(2000, seed=4)


def test_labelled_rows_are_selected_only_when_some_label_is_missing():
    X = pd.DataFrame({"a": np.arange(5.0)}, index=list("vwxyz"))
    cutoff = pd.Series(pd.Timestamp("2025-01-31"), index=X.index)
    full = pd.Series([0.0, 1, 0, 1, 1], index=X.index)
    got = _labelled(X, full, cutoff)
    assert got[0] is X and got[1] is full and got[2] is cutoff  # nothing copied
    gappy = full.where(full.index != "x")
    X2, y2, c2 = _labelled(X, gappy, cutoff)
    assert list(X2.index) == list(y2.index) == list(c2.index) == list("vwyz")
    assert not y2.isna().any()


def test_the_sampled_stacks_reach_the_fits_as_they_are(world, monkeypatch):
    config = synthetic_config(models={"n_estimators": 30, "targets": ["purchase"],
                                      "candidates": ["lgbm"], "candidate_max_rows": 1000,
                                      "max_train_rows": 2000}, seed=2)
    tables = load_tables(config, customers=world.customers, transactions=world.transactions,
                         events=world.events)
    data = build_datasets(tables, config)
    stacks, learned = [], []
    for role in ("training_set", "refit_set"):
        build = getattr(data, role)
        monkeypatch.setattr(data, role, lambda target, build=build: stacks.append(build(target))
                            or stacks[-1])
    fit_predictor, refit_on = segml.predict.fit_predictor, segml.predict.Predictor.refit_on
    monkeypatch.setattr(segml.predict, "fit_predictor", lambda spec, X, *a, **k: learned.append(X)
                        or fit_predictor(spec, X, *a, **k))
    monkeypatch.setattr(segml.predict.Predictor, "refit_on", lambda self, X, *a, **k: learned.append(X)
                        or refit_on(self, X, *a, **k))
    fit, _, _ = fit_target(data, "purchase", config)
    assert [len(s.X) for s in stacks] == [1000, 2000]  # both stacks are sampled, all labelled
    assert learned[0] is stacks[0].X and learned[1] is stacks[1].X
    assert fit.training_rows == 1000 and fit.predictor.n_train_rows_ == 2000
