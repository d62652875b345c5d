"""Training shortcuts that must not change a fitted model (docs/predictions.md, "Training").

* A refit (``Predictor.refit_on``) skips the held-out fit nobody reads (``run(judged=False)``):
  the fresh model must equal the one a judged run fits, bit for bit.
* The final fit and the cross-fitted calibration run side by side on the free cores: the model
  must equal the one fitted one part after the other.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synth_predict import make_xy

import segml.predict.training as training
from segml.predict import Predictor
from segml.predict.training import CandidateSearch, refit_params


def _same_model(a, b, X: pd.DataFrame) -> None:
    """Two fitted predictors score, calibrate and store alike (bit for bit)."""
    assert a.winner_ == b.winner_ and a.calibration_ == b.calibration_
    assert a.best_iteration_ == b.best_iteration_ and a.weights_ == b.weights_
    assert a.n_train_rows_ == b.n_train_rows_ and a.validation_ == b.validation_
    assert (a.booster_ is None) == (b.booster_ is None)
    if a.booster_ is not None:
        assert a.booster_.model_to_string() == b.booster_.model_to_string()
    assert (a.linear_ is None) == (b.linear_ is None)
    if a.linear_ is not None:
        assert np.array_equal(a.linear_.coef_, b.linear_.coef_)
        assert a.linear_.intercept_ == b.linear_.intercept_
    assert np.array_equal(a.predict_value(X), b.predict_value(X))


def _recipe(target: str, candidates: tuple[str, ...], seed: int = 3):
    """An evaluation fit on two earlier cutoffs, then the rows of a fresh refit (two later ones)."""
    X, Y, cutoff = make_xy(2400, seed=seed, cutoffs=2)
    column = {"spend": "future_spend"}.get(target, target)
    first = Predictor(target=target, n_estimators=60, candidates=candidates, seed=seed).fit(
        X, Y[column], cutoff=cutoff)
    return first, X, Y[column], cutoff + pd.Timedelta(days=90)


@pytest.mark.parametrize(("target", "candidates"), [
    ("churn", ("lgbm",)),             # classifier: the cross-fitted calibration
    ("purchase", ("blend",)),         # a blend: booster and logistic regression, both cross-fitted
    ("spend", ("lgbm_shallow",)),     # the regressor: nothing to calibrate
])
def test_an_unjudged_refit_equals_a_judged_one(monkeypatch, target, candidates):
    first, X, y, later = _recipe(target, candidates)
    params = refit_params(first.get_params(), winner=first.winner_,
                          best_iteration=first.best_iteration_, booster_params=first.params_,
                          calibration=first.calibration_,
                          blend_parts=getattr(first, "blend_parts_", None))
    judged = Predictor(**params)
    judged._hold(CandidateSearch(judged.get_params()).run(X, y, cutoff=later))

    def no_held_out(*args, **kwargs):
        raise AssertionError("the refit fitted held-out margins nobody reads")

    monkeypatch.setattr(CandidateSearch, "_held_out", no_held_out)  # the refit takes the shortcut
    fresh = first.refit_on(X, y, cutoff=later)
    _same_model(fresh, judged, X)
    # the judged run scored its own held-out rows; the refit keeps the evaluation fit's scores
    assert np.isfinite(judged.candidate_scores_[first.winner_])
    assert fresh.candidate_scores_ == first.candidate_scores_


def test_an_unjudged_run_still_fits_held_out_when_it_calibrates_on_them():
    """Above refit_max_rows one fit learns all but a share of the latest cutoff and is
    calibrated on that share: the held-out fit is the model, so it is never skipped."""
    first, X, y, later = _recipe("churn", ("lgbm",))
    params = refit_params(first.get_params(), winner=first.winner_,
                          best_iteration=first.best_iteration_, booster_params=first.params_,
                          calibration=first.calibration_, blend_parts=None)
    params["refit_max_rows"] = 1000
    run = CandidateSearch(params).run(X, y, cutoff=later, judged=False)
    assert not run.refitted and np.isfinite(run.candidate_scores[first.winner_])
    judged = CandidateSearch(params).run(X, y, cutoff=later)
    assert run.booster.model_to_string() == judged.booster.model_to_string()


@pytest.mark.parametrize("candidates", [("lgbm", "lgbm_shallow", "logreg", "blend"), ("blend",)])
def test_final_and_cross_fits_side_by_side_equal_one_after_the_other(monkeypatch, candidates):
    X, Y, cutoff = make_xy(2400, seed=5, cutoffs=2)
    fit = lambda: Predictor(target="churn", n_estimators=60, candidates=candidates,  # noqa: E731
                            seed=5).fit(X, Y["churn"], cutoff=cutoff)
    monkeypatch.setattr(training, "available_cores", lambda: 4)
    side_by_side = fit()
    monkeypatch.setattr(training, "available_cores", lambda: 1)
    in_turn = fit()
    assert side_by_side.refitted_  # the path under test: final fit beside the cross-fit
    _same_model(side_by_side, in_turn, X)
    assert side_by_side.candidate_scores_ == in_turn.candidate_scores_
