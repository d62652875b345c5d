"""Calibration at least as good as logistic regression's (issue 27, docs/predictions.md): the
method is chosen by cross-validated calibration error, and a model refitted on every cutoff is
calibrated on margins of models fitted the way it is, on the latest cutoff's outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from segml.config import ModelsConfig
from segml.predict import fit_predictor, training
from segml.predict.calibration import Calibrator, choose_calibration
from segml.predict.metrics import ece, roc_auc

CUTOFFS = pd.to_datetime(["2024-01-01", "2024-04-01", "2024-07-01"])


def _cutoff_rows(rng: np.random.Generator, n: int, shift: float) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers at one cutoff: log-odds linear in three columns plus the cutoff's ``shift``."""
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["x0", "x1", "x2", "noise"])
    logit = X[["x0", "x1", "x2"]].to_numpy() @ np.array([1.2, -0.8, 0.6]) - 1.0 + shift
    return X, (rng.random(n) < expit(logit)).astype(float)


@pytest.mark.parametrize("cross_fit_rows", [50_000, 1000])
def test_the_registered_model_is_calibrated_to_the_latest_cutoff_not_shifted_twice(
        cross_fit_rows, monkeypatch):
    """The rate fell between the first two cutoffs and then held. A model of the first two
    cutoffs over-predicts the third; that correction must not be applied again to the final
    model, which learned the third cutoff too (before: calibrated on the first model's margins,
    it under-predicted the next window by about as much as the drift). Above CROSS_FIT_ROWS the
    margins come from one split of the latest cutoff instead of inner folds."""
    monkeypatch.setattr(training, "CROSS_FIT_ROWS", cross_fit_rows)
    rng = np.random.default_rng(0)
    parts = [_cutoff_rows(rng, 3000, shift) for shift in (1.5, 0.5, 0.0)]
    X = pd.concat([x for x, _ in parts], ignore_index=True)
    y = pd.Series(np.concatenate([t for _, t in parts]))
    cutoff = np.repeat(CUTOFFS, 3000)
    pred = fit_predictor("purchase", X, y, ModelsConfig(), seed=0, cutoff=cutoff)
    assert pred.refitted_ and pred.calibration_ in ("none", "sigmoid", "isotonic")
    new_X, new_y = _cutoff_rows(np.random.default_rng(1), 8000, 0.0)  # the next window
    model = pred.predict_value(new_X)
    logreg = pred.baselines_["logreg"].predict(new_X)
    assert abs(model.mean() - new_y.mean()) < 0.015, (model.mean(), new_y.mean())
    assert ece(new_y, model) <= ece(new_y, logreg) + 0.005
    assert ece(new_y, model) < 0.025
    # a monotone map: the ranking of the raw margins is kept
    assert roc_auc(new_y, model) == roc_auc(new_y, pred.predict_margin(new_X))


def test_a_miscalibrated_model_is_calibrated_on_held_out_rows():
    """Overconfident margins (three times the true log-odds): the chosen map brings the ECE of
    rows it never saw under that of logistic regression on the same margins plus 0.005."""
    rng = np.random.default_rng(5)
    truth = rng.normal(-0.5, 1.2, 12000)
    y = (rng.random(12000) < expit(truth)).astype(float)
    margin = 3.0 * truth
    fit, held = slice(0, 6000), slice(6000, None)
    method, scores = choose_calibration(margin[fit], y[fit], seed=0)
    assert method != "none" and scores[f"{method}_ece"] < scores["none_ece"]
    calibrated = Calibrator(method).fit(margin[fit], y[fit]).transform(margin[held])
    logreg = Calibrator("sigmoid").fit(margin[fit], y[fit]).transform(margin[held])
    assert ece(y[held], expit(margin[held])) > 0.05  # the raw margins are far off
    assert ece(y[held], calibrated) <= ece(y[held], logreg) + 0.005


def test_the_choice_breaks_log_loss_ties_by_calibration_error_and_reports_its_scores():
    rng = np.random.default_rng(7)
    m = rng.normal(0, 2, 5000)
    y = (rng.random(5000) < expit(m)).astype(float)  # calibrated already
    method, scores = choose_calibration(m, y, seed=0)
    assert set(scores) == {"none", "sigmoid", "isotonic", "none_ece", "sigmoid_ece",
                           "isotonic_ece"}
    assert method in ("none", "sigmoid")  # isotonic's steps cost log loss here: not tied
    assert scores["isotonic"] > scores[method]
    if method == "sigmoid":  # tied with none on log loss, lower in calibration error
        assert scores["sigmoid_ece"] < scores["none_ece"]
        platt = Calibrator("sigmoid").fit(m, y)
        assert abs(platt.a_ - 1) < 0.1 and abs(platt.b_) < 0.1  # and close to the identity
    # a step no sigmoid can follow, on many rows: isotonic wins on log loss outright
    step = (rng.random(20000) < np.where(m.repeat(4) > 1, 0.9, 0.1)).astype(float)
    method, scores = choose_calibration(m.repeat(4), step, seed=0)
    assert method == "isotonic" and scores["isotonic_ece"] < scores["sigmoid_ece"] - 0.01
    # the same rows and seed give the same choice and scores
    assert choose_calibration(m, y, seed=0) == choose_calibration(m, y, seed=0)
