"""A handful of customers: HDBSCAN calls every point noise, which leaf finding used to turn into
an IndexError (an empty id map indexed). Now every leaf method gives every customer a segment."""

from __future__ import annotations

import numpy as np
import pytest

from segml.segments import SegmentHierarchy
from segml.segments.leaves import canonical_labels
from tests.segments.blobs import make_segment_blobs


@pytest.mark.parametrize("raw, labels, mapping", [
    ([-1, -1, -1], [-1, -1, -1], []),
    ([], [], []),
    ([-1, 4, -1, 4], [-1, 0, -1, 0], [-1, -1, -1, -1, 0]),
    ([3, 1, -1, 3, 0], [0, 1, -1, 0, 2], [2, 1, -1, 0]),
], ids=["all-noise", "empty", "one-cluster-high-id", "gaps"])
def test_canonical_labels_number_clusters_by_first_appearance_and_keep_noise(raw, labels,
                                                                             mapping):
    found, ids = canonical_labels(np.array(raw, dtype=np.int64))
    assert found.tolist() == labels and ids.tolist() == mapping
    assert found.dtype == np.int64


@pytest.mark.parametrize("method", ["auto", "hdbscan", "kmeans"])
@pytest.mark.parametrize("n", [2, 3, 7, 25])
def test_a_handful_of_customers_is_segmented_by_every_leaf_method(method, n):
    X, _ = make_segment_blobs(n, seed=4)
    hierarchy = SegmentHierarchy(random_state=0, leaf_method=method).fit(X)
    assigned = hierarchy.assign(X)
    assert len(assigned) == n and assigned["segment_leaf"].notna().all()
    assert set(assigned["segment_leaf"]) <= set(hierarchy.leaf_ids_)
    # the same customers get the same segments when placed again
    again = hierarchy.assign(X)
    assert assigned["segment_path"].tolist() == again["segment_path"].tolist()
