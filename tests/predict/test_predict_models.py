import pickle

import numpy as np
import pandas as pd
import pytest
from synth_predict import make_xy

from segml.config import ModelsConfig
from segml.errors import DataError
from segml.predict import Predictor, evaluate_target, fit_predictor
from segml.predict.metrics import roc_auc, spearman
from segml.targets import TARGET_NAMES

FAST = ModelsConfig(n_estimators=150, learning_rate=0.1, early_stopping_rounds=20)


def _split(X, Y, cutoff):
    train = (cutoff < cutoff.max()).to_numpy()
    return X[train], Y[train], cutoff[train], X[~train], Y[~train]


@pytest.fixture(scope="module")
def stacked():
    X, Y, cutoff = make_xy(6000, seed=2, cutoffs=3)
    return _split(X, Y, cutoff)


@pytest.mark.parametrize("target", ["churn", "purchase", "high_clv"])
def test_model_beats_every_baseline_roc_auc(stacked, target):
    X_tr, Y_tr, cut_tr, X_ev, Y_ev = stacked
    pred = fit_predictor(target, X_tr, Y_tr, FAST, seed=0, cutoff=cut_tr)
    assert pred.validation_.startswith("latest training cutoff")
    result = evaluate_target(target, pred, X_ev, Y_ev)
    comp = result.comparison
    assert comp.loc["model", "note"] == ""
    baselines = comp.drop(index="model")
    assert baselines["note"].eq("").all(), baselines["note"]  # every baseline ran here
    for name, row in baselines.iterrows():
        assert comp.loc["model", "roc_auc"] > row["roc_auc"] + 0.01, (name, comp)
        assert result.metrics[f"{name}_{target}_roc_auc"] == row["roc_auc"]
    assert result.metrics[f"{target}_ece"] < 0.06
    assert set(comp.columns) >= {"roc_auc", "pr_auc", "lift_at_10", "capture_at_10", "brier", "ece"}


def test_spend_model_two_sided(stacked):
    X_tr, Y_tr, cut_tr, X_ev, Y_ev = stacked
    pred = fit_predictor("spend", X_tr, Y_tr, FAST, seed=0, cutoff=cut_tr)
    assert pred.params_["objective"] == "tweedie"
    result = evaluate_target("spend", pred, X_ev, Y_ev)
    spend = Y_ev["future_spend"].to_numpy()
    p = pred.predict_value(X_ev)
    assert (p > 0).all()
    assert result.metrics["spend_spearman"] == pytest.approx(spearman(spend, p))
    assert result.metrics["spend_spearman"] > result.metrics["baseline_past_spend_spend_spearman"]
    assert result.metrics["spend_gini"] > 0.3
    assert 0.7 < p.sum() / spend.sum() < 1.3  # Tweedie/log link: totals roughly right
    assert len(result.deciles) == 10 and result.deciles["mean_actual"].iloc[0] > result.deciles["mean_actual"].iloc[-1]


def test_churn_nan_labels_are_dropped(stacked):
    X_tr, Y_tr, *_ = stacked
    pred = fit_predictor("churn", X_tr, Y_tr, FAST, seed=0, baselines=False)
    assert pred.n_train_rows_ == int(Y_tr["churn"].notna().sum()) < len(X_tr)
    assert pred.validation_ == "3 inner stratified folds"  # no cutoffs: inner folds


def test_deterministic_with_seed(data):
    X, Y, cutoff = data
    a = fit_predictor("purchase", X, Y, FAST, seed=7, cutoff=cutoff, baselines=False)
    b = fit_predictor("purchase", X, Y, FAST, seed=7, cutoff=cutoff, baselines=False)
    assert np.array_equal(a.predict(X), b.predict(X))
    assert a.best_iteration_ == b.best_iteration_


def test_unseen_and_missing_categories_and_str_columns(data):
    X, Y, _ = data
    X = X.copy()
    X["region"] = X["region"].astype(str)  # pandas 3 `str` dtype must be accepted
    pred = fit_predictor("churn", X, Y, FAST, seed=0)
    new = X.head(5).copy()
    new["region"] = ["mars", None, "north", "venus", "south"]
    p = pred.predict_value(new)
    assert np.isfinite(p).all() and p.shape == (5,)
    # column order and extra columns do not matter; missing ones are a DataError naming the column
    shuffled = new[new.columns[::-1]].assign(extra=1.0)
    assert np.array_equal(pred.predict_value(shuffled), p)
    with pytest.raises(DataError, match="recency_days"):
        pred.predict_value(new.drop(columns="recency_days"))


def test_bad_labels_and_features():
    X, Y, _ = make_xy(300, seed=3)
    with pytest.raises(DataError, match="constant"):
        Predictor(target="purchase", n_estimators=5).fit(X, pd.Series(np.ones(300)))
    with pytest.raises(DataError, match="0/1"):
        Predictor(target="purchase", n_estimators=5).fit(X, pd.Series(np.arange(300.0)))
    with pytest.raises(DataError, match="datetime"):
        Predictor(target="purchase", n_estimators=5).fit(X.assign(when=pd.Timestamp("2024-01-01")), Y)
    with pytest.raises(ValueError, match="unknown target"):
        Predictor(target="revenue").fit(X, Y)


def test_picklable_and_feature_names_with_special_characters(data):
    X, Y, _ = data
    X = X.rename(columns={"noise": 'share_category_"toys, games"'})
    pred = fit_predictor("high_clv", X, Y, FAST, seed=0)
    clone = pickle.loads(pickle.dumps(pred))
    assert np.array_equal(clone.predict_value(X), pred.predict_value(X))
    assert clone.feature_names_ == list(X.columns)
    assert clone.booster_.num_trees() == pred.best_iteration_


def test_tuning_trials_keep_a_valid_model(data):
    X, Y, cutoff = data
    cfg = FAST.model_copy(update={"tuning_trials": 2})
    pred = fit_predictor("churn", X, Y, cfg, seed=0, cutoff=cutoff, baselines=False)
    assert set(pred.params_) >= {"learning_rate", "num_leaves"}
    churn = Y["churn"].notna().to_numpy()
    assert roc_auc(Y["churn"][churn], pred.predict_value(X[churn])) > 0.7


def test_targets_constant():
    assert TARGET_NAMES == ("churn", "purchase", "high_clv", "spend")


def test_refit_is_automatic_by_size_and_can_be_forced(data):
    X, Y, cutoff = data
    auto = fit_predictor("purchase", X, Y, FAST, seed=0, cutoff=cutoff, baselines=False)
    held = fit_predictor("purchase", X, Y, FAST, seed=0, cutoff=cutoff, baselines=False, refit=False)
    assert auto.refitted_ and not held.refitted_
    assert held.booster_.num_trees() == held.best_iteration_ == auto.best_iteration_
    assert not np.array_equal(auto.predict(X), held.predict(X))


def test_predictor_holds_its_collaborators(data):
    """Composition, not mixins (docs/dev/architecture.md): the predictor inherits from nothing in
    segml; it holds the fitted feature columns and the parts training returned, and a state
    round trip rebuilds the same columns."""
    from segml.predict.matrix import FeatureColumns

    assert [c for c in Predictor.__mro__ if c.__module__.startswith("segml")] == [Predictor]
    X, Y, _ = data
    X = X.assign(plan=np.where(np.arange(len(X)) % 3 == 0, "pro", "basic"))
    pred = fit_predictor("churn", X, Y, FAST, seed=0, baselines=False)
    assert isinstance(pred.columns_, FeatureColumns)
    assert pred.feature_names_ == list(X.columns) and pred.categories_["plan"] == ["basic", "pro"]
    assert pred.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(pred.matrix(X), pred.columns_.matrix(X))
    again = Predictor.from_state(pred.to_state())
    assert again.columns_.categories_ == pred.columns_.categories_
    np.testing.assert_array_equal(again.predict_value(X), pred.predict_value(X))
    assert not hasattr(Predictor(target="churn"), "feature_names_")  # unfitted
    with pytest.raises(DataError, match="'plan' used by the churn model is missing"):
        pred.predict_value(X.drop(columns=["plan"]))
