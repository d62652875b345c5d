"""Candidates per target (issue 17): the one that wins on held-out rows is the one registered,
calibration is chosen on held-out margins, and no probability collapses to 0 or 1."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from segml.config import ModelsConfig, load_config
from segml.errors import ConfigError
from segml.predict import Predictor, fit_predictor
from segml.predict.calibration import Calibrator, choose_calibration
from segml.predict.candidates import validation_folds
from segml.predict.metrics import roc_auc
from segml.workflow.fitting import candidate_metrics


def _world(kind: str, n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """'linear': log-odds linear in five noisy columns; 'interaction': an XOR of two columns."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"x{i}" for i in range(6)])
    if kind == "linear":
        logit = X[["x0", "x1", "x2", "x3", "x4"]].to_numpy() @ np.array([0.8, -0.6, 0.5, 0.4, -0.3])
    else:
        logit = 3.0 * np.sign(X["x0"] * X["x1"]).to_numpy()
    return X, pd.Series((rng.random(n) < expit(logit)).astype(float))


@pytest.mark.parametrize(("kind", "winners"), [("linear", {"logreg", "blend"}),
                                                ("interaction", {"lgbm"})])
def test_the_winner_is_the_candidate_the_data_calls_for(kind, winners):
    X, y = _world(kind)
    pred = Predictor(target="purchase", n_estimators=300, seed=1).fit(X, y)
    assert set(pred.candidate_scores_) == {"lgbm", "lgbm_shallow", "logreg", "blend"}
    assert pred.winner_ in winners, pred.candidate_scores_
    assert pred.validation_ == "3 inner stratified folds"
    # the winner is the best or, by the one-standard-error rule, a simpler one within noise of it
    assert max(pred.candidate_scores_.values()) - pred.candidate_scores_[pred.winner_] < 0.01
    # the registered model generalises like its held-out score said
    X_new, y_new = _world(kind, seed=9)
    assert roc_auc(y_new, pred.predict_value(X_new)) > pred.candidate_scores_[pred.winner_] - 0.03


def test_candidate_metrics_are_named_per_target_and_candidate():
    X, y = _world("linear", n=1500)
    pred = Predictor(target="churn", n_estimators=50, seed=0).fit(X, y)
    metrics = candidate_metrics("churn", pred)
    assert set(metrics) == {f"candidate_{n}_churn_roc_auc"
                            for n in ("lgbm", "lgbm_shallow", "logreg", "blend")}
    assert max(metrics.values()) - metrics[f"candidate_{pred.winner_}_churn_roc_auc"] < 0.01


def test_latest_cutoff_is_held_out_when_cutoffs_are_given():
    X, y = _world("linear", n=1200)
    cutoff = np.repeat(pd.to_datetime(["2024-01-01", "2024-04-01", "2024-07-01"]), 400)
    folds, how = validation_folds(y.to_numpy(), cutoff.to_numpy(), classifier=True, seed=0)
    (fold,) = folds
    assert how == "latest training cutoff (2024-07-01)"
    assert fold.valid.tolist() == list(range(800, 1200)) and fold.train.tolist() == list(range(800))
    # too many rows for k fits of every candidate: one split
    folds, how = validation_folds(y.to_numpy(), None, classifier=True, max_inner_rows=1000, seed=0)
    assert len(folds) == 1 and how == "stratified 15% split"


def test_spend_compares_the_lightgbm_candidates_only():
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"past": rng.gamma(1.0, 50.0, 2000), "noise": rng.normal(size=2000)})
    spend = rng.gamma(1.0, X["past"] / 2) * (rng.random(2000) < 0.6)
    pred = Predictor(target="spend", n_estimators=100, seed=0).fit(X, spend)
    assert set(pred.candidate_scores_) == {"lgbm", "lgbm_shallow"}
    assert pred.linear_ is None and (pred.predict_value(X) > 0).all()


def test_refit_keeps_the_chosen_recipe_and_registers_fresh_rows():
    X, y = _world("linear", n=2400)
    cutoff = np.repeat(pd.to_datetime(["2024-01-01", "2024-04-01", "2024-07-01"]), 800)
    first = Predictor(target="churn", n_estimators=200, seed=0).fit(X, y, cutoff=cutoff)
    fresh = first.refit_on(X, y, cutoff=cutoff + pd.Timedelta(days=90))
    assert (fresh.winner_, fresh.calibration_, fresh.best_iteration_) == (
        first.winner_, first.calibration_, first.best_iteration_)
    assert fresh.weights_ == first.weights_ and fresh.refitted_
    if first.winner_ == "blend":
        assert fresh.blend_parts_ == first.blend_parts_


def test_calibration_is_chosen_on_held_out_margins():
    rng = np.random.default_rng(3)
    calibrated = rng.normal(0, 2, 4000)
    y = (rng.random(4000) < expit(calibrated)).astype(float)
    # already calibrated: no map, or Platt's near-identity when it is tied and a bit closer
    method, _ = choose_calibration(calibrated, y)
    assert method in ("none", "sigmoid")
    if method == "sigmoid":
        platt = Calibrator("sigmoid").fit(calibrated, y)
        assert abs(platt.a_ - 1) < 0.1 and abs(platt.b_) < 0.1
    # a step-shaped truth no sigmoid can follow: isotonic's freedom pays on many rows
    step = (rng.random(20000) < np.where(calibrated.repeat(5) > 1, 0.9, 0.1)).astype(float)
    method, losses = choose_calibration(calibrated.repeat(5), step)
    assert method == "isotonic" and losses["isotonic"] < losses["sigmoid"]
    # too few positives to compare: sigmoid
    assert choose_calibration(calibrated[:50], np.r_[np.ones(3), np.zeros(47)])[0] == "sigmoid"


def test_no_probability_collapses_to_zero_or_one_where_labels_only_say_rare():
    rng = np.random.default_rng(4)
    margin = rng.normal(0, 3, 6000)
    y = ((margin > 2) & (rng.random(6000) < 0.9)).astype(float)  # no positive below margin 2
    p = Calibrator("isotonic").fit(margin, y).transform(margin)
    floor = 2 * y.mean() / ((margin <= 2).sum() + 2)  # the smoothed rate of the empty step
    assert p.min() >= floor * 0.99 and p.max() < 1
    assert np.mean(p < 1e-4) == 0


def test_a_bad_candidate_list_is_a_config_error_naming_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("models:\n  candidates: [lgbm, xgboost]\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert any(p.key and p.key.startswith("models.candidates") for p in err.value.problems)
    path.write_text("models:\n  candidates: []\n")
    with pytest.raises(ConfigError):
        load_config(path)
    with pytest.raises(ValueError, match="xgboost"):
        Predictor(target="churn", candidates=("xgboost",)).fit(*_world("linear", n=300))


def test_the_logistic_candidate_survives_hostile_columns():
    rng = np.random.default_rng(5)
    n = 600
    X = pd.DataFrame({
        "signal": rng.normal(size=n),
        "all_missing": np.nan,
        "constant": 7.0,
        "huge": rng.normal(size=n) * 1e12,
        "one_level": pd.Categorical(["a"] * n),
        "mostly_missing": np.where(rng.random(n) < 0.97, np.nan, rng.normal(size=n)),
    })
    y = pd.Series((rng.random(n) < expit(2 * X["signal"])).astype(float))
    pred = fit_predictor("purchase", X, y, ModelsConfig(candidates=["logreg"]), seed=0)
    assert pred.winner_ == "logreg" and np.isfinite(pred.predict_value(X)).all()
    contrib = pred.contributions_matrix(pred.matrix(X))
    np.testing.assert_allclose(contrib.sum(axis=1), pred.margin_matrix(pred.matrix(X)), atol=1e-9)
    assert np.abs(contrib[:, [1, 2, 4]]).max() < 1e-9  # nothing to learn from those columns


def test_large_inputs_compare_candidates_on_a_sample_and_refit_once():
    X, y = _world("linear", n=3000)
    cutoff = np.repeat(pd.to_datetime(["2024-01-01", "2024-04-01", "2024-07-01"]), 1000)
    first = Predictor(target="churn", n_estimators=60, seed=0, candidate_max_rows=1500).fit(
        X, y, cutoff=cutoff)
    assert first.n_rows_available_ == 3000 and first.n_train_rows_ == 1500
    # above refit_max_rows the refit is one fit, calibrated on 15% of the latest cutoff's rows
    fresh = Predictor.refit_on(first.set_params(refit_max_rows=1000), X, y, cutoff=cutoff)
    assert fresh.n_train_rows_ == 3000 and not fresh.refitted_
    assert fresh.validation_ == "15% of the latest training cutoff (2024-07-01)"
    assert fresh.winner_ == first.winner_


def test_depth_limit_reaches_lightgbm_and_its_paths_stay_tabulated():
    X, y = _world("interaction", n=4000)
    pred = Predictor(target="purchase", n_estimators=80, num_leaves=63, max_depth=5,
                     candidates=("lgbm",), seed=0).fit(X, y)
    depths = pred.booster_.trees_to_dataframe().groupby("tree_index")["node_depth"].max()
    assert pred.params_["max_depth"] == 5 and depths.max() <= 6  # leaves sit one below
