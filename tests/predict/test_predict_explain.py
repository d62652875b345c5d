import json

import numpy as np
import pytest

from segml.config import ModelsConfig
from segml.predict import (
    contributions,
    drivers_by_segment,
    explain_global,
    fit_predictor,
    plot_beeswarm,
    plot_importance_bar,
    top_reasons,
)

FAST = ModelsConfig(n_estimators=80, learning_rate=0.1, early_stopping_rounds=20)


@pytest.fixture(scope="module")
def churn_model(data):
    X, Y, cutoff = data
    return fit_predictor("churn", X, Y, FAST, seed=0, cutoff=cutoff, baselines=False)


def test_contributions_sum_to_margin(churn_model, data):
    X = data[0].head(300)
    contrib = contributions(churn_model, X)
    assert np.allclose(contrib.sum(axis=1), churn_model.predict_margin(X), atol=1e-9)


def test_reasons_are_signed_top_k_and_add_up(churn_model, data):
    X = data[0].head(200)
    contrib = contributions(churn_model, X)
    k = len(churn_model.feature_names_)
    reasons = top_reasons(churn_model, X, k=k, decimals=10)
    assert reasons.name == "churn_reasons" and reasons.index.equals(X.index)
    parsed = reasons.map(json.loads)
    totals = parsed.map(lambda r: sum(item["contribution"] for item in r))
    assert np.allclose(totals + contrib["bias"], churn_model.predict_margin(X), atol=1e-6)
    top3 = top_reasons(churn_model, X, k=3).map(json.loads)
    for customer, items in top3.items():
        assert len(items) == 3
        values = [item["contribution"] for item in items]
        assert values == sorted(values, key=abs, reverse=True)
        for item in items:
            assert item["contribution"] == pytest.approx(contrib.loc[customer, item["feature"]], abs=1e-4)
    signs = {np.sign(item["contribution"]) for items in top3 for item in items}
    assert signs == {-1.0, 1.0}  # both directions occur


def test_spend_reasons_add_up_to_log_spend(data):
    X, Y, cutoff = data
    pred = fit_predictor("spend", X, Y, FAST, seed=0, cutoff=cutoff, baselines=False)
    contrib = contributions(pred, X.head(100))
    assert np.allclose(np.exp(contrib.sum(axis=1)), pred.predict_value(X.head(100)), rtol=1e-9)


def test_global_importance_ranks_signal_over_noise(churn_model, data):
    imp = explain_global(churn_model, data[0].head(1500))
    assert list(imp.columns) == ["feature", "mean_abs_shap"]
    assert imp["mean_abs_shap"].is_monotonic_decreasing
    ranks = {f: i for i, f in enumerate(imp["feature"])}
    assert ranks["recency_days"] < ranks["noise"]
    assert ranks["tenure_days"] < ranks["noise"]


def test_drivers_by_segment_respects_min_size(churn_model, data):
    X = data[0].head(1000)
    labels = np.where(X["recency_days"] < 80, "recent", "lapsed")
    labels[:10] = "tiny"
    drivers = drivers_by_segment(churn_model, X, labels, k=2, min_size=50)
    assert set(drivers["segment"]) == {"recent", "lapsed"}
    assert drivers.groupby("segment")["rank"].apply(list).tolist() == [[1, 2], [1, 2]]
    recent = drivers[drivers.segment == "recent"]
    assert (recent["customers"] == int((labels == "recent").sum())).all()


def test_plots_write_png(churn_model, data, tmp_path):
    X = data[0].head(400)
    bar = plot_importance_bar(explain_global(churn_model, X), tmp_path / "bar.png")
    bee = plot_beeswarm(churn_model, X, tmp_path / "bee.png")
    for path in (bar, bee):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
