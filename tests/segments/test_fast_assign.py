"""The array paths of the rules and the hierarchy agree exactly with their DataFrame methods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import NearestNeighbors

from segml.segments import SegmentHierarchy
from segml.segments.assign import KNNAssigner
from segml.segments.rules import RuleSegmenter

from .blobs import make_segment_blobs


def _columns(X: pd.DataFrame) -> dict:
    return {c: (X[c].to_numpy(dtype=float, na_value=np.nan)
                if not isinstance(X[c].dtype, pd.CategoricalDtype) else X[c].to_numpy(object))
            for c in X.columns}


def test_rules_arrays_match_transform_row_by_row():
    X, _ = make_segment_blobs(800, seed=4)
    X.loc[X.index[:30], "recency_days"] = np.nan
    rules = RuleSegmenter().fit(X.iloc[:500])
    frame = rules.transform(X)
    for i in (0, 7, 31, 799):
        one = rules.transform_arrays(_columns(X.iloc[[i]]), 1)
        for name in ("rfm_score", "rfm_segment", "lifecycle_stage", "nps_class", "engagement_level"):
            assert one[name][0] == frame[name].iloc[i], (name, i)
    assert list(frame.columns) == ["rfm_r", "rfm_f", "rfm_m", "rfm_score", "rfm_segment",
                                   "lifecycle_stage", "nps_class", "engagement_level"]
    assert isinstance(frame["rfm_segment"].dtype, pd.CategoricalDtype)
    assert frame.loc[X.index[:30], "lifecycle_stage"].eq("lapsed").all()  # no recency: lapsed


def test_embedding_matches_the_preprocessor_and_one_row_equals_the_batch():
    X, _ = make_segment_blobs(1200, seed=6)
    h = SegmentHierarchy(features=["recency_days", "frequency", "monetary_sum", "region"],
                         sample_size=800, n_reference=500, random_state=1).fit(X)
    Z = h.preprocessor_.transform(X)
    np.testing.assert_array_equal(h.preprocessor_.embed(_columns(X), len(X)), Z)
    batch = h.assign(X)
    one = pd.concat([h.assign(X.iloc[[i]]) for i in range(0, 1200, 37)])
    pd.testing.assert_frame_equal(one, batch.iloc[list(range(0, 1200, 37))], check_exact=True)


def test_kd_tree_query_equals_kneighbors():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(400, 3))
    knn = KNNAssigner(n_neighbors=7, chunk_size=50).fit(Z, rng.integers(-1, 4, 400))
    Q = rng.normal(size=(20_120, 3))  # chunks below and above the multi-threaded size
    dist, ind = knn._kneighbors(Q)
    ref_dist, ref_ind = NearestNeighbors(n_neighbors=7).fit(Z).kneighbors(Q)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=0, atol=1e-12)
    assert np.array_equal(knn.predict(Q)[1], KNNAssigner(7, chunk_size=10**6).fit(
        Z, knn.labels_).predict(Q)[1])
    Q[5, 1] = np.inf
    with pytest.raises(ValueError, match="(?i)inf"):
        knn.predict(Q)
