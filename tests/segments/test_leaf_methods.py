"""The seam for segmentation methods: leaf finding behind :class:`segml.segments.LeafMethod`.

HDBSCAN and k-means are two implementations of the same small protocol; a method defined in
this file alone is registered, named in the config and trained end to end, and the registered
model scores without it (the model keeps only the placement the leaves imply).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.config import load_config
from segml.errors import ConfigError
from segml.segments import (
    LeafMethod,
    LeafSearch,
    SegmentHierarchy,
    leaf_method_names,
    register_leaf_method,
)
from segml.segments.leaves import AutoLeaves, DensityLeaves, PartitionLeaves

from .blobs import make_segment_blobs


class FirstAxisBands:
    """A toy partition: equal-count bands of the first axis of the clustering space, numbered
    from the top band down (the opposite of the canonical order, which segml then imposes)."""

    def __init__(self, bands: int = 4):
        self.bands = bands

    def find(self, sample):
        axis = sample.plain[:, 0]
        edges = np.quantile(axis, np.linspace(0, 1, self.bands + 1)[1:-1])
        band = self.bands - 1 - np.searchsorted(edges, axis, side="right")
        centroids = np.stack([sample.plain[band == b].mean(axis=0) for b in range(self.bands)])
        return LeafSearch("first_axis_bands", f"{self.bands} bands of the first axis",
                          band.astype(np.int64), float("nan"), float("nan"),
                          centroids=centroids)


class NearestSeed:
    """A toy density-style method: leaves around 3 seeded points, the farthest tenth noise
    (no centroids: customers are then placed by a k-NN vote over the sample)."""

    def find(self, sample):
        Z = sample.plain
        seeds = Z[np.random.default_rng(sample.random_state).choice(len(Z), 3, replace=False)]
        d = ((Z[:, None, :] - seeds[None]) ** 2).sum(axis=2)
        labels = d.argmin(axis=1).astype(np.int64)
        labels[d.min(axis=1) > np.quantile(d.min(axis=1), 0.9)] = -1
        return LeafSearch("nearest_seed", "3 seeds", labels, float("nan"), float("nan"))


register_leaf_method("first_axis_bands", FirstAxisBands())
register_leaf_method("nearest_seed", NearestSeed())


def test_the_built_in_methods_implement_the_protocol():
    for method in (AutoLeaves(), DensityLeaves(), PartitionLeaves(), FirstAxisBands()):
        assert isinstance(method, LeafMethod)
    assert {"auto", "hdbscan", "kmeans", "first_axis_bands"} <= set(leaf_method_names())


def test_a_registered_partition_makes_the_leaves_with_canonical_ids():
    X, _ = make_segment_blobs(1500, seed=4)
    h = SegmentHierarchy(leaf_method="first_axis_bands", levels=2, random_state=1).fit(X)
    assert h.discovery_["leaf_method"] == "first_axis_bands"
    assert len(h.leaf_ids_) == 4
    assigned = h.assign(X)
    assert not assigned["segment_is_noise"].any()  # a partition: nobody is noise
    # the bands are the leaves of the sample (everyone here), whatever the method numbered them
    Z = h.preprocessor_.transform(X)
    band_of_leaf = pd.Series(Z[:, 0]).groupby(h.labels_.to_numpy()).agg(["min", "max"])
    ordered = band_of_leaf.sort_values("min")
    assert (ordered["max"].to_numpy()[:-1] <= ordered["min"].to_numpy()[1:]).all()
    # the same partition from a rebuilt state, without the method being asked again
    again = SegmentHierarchy.from_state(h.to_state())
    pd.testing.assert_frame_equal(again.assign(X), assigned)


def test_a_registered_method_without_centroids_is_placed_by_a_vote_and_flags_noise():
    X, _ = make_segment_blobs(1500, seed=5)
    h = SegmentHierarchy(leaf_method="nearest_seed", levels=2, random_state=2).fit(X)
    assert len(h.leaf_ids_) == 3
    assert h.sample_is_noise_.mean() == pytest.approx(0.1, abs=0.01)
    assert h.assign(X)["segment_leaf"].isin(h.leaf_ids_).all()


def test_a_malformed_method_and_an_unknown_name_are_refused():
    with pytest.raises(TypeError, match="find"):
        register_leaf_method("nothing", object())
    with pytest.raises(ValueError, match="built-in"):
        register_leaf_method("kmeans", FirstAxisBands())

    class NoLabels:
        def find(self, sample):
            return LeafSearch("x", "x", np.full(len(sample.plain), -1), np.nan, np.nan)

    register_leaf_method("no_labels", NoLabels())
    X, _ = make_segment_blobs(600, seed=6)
    with pytest.raises(ValueError, match="no_labels"):
        SegmentHierarchy(leaf_method="no_labels").fit(X)
    config = load_config(None)
    config.segments.leaf_method = "no_such_method"
    with pytest.raises(ConfigError, match="segments.leaf_method"):
        SegmentHierarchy.from_config(config.segments)


@pytest.mark.slow
def test_a_method_from_this_file_trains_end_to_end(tmp_path, monkeypatch):
    import segml
    from segml.data.synthetic.datasets import make_customers
    from tests.adversarial.helpers import small_training

    config = small_training(tmp_path, monkeypatch, make_customers(1200, seed=8))
    config.segments.leaf_method = "first_axis_bands"
    result = segml.train(config)
    hierarchy = result.segmentation.hierarchy
    assert hierarchy.discovery_["leaf_method"] == "first_axis_bands"
    assert len(hierarchy.leaf_ids_) == 4
    scores = segml.score(result.model_uri, config=config)
    assert scores["segment_leaf"].isin(hierarchy.leaf_ids_).all()
    assert scores["segment_leaf"].nunique() == 4
