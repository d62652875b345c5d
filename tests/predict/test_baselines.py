"""Baselines (segml.predict.baselines) at scale."""

import numpy as np
import pandas as pd


def test_logreg_baseline_scores_by_blocks_of_rows_as_at_once(monkeypatch):
    """The baseline transforms and scores a block of rows at a time (a million customers at once
    held GiBs of dense copies): the probabilities are those of the whole matrix at once."""
    from segml.predict import baselines

    rng = np.random.default_rng(0)
    n = 5000
    X = pd.DataFrame({"a": rng.normal(size=n),
                      "b": np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2.0, 3.0, n)),
                      "c": pd.Categorical(rng.choice(["x", "y", "z", None], n))})
    y = (X["a"] + rng.normal(size=n) > 0).astype(float)
    model = baselines.LogRegBaseline("churn").fit(X, y)
    whole = model.model_.predict_proba(model._frame(X))[:, 1]
    for block in (7, 1000, 10**6):
        monkeypatch.setattr(baselines, "PREDICT_BLOCK_ROWS", block)
        np.testing.assert_allclose(model.predict(X), whole, rtol=0, atol=1e-15)
