"""scikit-learn's own estimator checks on :class:`segml.predict.Predictor`.

``parametrize_with_checks`` runs every check that applies to a classifier (churn) and a regressor
(spend). The checks listed in :data:`SKIPPED` are expected to fail, each for a reason of design:

* **labels**: a segml target is binary 0/1 (classifiers) or a non-negative spend (the Tweedie
  regressor); strings, several classes, one class, negative or continuous class labels are
  refused with a ``DataError`` naming the label column;
* **feature frames**: a predictor reads a feature frame by column *name* (extra columns are
  ignored, a missing one is a ``DataError`` naming it), NaN labels mark rows whose outcome is
  unknown (dropped, not an error), and inputs go through pandas rather than ``check_array``:
  sparse, complex, 1-D, empty and "not an array" inputs fail with pandas' or segml's messages,
  not scikit-learn's wording.

Everything else passes: ``get_params``/``set_params``/``clone`` from the keyword-only
constructor, ``fit`` returning self, ``predict`` giving labels and ``predict_proba`` probabilities
(classifier), ``n_features_in_``, determinism, pickling, no mutation of the parameters.
"""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from segml.predict.models import Predictor

LABELS = "a segml target is binary 0/1 or a non-negative spend: other labels are a DataError"
FRAMES = ("a feature frame read by column name through pandas: not check_array's input "
          "validation or wording")
SKIPPED = {
    "churn": {
        "check_estimators_dtypes": LABELS, "check_classifiers_one_label": LABELS,
        "check_classifiers_classes": LABELS, "check_classifiers_regression_target": LABELS,
        "check_classifier_not_supporting_multiclass": LABELS, "check_fit2d_1sample": LABELS,
        "check_n_features_in_after_fitting": FRAMES, "check_classifiers_train": FRAMES,
        "check_classifier_data_not_an_array": FRAMES,
    },
    "spend": {
        "check_n_features_in_after_fitting": LABELS, "check_regressors_train": LABELS,
        "check_fit_idempotent": LABELS, "check_fit_check_is_fitted": LABELS,
        "check_n_features_in": LABELS, "check_regressor_data_not_an_array": FRAMES,
    },
    "both": {
        "check_complex_data": FRAMES, "check_dtype_object": FRAMES,
        "check_estimators_empty_data_messages": FRAMES, "check_estimator_sparse_tag": FRAMES,
        "check_estimator_sparse_array": FRAMES, "check_estimator_sparse_matrix": FRAMES,
        "check_supervised_y_2d": FRAMES, "check_supervised_y_no_nan": FRAMES,
        "check_fit2d_predict1d": FRAMES, "check_requires_y_none": FRAMES,
    },
}


def _expected(estimator: Predictor) -> dict[str, str]:
    return {**SKIPPED["both"], **SKIPPED[estimator.target]}


@parametrize_with_checks([Predictor(target="churn", n_estimators=10, seed=0),
                          Predictor(target="spend", n_estimators=10, seed=0)],
                         expected_failed_checks=_expected)
def test_scikit_learn_checks(estimator, check):
    check(estimator)


def test_predict_and_predict_proba_mean_what_they_mean_in_scikit_learn():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"recency_days": rng.exponential(60, 400)})
    y = pd.Series((X.recency_days > 60).astype(float))
    pred = Predictor(target="churn", n_estimators=20, seed=0).fit(X, y)
    proba = pred.predict_proba(X)
    assert proba.shape == (400, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(proba[:, 1], pred.predict_value(X))
    assert np.array_equal(pred.predict(X), pred.classes_[(proba[:, 1] >= 0.5).astype(int)])
    spend = Predictor(target="spend", n_estimators=20, seed=0).fit(X, X.recency_days)
    assert not hasattr(spend, "predict_proba")
    assert np.array_equal(spend.predict(X), spend.predict_value(X))
    with pytest.raises(TypeError):
        Predictor("churn")  # keyword-only
