"""Hostile rows for the refit's shortcut (segml.predict.training, ``run(judged=False)``): a refit
skips the held-out fit nobody reads. On rows nothing can be learned from, a latest cutoff of
one class, or labels missing at random, the registered model must score as a refit that fitted
it (docs/predictions.md, "Fresh refit")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.predict import Predictor
from segml.predict.training import CandidateSearch, refit_params


def _rows(n: int, seed: int, cutoffs: int = 2) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"recency_days": rng.exponential(60, n), "frequency": rng.poisson(3, n) * 1.0,
                      "region": pd.Categorical(rng.choice(["n", "s"], n))})
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp((X.recency_days - 60) / 30))).astype(float))
    day = pd.to_datetime(["2024-01-31", "2024-04-30", "2024-07-31"][:cutoffs])
    return X, y, pd.Series(day[np.arange(n) % cutoffs])


@pytest.fixture(scope="module")
def evaluated() -> Predictor:
    X, y, cutoff = _rows(1500, seed=1)
    return Predictor(target="churn", n_estimators=40, candidates=("lgbm",), seed=1).fit(
        X, y, cutoff=cutoff)


def _judged(first: Predictor, X, y, cutoff) -> Predictor:
    params = refit_params(first.get_params(), winner=first.winner_,
                          best_iteration=first.best_iteration_, booster_params=first.params_,
                          calibration=first.calibration_, blend_parts=None)
    judged = Predictor(**params)
    judged._hold(CandidateSearch(judged.get_params()).run(X, y, cutoff=cutoff))
    return judged


def test_rows_nothing_can_be_split_on(evaluated):
    X, y, cutoff = _rows(1200, seed=2)
    X = X.assign(recency_days=5.0, frequency=1.0, region=pd.Categorical(["n"] * len(X)))
    fresh, judged = evaluated.refit_on(X, y, cutoff=cutoff), _judged(evaluated, X, y, cutoff)
    # one constant score: every customer gets the calibrated base rate, whoever fitted it
    assert np.array_equal(fresh.predict_value(X), judged.predict_value(X))
    assert np.unique(fresh.predict_value(X)).size == 1


def test_a_latest_cutoff_of_one_class(evaluated):
    X, y, cutoff = _rows(1200, seed=3)
    y[cutoff == cutoff.max()] = 0.0  # nobody churned at the latest cutoff: no latest fold
    fresh, judged = evaluated.refit_on(X, y, cutoff=cutoff), _judged(evaluated, X, y, cutoff)
    # inner folds instead: their held-out margins calibrate the model, so they are fitted
    assert fresh.validation_ == judged.validation_ == "3 inner stratified folds"
    assert fresh.booster_.model_to_string() == judged.booster_.model_to_string()
    assert np.array_equal(fresh.predict_value(X), judged.predict_value(X))


def test_labels_missing_at_random(evaluated):
    X, y, cutoff = _rows(1200, seed=4)
    y[np.random.default_rng(4).random(len(y)) < 0.3] = np.nan
    fresh, judged = evaluated.refit_on(X, y, cutoff=cutoff), _judged(evaluated, X, y, cutoff)
    assert fresh.n_train_rows_ == judged.n_train_rows_ == int(y.notna().sum())
    assert fresh.booster_.model_to_string() == judged.booster_.model_to_string()
    assert np.array_equal(fresh.predict_value(X), judged.predict_value(X))
