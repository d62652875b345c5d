"""Each target applies to its own population (docs/cutoffs.md): churn only to active customers,
in scores, reasons and the segment KPIs built from them."""

import numpy as np
import pandas as pd
import pytest

from segml.predict import Predictor
from segml.scoring.scorer import CustomerScorer
from segml.segments import profile_hierarchy
from segml.workflow.stages import Segmentation, profile_with_predictions


def _scorer(window: float | None = 180.0) -> CustomerScorer:
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"recency_days": rng.exponential(80, 800), "frequency": rng.poisson(4, 800) * 1.0})
    y = pd.Series((rng.random(800) < 1 / (1 + np.exp(-(X.recency_days - 80) / 30))).astype(float))
    churn = Predictor(target="churn", n_estimators=30, seed=0).fit(X, y)
    purchase = Predictor(target="purchase", n_estimators=30, seed=0).fit(X, 1 - y)
    return CustomerScorer(feature_names=["recency_days", "frequency"], categorical_levels={},
                          rules=None, hierarchy=None,
                          predictors={"churn": churn, "purchase": purchase},
                          activity_window_days=window)


def _planted() -> pd.DataFrame:
    """Segment 1: 60 active customers and 40 who lapsed long ago; segment 2: 50 active."""
    recency = np.r_[np.linspace(1, 170, 60), np.linspace(200, 700, 40), np.linspace(5, 90, 50)]
    recency[-1] = np.nan  # never purchased: not active either
    ids = pd.Index([f"c{i:03d}" for i in range(150)], name="customer_id")
    return pd.DataFrame({"recency_days": recency, "frequency": 3.0}, index=ids)


def test_churn_is_scored_only_for_active_customers_and_purchase_for_everyone():
    X = _planted()
    scored = _scorer().score(X, reasons=True).set_index("customer_id")
    active = X["recency_days"] < 180
    assert scored["churn_probability"].notna().equals(active)
    assert scored.loc[~active, "churn_reasons"].isna().all()
    assert scored.loc[active, "churn_reasons"].notna().all()
    assert scored["purchase_probability"].notna().all()
    # a model pickled before populations existed (no window) scores everyone, as it did
    assert _scorer(window=None).score(X)["churn_probability"].notna().all()


def test_segment_churn_kpi_is_the_mean_over_the_active_customers_only():
    X = _planted()
    scored = _scorer().score(X).set_index("customer_id")
    segments = pd.DataFrame({"segment_level_1": ["1"] * 100 + ["2"] * 50}, index=X.index)
    profiles = profile_hierarchy(X, segments, min_profile_size=50)
    segmentation = Segmentation(None, None, segments, pd.DataFrame(index=X.index), profiles, {})
    profiles = profile_with_predictions(segmentation, X, scored).profiles[1]
    churn = scored["churn_probability"]
    first = churn.iloc[:100]
    assert profiles.loc["1", "churn_rate"] == pytest.approx(first[X["recency_days"].iloc[:100] < 180].mean())
    # the lapsed customers, had they been scored, would have raised the segment's churn
    everyone = _scorer(window=None).score(X)["churn_probability"].iloc[:100].mean()
    assert everyone > profiles.loc["1", "churn_rate"] + 0.1
    assert profiles.loc["1", "purchase_rate"] == pytest.approx(
        scored["purchase_probability"].iloc[:100].mean())
    # the rates sit where a profile with labels has them, before the distinguishing features
    columns = list(profiles.columns)
    assert columns.index("churn_rate") + 1 == columns.index("purchase_rate") < columns.index(
        "top_features")



def test_each_target_is_explained_on_a_seeded_sample_of_its_own_population():
    """Issue 27: churn's explanations, in the report and through segml.explain, read only the
    customers churn scores; every other target reads every customer."""
    from segml import explain
    from segml.workflow.explanations import explained_rows, population_of

    X = _planted()
    active = X["recency_days"] < 180
    assert population_of(X, "churn", 180.0).index.equals(X.index[active])
    assert population_of(X, "purchase", 180.0).index.equals(X.index)
    assert population_of(X, "churn", None).index.equals(X.index)  # attributes mode: no window
    churn = explained_rows(X, "churn", 180.0, 60, seed=3)
    purchase = explained_rows(X, "purchase", 180.0, 60, seed=3)
    assert len(churn) == len(purchase) == 60 and active[churn.index].all()
    assert not active[purchase.index].all()  # the lapsed are in purchase's sample
    assert churn.index.equals(explained_rows(X, "churn", 180.0, 60, seed=3).index)  # seeded
    assert not churn.index.equals(explained_rows(X, "churn", 180.0, 60, seed=4).index)
    # the whole population when it is smaller than the sample: the sizes differ by target
    assert len(explained_rows(X, "churn", 180.0, 1000, 0)) == active.sum() < len(
        explained_rows(X, "purchase", 180.0, 1000, 0)) == len(X)
    scorer = _scorer()
    assert len(explain(scorer, X, target="churn").values) == active.sum()
    assert len(explain(scorer, X, target="purchase").values) == len(X)
    sampled = explain(scorer, X, target="churn", max_rows=40, seed=3)
    expected = explained_rows(X, "churn", 180.0, 40, seed=3)
    np.testing.assert_allclose(sampled.values, explain(scorer, expected, target="churn").values)
