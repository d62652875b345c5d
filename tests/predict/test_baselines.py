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


def test_logreg_baseline_reads_categories_by_text_unseen_and_missing_levels_included():
    """The baseline encodes a categorical through its codes: the same scores whatever the
    category order or dtype, a level unseen at fit is one-hot unknown, missing is a level."""
    from segml.predict.baselines import LogRegBaseline

    rng = np.random.default_rng(4)
    n = 3000
    plan = rng.choice(["basic", "plus", "pro"], n).astype(object)
    plan[rng.random(n) < 0.1] = None
    y = ((plan == "pro") | (rng.random(n) < 0.2)).astype(float)
    x = rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "plan": pd.Categorical(plan, categories=["basic", "plus", "pro"])})
    fitted = LogRegBaseline("purchase").fit(frame, y)
    reordered = frame.assign(plan=pd.Categorical(plan, categories=["pro", "zzz", "plus", "basic"]))
    as_text = frame.assign(plan=pd.Series(plan, dtype=object))
    np.testing.assert_allclose(fitted.predict(reordered), fitted.predict(frame), rtol=1e-12)
    np.testing.assert_allclose(fitted.predict(as_text), fitted.predict(frame), rtol=1e-12)
    scores = pd.Series(fitted.predict(frame)).groupby(pd.Series(plan).fillna("(missing)")).mean()
    assert scores["pro"] > scores["basic"] and "(missing)" in scores.index
    unseen = frame.head(3).assign(plan=pd.Categorical(["gold"] * 3))
    assert np.isfinite(fitted.predict(unseen)).all()
