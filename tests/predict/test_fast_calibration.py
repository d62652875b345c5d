"""Scoring one row or many gives the same calibrated numbers, whatever candidate won."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.predict.models import Predictor


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"recency_days": rng.exponential(60, 800), "frequency": rng.poisson(3, 800) * 1.0})
    y = pd.Series((rng.random(800) < 1 / (1 + np.exp(-(X.recency_days - 60) / 30))).astype(float))
    return X, y


@pytest.mark.parametrize("calibration", ["isotonic", "sigmoid", "none"])
def test_small_inputs_calibrate_like_the_calibrator(data, calibration):
    X, y = data
    pred = Predictor(target="churn", n_estimators=30, calibration=calibration, seed=1).fit(X, y)
    far = pd.DataFrame({"recency_days": [-50.0, 1e6], "frequency": [0.0, 400.0]})  # clipped ends
    rows = pd.concat([X.head(40), far], ignore_index=True)
    matrix = pred.matrix(rows)
    margin = pred.margin_matrix(matrix)
    expected = pred.calibrator_.transform(margin)
    assert pred.calibration_ == calibration
    for size in (1, 3, len(rows)):
        got = np.concatenate([pred.predict_matrix(matrix[i:i + size])
                              for i in range(0, len(rows), size)])
        np.testing.assert_array_equal(got, expected)
    assert np.array_equal(pred.predict_value(rows), expected)
