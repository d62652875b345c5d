"""Segments on attribute-only tables (issue 18): categoricals in the space, k-means leaves where
density finds no usable structure, a usable top level, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segml.errors import DataError
from segml.segments import SegmentHierarchy, name_hierarchy, profile_hierarchy
from segml.segments.leaves import find_leaves
from segml.segments.preprocess import SegmentPreprocessor, attribute_columns

from .blobs import planted_table


@pytest.fixture(scope="module")
def planted():
    X, seg = planted_table(2000, seed=1)
    h = SegmentHierarchy(random_state=5).fit(X)
    return X, seg, h, h.assign(X)


def test_planted_categorical_segments_are_recovered(planted):
    X, seg, h, A = planted
    assert h.discovery_["leaf_method"] == "kmeans"  # a space of levels: not density
    assert "categorical levels" in h.discovery_["reason"]
    assert adjusted_rand_score(seg, A["segment_level_1"]) >= 0.8
    # new customers of the same population land in the same segments
    X2, seg2 = planted_table(1000, seed=2)
    assert adjusted_rand_score(seg2, h.assign(X2)["segment_level_1"]) >= 0.8
    assert not A["segment_is_noise"].any()


def test_top_level_is_usable_and_named(planted):
    X, seg, h, A = planted
    shares = A["segment_level_1"].value_counts(normalize=True)
    assert 3 <= len(shares) <= 12 and shares.max() <= 0.6
    names = name_hierarchy(profile_hierarchy(X, A))
    assert len(set(names[1].values())) == len(names[1])
    for name in [*names[1].values(), *names[2].values()]:
        assert "Segment" not in name and "(2)" not in name and "senior=" not in name


def test_density_leaves_are_replaced_where_density_finds_nothing():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(1500, 4)), columns=["w", "x", "y", "z"])  # one cloud
    h = SegmentHierarchy(random_state=1).fit(X)
    A = h.assign(X)
    assert h.discovery_["leaf_method"] == "kmeans"
    assert "HDBSCAN" in h.discovery_["reason"] and np.isnan(h.agreement_)
    shares = A["segment_level_1"].value_counts(normalize=True)
    assert 3 <= len(shares) <= 12 and shares.max() <= 0.6
    assert h.discovery_["top_level_silhouette"] < 0.5  # reported as weak structure
    kept = SegmentHierarchy(random_state=1, leaf_method="hdbscan").fit(X)
    assert kept.discovery_["leaf_method"] == "hdbscan"


def test_same_data_and_seed_give_identical_kmeans_segments(planted):
    X, _, h, A = planted
    again = SegmentHierarchy(random_state=5).fit(X)
    pd.testing.assert_frame_equal(again.assign(X), A)
    pd.testing.assert_frame_equal(again.hierarchy_, h.hierarchy_)


def test_assign_arrays_takes_level_values_with_missing_and_unseen(planted):
    X, _, h, A = planted
    rows = X.iloc[:40].copy()
    columns = {c: (rows[c].to_numpy(dtype=float) if c in ("senior", "age")
                   else rows[c].to_numpy(dtype=object)) for c in rows.columns}
    out = h.assign_arrays(columns, len(rows))
    assert (out["segment_path"] == A["segment_path"].iloc[:40].to_numpy()).all()
    columns["a0"] = columns["a0"].copy()
    columns["a0"][:3] = [np.nan, "never seen", None]
    columns["age"] = columns["age"].copy()
    columns["age"][3] = np.nan
    again = h.assign_arrays(columns, len(rows))
    assert len(again["segment_leaf"]) == 40 and set(again["segment_leaf"]) <= set(h.leaf_ids_)


def test_one_wide_categorical_weighs_like_one_column():
    rng = np.random.default_rng(3)
    n = 3000
    X = pd.DataFrame({"state": pd.Categorical(rng.choice([f"s{i}" for i in range(50)], n)),
                      "plan": pd.Categorical(rng.choice(["yes", "no"], n)),
                      "usage": rng.normal(size=n)})
    pre = SegmentPreprocessor(n_components=None).fit(X)
    Z = pre.transform(X)
    names = pre.feature_names_out_
    block = [i for i, c in enumerate(names) if c.startswith("state=")]
    plan = [i for i, c in enumerate(names) if c.startswith("plan=")]
    assert Z[:, block].var(axis=0).sum() == pytest.approx(1.0, rel=1e-6)
    assert Z[:, plan].var(axis=0).sum() == pytest.approx(1.0, rel=1e-6)
    assert Z[:, names.index("usage")].var() == pytest.approx(1.0, rel=1e-6)
    assert len(block) == 11 and names[block[-1]] == "state=(other)"  # 10 kept + the rest
    assert pre.discrete_share_ == pytest.approx(2 / 3, abs=1e-6)


def test_attribute_columns_and_behaviour_plus_attributes(blobs):
    X, _ = blobs
    pre = SegmentPreprocessor(features=["behavioural", "region"]).fit(X)
    assert "region" in pre.columns_ and "monetary_mean" in pre.columns_
    assert "recency_days" not in pre.columns_
    assert pre.transform(X).shape[0] == len(X)
    attrs = X[["region", "device", "nps_score"]].assign(const=1.0, empty=np.nan,
                                                        one=pd.Categorical(["x"] * len(X)))
    assert attribute_columns(attrs) == ["region", "device", "nps_score"]
    h = SegmentHierarchy(random_state=0).fit(attrs)
    assert set(h.preprocessor_.columns_) == {"region", "device", "nps_score"}


def test_bad_and_degenerate_tables():
    with pytest.raises(DataError, match="at least 2 customers"):
        SegmentHierarchy().fit(pd.DataFrame({"plan": pd.Categorical(["a"])}))
    constant = pd.DataFrame({"plan": pd.Categorical(["a"] * 300), "x": np.ones(300)})
    h = SegmentHierarchy().fit(constant)
    assert h.discovery_["leaf_method"] == "single" and len(h.hierarchy_) == 1
    assert h.assign(constant)["segment_path"].eq("1.1").all()
    with pytest.raises(DataError, match="'when'.*neither numeric nor categorical"):
        SegmentHierarchy(features=["when"]).fit(
            pd.DataFrame({"when": pd.date_range("2024-01-01", periods=10)}))
    with pytest.raises(DataError, match="segments.features"):
        SegmentHierarchy(features=["nope"]).fit(constant)
    # a listed categorical with a single level and an all-missing number: no error, no effect
    rng = np.random.default_rng(0)
    X, _ = planted_table(600, seed=3)
    X = X.assign(one=pd.Categorical(["x"] * 600), empty=np.nan)
    h = SegmentHierarchy(features=[*X.columns], random_state=0).fit(X)
    assert np.isfinite(h.preprocessor_.transform(X)).all() and rng is not None


def test_find_leaves_methods():
    rng = np.random.default_rng(0)
    blobs = np.concatenate([rng.normal(c, 0.3, size=(200, 2)) for c in ((0, 0), (6, 0), (0, 6))])
    dense = find_leaves(blobs, blobs, min_cluster_size=30, min_samples=5, n_partition=6)
    assert dense.method == "hdbscan" and dense.labels.max() >= 2 and dense.centroids is None
    forced = find_leaves(blobs, blobs, min_cluster_size=30, min_samples=5, n_partition=6,
                         method="kmeans")
    assert forced.method == "kmeans" and forced.labels.max() == 5 and forced.clusterer is None
    with pytest.raises(ValueError, match="leaf method"):
        find_leaves(blobs, blobs, min_cluster_size=30, min_samples=5, n_partition=6, method="x")
