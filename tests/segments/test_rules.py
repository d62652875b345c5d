import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from segml.config import LifecycleThresholds
from segml.segments import RuleSegmenter
from segml.segments.rules import RFM_GRID, RFM_SEGMENTS, rfm_segment_name


def test_grid_covers_every_score_with_the_eleven_names():
    r, f, m = np.meshgrid(*[np.arange(1, 6)] * 3, indexing="ij")
    names = rfm_segment_name(r.ravel(), f.ravel(), m.ravel())
    assert set(names) == set(RFM_SEGMENTS) and len(RFM_SEGMENTS) == 11
    assert RFM_GRID[5][4] == "Champions" and RFM_GRID[1][0] == "Lost"


def test_rfm_scores_use_learned_edges(blobs):
    X, _ = blobs
    rules = RuleSegmenter().fit(X)
    R = rules.transform(X)
    for col in ("rfm_r", "rfm_f", "rfm_m"):
        assert R[col].between(1, 5).all()
    # quintiles: each recency score holds about a fifth of the customers
    assert R["rfm_r"].value_counts(normalize=True).between(0.15, 0.25).all()
    # most recent customers get R = 5
    assert R.loc[X["recency_days"].idxmin(), "rfm_r"] == 5
    # scoring one customer alone gives the same result as in the batch (edges from fit)
    one = rules.transform(X.iloc[[7]])
    pd.testing.assert_frame_equal(one, R.iloc[[7]], check_categorical=False)
    assert R["rfm_score"].iloc[7] == f"{R.rfm_r.iloc[7]}{R.rfm_f.iloc[7]}{R.rfm_m.iloc[7]}"
    champions = X.loc[R["rfm_segment"] == "Champions", "monetary_sum"].mean()
    lost = X.loc[R["rfm_segment"] == "Lost", "monetary_sum"].mean()
    assert champions > 3 * lost


def test_lifecycle_stages_follow_thresholds():
    X = pd.DataFrame({
        "tenure_days": [30.0, 400, 400, 400, 400, 400],
        "recency_days": [5.0, 10, 100, 200, 10, np.nan],
        "orders_365d": [1.0, 8, 1, 0, 1, 0],
    })
    stages = RuleSegmenter().fit(X).transform(X)["lifecycle_stage"].astype(str).tolist()
    assert stages == ["new", "loyal", "at risk", "lapsed", "active", "lapsed"]
    strict = LifecycleThresholds(new_days=10, at_risk_days=300, lapsed_days=400,
                                 loyal_min_orders=20)
    stages = RuleSegmenter(lifecycle=strict).fit(X).transform(X)["lifecycle_stage"]
    assert stages.astype(str).tolist() == ["active"] * 5 + ["lapsed"]


def test_nps_and_engagement():
    X = pd.DataFrame({"nps_score": [10.0, 9, 8, 7, 6, 0, np.nan, 5],
                      "events_email_open_90d": [0.0, 0, 1, 2, 3, 10, 20, 30],
                      "events_session_90d": [0.0] * 8})
    rules = RuleSegmenter().fit(X)
    R = rules.transform(X)
    assert R["nps_class"].astype(str).tolist() == [
        "promoter", "promoter", "passive", "passive", "detractor", "detractor", "unknown",
        "detractor"]
    assert R["engagement_level"].astype(str).tolist()[:2] == ["low", "low"]
    assert R["engagement_level"].astype(str).iloc[-1] == "high"
    new = pd.DataFrame({"nps_score": [9.0], "events_email_open_90d": [25.0],
                        "events_session_90d": [0.0]})
    assert rules.transform(new)["engagement_level"].astype(str).tolist() == ["high"]


def test_missing_columns_omit_outputs():
    X = pd.DataFrame({"age": [30.0, 40.0], "region": pd.Categorical(["a", "b"])},
                     index=pd.Index(["x", "y"], name="customer_id"))
    R = RuleSegmenter().fit(X).transform(X)
    assert list(R.columns) == [] and list(R.index) == ["x", "y"]
    R = RuleSegmenter(nps_column="age").fit(X).transform(X)
    assert list(R.columns) == ["nps_class"]


def test_estimator_contract(blobs):
    X, _ = blobs
    rules = RuleSegmenter(nps_column="nps")
    with pytest.raises(NotFittedError):
        rules.transform(X)
    twin = clone(rules)
    assert twin.get_params() == rules.get_params()
    twin.set_params(nps_column="nps_score")
    assert twin.nps_column == "nps_score" and rules.nps_column == "nps"
