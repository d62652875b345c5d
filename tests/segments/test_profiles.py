import numpy as np
import pandas as pd
import pytest

from segml.segments import name_segments, profile_hierarchy, profile_segments, segment_effects


def test_profiles_per_level(blobs, fitted):
    X, truth = blobs
    h, A = fitted
    labels = pd.DataFrame({"churn": (truth["true_macro"] == 2).astype(float),
                           "purchase": (truth["true_macro"] == 0).astype(float)}, index=X.index)
    profiles = profile_hierarchy(X, A, labels=labels, min_profile_size=50)
    assert set(profiles) == {1, 2}
    for level, p in profiles.items():
        assert set(p.index) == set(A[f"segment_level_{level}"])
        assert p["size"].sum() == len(X) and p["share"].sum() == pytest.approx(1.0)
        assert p["revenue_share"].sum() == pytest.approx(1.0)
        assert p["churn_rate"].between(0, 1).all()
        assert p["top_features"].map(len).between(1, 5).all()
    top = profiles[1]
    # the low-value macro group (highest churn in these labels) has the lowest AOV and value
    low = top["churn_rate"].idxmax()
    assert top.loc[low, "churn_rate"] == pytest.approx(1.0, abs=0.05)
    assert top.loc[low, "aov"] == top["aov"].min()
    assert top.loc[low, "value_effect"] < -0.5 and top.loc[low, "recency_effect"] > 0.5


def test_small_groups_are_suppressed():
    rng = np.random.default_rng(1)
    seg = pd.Series(np.repeat(["a", "b", "c"], [400, 300, 20]))
    X = pd.DataFrame({"monetary_sum": rng.gamma(2, 50, 720), "frequency": rng.poisson(4, 720)})
    p = profile_segments(X, seg, min_profile_size=50)
    small = p.loc["c"]
    assert bool(small["suppressed"]) and pd.isna(small["size"]) and pd.isna(small["share"])
    assert pd.isna(small["revenue_share"]) and pd.isna(small["aov"] if "aov" in p else np.nan)
    assert small["top_features"] == [] and small["distinguishing"] == []
    assert not p.loc[["a", "b"], "suppressed"].any()
    assert name_segments(p)["c"] == "Small group"


def test_effect_sizes():
    rng = np.random.default_rng(2)
    n = 2000
    seg = pd.Series(np.where(np.arange(n) < 500, "hi", "rest"))
    X = pd.DataFrame({
        "x": np.where(seg == "hi", 1.0, 0.0) + rng.normal(0, 1, n),   # d ~ 1
        "noise": rng.normal(0, 1, n),
        "region": pd.Categorical(np.where((seg == "hi") & (rng.random(n) < 0.9), "North",
                                          rng.choice(["South", "East"], n))),
    })
    e = segment_effects(X, seg).set_index(["segment", "feature"])
    assert e.loc[("hi", "x"), "effect"] == pytest.approx(1.0, abs=0.15)
    assert e.loc[("rest", "x"), "effect"] == pytest.approx(-1.0, abs=0.15)
    assert abs(e.loc[("hi", "noise"), "effect"]) < 0.15
    v = e.loc[("hi", "region=North"), "effect"]
    assert 0.7 < v <= 1.0
    p = profile_segments(X, seg, min_profile_size=50, top_n=2)
    assert p.loc["hi", "top_features"][0].startswith("region=North")
