"""The training speed knobs of ``config.models`` (max_bin, max_train_rows, refit_max_rows,
num_threads): each reaches LightGBM, and the row cap keeps label rate and cutoff shares."""

import numpy as np
import pytest
from synth_predict import make_xy

from segml.config import ModelsConfig
from segml.predict import fit_predictor, resources
from segml.predict.metrics import roc_auc
from segml.predict.models import Predictor
from segml.sampling import stratified_sample

FAST = ModelsConfig(n_estimators=150, learning_rate=0.1, early_stopping_rounds=20)


def test_stratified_sample_keeps_shares_exactly_and_is_seeded():
    rng = np.random.default_rng(0)
    strata = rng.choice(5, size=50_001, p=[0.5, 0.3, 0.1, 0.07, 0.03])
    keep = stratified_sample(2_000, strata, seed=3)
    assert keep.size == 2_000 and np.all(np.diff(keep) > 0)
    expected = np.bincount(strata) * 2_000 / strata.size
    assert np.all(np.abs(np.bincount(strata[keep], minlength=5) - expected) < 1)
    assert np.array_equal(keep, stratified_sample(2_000, strata, seed=3))
    assert not np.array_equal(keep, stratified_sample(2_000, strata, seed=4))
    assert np.array_equal(stratified_sample(10, strata[:7], seed=0), np.arange(7))


def test_max_train_rows_samples_by_cutoff_and_label():
    X, Y, cutoff = make_xy(3000, seed=5, cutoffs=3)  # 9000 stacked rows
    capped = fit_predictor("purchase", X, Y, FAST.model_copy(update={"max_train_rows": 3000}), seed=0,
                           cutoff=cutoff, baselines=False)
    assert capped.n_rows_available_ == len(X) and capped.n_train_rows_ == 3000
    assert capped.validation_.startswith("latest training cutoff")
    # the sample keeps the label rate (stratified), unlike what the model would see otherwise
    assert capped.base_rate_ == pytest.approx(Y["purchase"].mean(), abs=1 / 3000)
    full = fit_predictor("purchase", X, Y, FAST.model_copy(update={"max_train_rows": None}), seed=0,
                         cutoff=cutoff, baselines=False)
    assert full.n_train_rows_ == len(X)
    # a third of the rows still learns the signal
    X_ev, Y_ev, _ = make_xy(2000, seed=6, cutoffs=1)
    assert roc_auc(Y_ev["purchase"], capped.predict(X_ev)) > roc_auc(Y_ev["purchase"], full.predict(X_ev)) - 0.03


def test_max_bin_threads_and_refit_reach_lightgbm():
    X, Y, cutoff = make_xy(2000, seed=7, cutoffs=2)
    models = FAST.model_copy(update={"max_bin": 15, "num_threads": 2, "refit_max_rows": 0,
                                     "candidates": ["lgbm"]})  # the knobs of that candidate
    pred = fit_predictor("churn", X, Y, models, seed=0, cutoff=cutoff, baselines=False)
    assert pred.params_["max_bin"] == 15 and pred.params_["num_threads"] == 2
    assert not pred.refitted_ and pred.booster_.num_trees() == pred.best_iteration_
    # at most 15 bins: a numeric feature has at most 14 distinct thresholds in the trees
    splits = pred.booster_.trees_to_dataframe()
    numeric = splits[splits["split_feature"] == "recency_days"]
    assert 0 < numeric["threshold"].nunique() <= 14
    # lgbm_params still win over the fields
    over = fit_predictor("churn", X, Y, models.model_copy(update={"lgbm_params": {"max_bin": 7}}), seed=0,
                         cutoff=cutoff, baselines=False)
    assert over.params_["max_bin"] == 7
    assert fit_predictor("churn", X, Y, FAST.model_copy(update={"candidates": ["lgbm"]}), seed=0,
                         cutoff=cutoff, baselines=False).refitted_


def test_defaults_match_the_config():
    models, pred = ModelsConfig(), Predictor()
    assert (pred.max_bin, pred.max_train_rows, pred.refit_max_rows, pred.num_threads,
            pred.candidate_max_rows, pred.max_depth, pred.calibration, pred.inner_folds) == (
        models.max_bin, models.max_train_rows, models.refit_max_rows, models.num_threads,
        models.candidate_max_rows, models.max_depth, models.calibration, models.inner_folds)
    with pytest.raises(ValueError):
        ModelsConfig(max_train_rows=10)


def test_training_threads_leave_a_core_free(monkeypatch):
    monkeypatch.setattr(resources, "available_cores", lambda: 2)
    assert resources.train_threads(50_000) == 1 and resources.train_threads(1_000_000) == 1
    monkeypatch.setattr(resources, "available_cores", lambda: 16)
    assert resources.train_threads(50_000) == 1 and resources.train_threads(1_000_000) == 4
    assert resources.train_threads(1_000_000, num_threads=2) == 2
