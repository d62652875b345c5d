import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score

from segml.config import GuidedLevel, SegmentsConfig
from segml.errors import DataError
from segml.segments import RuleSegmenter, SegmentHierarchy
from segml.segments.tree import auto_level_counts, cut_linkage, weighted_ward

from .blobs import make_segment_blobs


def test_recovers_ground_truth(blobs, fitted):
    X, truth = blobs
    h, A = fitted
    assert adjusted_rand_score(truth["true_leaf"], A["segment_leaf"]) >= 0.8
    assert adjusted_rand_score(truth["true_macro"], A["segment_level_1"]) >= 0.8
    assert h.depth_ == 2 and 8 <= len(h.hierarchy_) <= h.max_segments_per_level
    # a true leaf may be split along its value spread, but found leaves never mix true leaves
    table = pd.crosstab(A["segment_leaf"], truth["true_leaf"])
    assert (table.max(axis=1) / table.sum(axis=1)).min() >= 0.9


def test_recovers_ground_truth_when_fitted_on_a_sample():
    X, truth = make_segment_blobs(12000, seed=5)
    h = SegmentHierarchy(sample_size=4000, random_state=1).fit(X)
    A = h.assign(X)
    assert adjusted_rand_score(truth["true_leaf"], A["segment_leaf"]) >= 0.8
    assert adjusted_rand_score(truth["true_macro"], A["segment_level_1"]) >= 0.8
    assert len(h.labels_) == pytest.approx(4000, abs=30)
    # agreement with hdbscan.approximate_predict on held-out customers
    assert h.agreement_clustered_ >= 0.95
    assert 0.85 <= h.agreement_ <= 1.0
    # new customers from the same population are assigned consistently
    X2, truth2 = make_segment_blobs(2000, seed=6)
    assert adjusted_rand_score(truth2["true_leaf"], h.predict(X2)) >= 0.8


def test_same_data_params_seed_give_identical_segments(blobs, fitted):
    X, _ = blobs
    h, A = fitted
    again = SegmentHierarchy(random_state=3).fit(X)
    pd.testing.assert_frame_equal(again.assign(X), A)
    pd.testing.assert_frame_equal(again.hierarchy_, h.hierarchy_)


def test_assignment_columns_and_ids(fitted):
    h, A = fitted
    assert list(A.columns) == ["segment_leaf", "segment_path", "segment_level_1",
                               "segment_level_2", "segment_is_noise"]
    assert A["segment_leaf"].dtype.kind == "i" and A["segment_is_noise"].dtype == bool
    assert (A["segment_path"] == A["segment_level_2"]).all()
    assert (A["segment_path"].str.split(".").str[0] == A["segment_level_1"]).all()
    # ids ordered by size (largest first) within each parent
    top = A["segment_level_1"].value_counts()
    assert top.idxmax() == "1" and top.is_monotonic_decreasing
    table = h.hierarchy_
    for _, group in table.groupby("level_1"):
        ordered = group.sort_values("path", key=lambda s: s.str.split(".").str[1].astype(int))
        assert ordered["size"].is_monotonic_decreasing
    assert list(table.index) == list(range(1, len(table) + 1))
    assert {"path", "level_1", "level_2", "size", "share", "centroid"} <= set(table.columns)
    assert table["share"].sum() == pytest.approx(1.0)


def test_noise_points_are_assigned_and_flagged(blobs):
    X, _ = blobs
    far = X.iloc[:5].copy()
    far["monetary_sum"] *= 1e4
    far["share_category_books"] = 0.34
    far["share_category_toys"] = 0.33
    far["share_category_garden"] = 0.33
    h = SegmentHierarchy(random_state=3).fit(pd.concat([X, far.set_axis(far.index + "x")]))
    A = h.assign(X)
    assert A["segment_leaf"].notna().all()
    assert h.sample_is_noise_.iloc[-5:].all()
    assert set(h.labels_.iloc[-5:]) <= set(h.hierarchy_.index)


def test_size_controls_and_levels(blobs):
    X, _ = blobs
    h = SegmentHierarchy(max_segments_per_level=4, random_state=3).fit(X)
    assert len(h.hierarchy_) <= 4
    h = SegmentHierarchy(min_segment_share=0.15, random_state=3).fit(X)
    assert h.assign(X)["segment_leaf"].value_counts(normalize=True).min() >= 0.12
    h = SegmentHierarchy(levels=3, level_sizes=[2, 3], random_state=3).fit(X)
    A = h.assign(X)
    assert A["segment_level_1"].nunique() == 2 and A["segment_level_2"].nunique() == 3
    assert A["segment_path"].str.count(r"\.").eq(2).all()
    h = SegmentHierarchy(levels=1, random_state=3).fit(X)
    assert h.depth_ == 1 and "segment_level_2" not in h.assign(X)


def test_guided_levels(blobs):
    X, _ = blobs
    R = RuleSegmenter().fit(X).transform(X)
    h = SegmentHierarchy(guided_levels=[("region", 2), ("lifecycle_stage", 8)],
                         random_state=3).fit(X, rule_segments=R)
    A = h.assign(X, rule_segments=R)
    assert h.depth_ == 4
    assert set(A["segment_level_1"]) == {"North", "South", "Other"}
    assert (A.loc[X["region"] == "East", "segment_level_1"] == "Other").all()
    lvl2 = A["segment_level_2"].str.split(".").str[1]
    assert (lvl2.to_numpy() == R["lifecycle_stage"].astype(str).to_numpy()).all()
    assert A["segment_path"].str.match(r"^(North|South|Other)\.[a-z ]+\.\d+\.\d+$").all()
    # the rule column is derived when the rule segments are not passed
    assert (h.assign(X)["segment_path"] == A["segment_path"]).all()
    with pytest.raises(DataError, match="nope"):
        SegmentHierarchy(guided_levels=[("nope", 3)]).fit(X)


def test_from_config_and_estimator_contract(blobs):
    X, _ = blobs
    cfg = SegmentsConfig(levels=3, sample_size=500, guided_levels=[GuidedLevel(column="region")])
    h = SegmentHierarchy.from_config(cfg, seed=9)
    assert h.levels == 3 and h.random_state == 9 and h.guided_levels == (("region", 8),)
    with pytest.raises(NotFittedError):
        h.assign(X)
    twin = clone(h).set_params(levels=2)
    assert twin.levels == 2 and h.levels == 3
    assert clone(h).get_params() == h.get_params()


def test_bad_input_names_the_column(fitted, blobs):
    h, _ = fitted
    X, _ = blobs
    with pytest.raises(DataError, match="monetary_mean"):
        h.assign(X.drop(columns=["monetary_mean"]))
    with pytest.raises(DataError, match="nope"):
        SegmentHierarchy(features=["nope"]).fit(X)


def test_names_are_added_to_assignments(blobs):
    X, _ = blobs
    h = SegmentHierarchy(random_state=3).fit(X)
    h.set_names({1: {"1": "Big spenders"}})
    A = h.assign(X)
    assert (A.loc[A["segment_level_1"] == "1", "segment_name_level_1"] == "Big spenders").all()
    assert (A.loc[A["segment_level_1"] == "2", "segment_name_level_1"] == "2").all()


def test_tree_helpers():
    Z = weighted_ward(np.array([[0.0], [1.0], [10.0], [11.0]]), np.array([1, 100, 1, 1]))
    assert Z[0, :2].tolist() == [2.0, 3.0]  # the light pair merges first when size-weighted
    assert np.all(np.diff(Z[:, 2]) >= 0)
    assert cut_linkage(Z, 4, 2).tolist() == [0, 0, 1, 1]
    cents = np.array([[0.0], [1.0], [10.0], [11.0], [30.0], [31.0]])
    sizes = np.full(6, 100.0)
    Z = weighted_ward(cents, sizes)
    total = float(np.sum(sizes * (cents[:, 0] - cents.mean()) ** 2)) + 600 * 1.0  # leaf var 1
    assert auto_level_counts(Z, cents, sizes, total, 1, 12) == [3]
    assert auto_level_counts(Z, cents, sizes, total, 2, 12) == [3, 4]
    assert auto_level_counts(Z, cents, sizes, total, 1, 2) == [2]
    assert auto_level_counts(Z, cents, sizes, total, 2, 12, fixed=[2]) == [2, 3]
