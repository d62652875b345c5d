"""The array paths of the rules and the hierarchy agree exactly with their DataFrame methods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import KDTree
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


def _reference_only(monkeypatch) -> None:
    """Every search in the reference tree (scipy's default leaves), as before batch trees."""
    import segml.segments.assign as assign_module

    monkeypatch.setattr(assign_module, "_BATCH_ROWS", 10**12)


def test_batch_tree_places_like_the_reference_tree_through_ties(monkeypatch):
    """Reference points on an integer lattice, many of them twice with another label or core
    distance, and queries on lattice points and midpoints: exact ties everywhere, at the k-th
    place too. The batch search must still give every row the reference's raw label and
    cluster, by searching the rows where a tie matters again."""
    rng = np.random.default_rng(3)
    grid = np.stack(np.meshgrid(*[np.arange(6.0)] * 3), axis=-1).reshape(-1, 3)
    Z = np.vstack([grid, grid[rng.choice(len(grid), 80, replace=False)]])
    labels = rng.integers(-1, 4, len(Z))
    core = rng.choice([0.5, 1.0, 1.5], len(Z))
    birth = np.array([2.0, 1.2, 3.0, 1.6])
    knn = KNNAssigner(n_neighbors=7).fit(Z, labels, core, birth, min_samples=3)
    queries = np.vstack([grid, grid + 0.5, rng.uniform(-1, 6, (900, 3))])
    dist, ind = KDTree(Z, leafsize=64).query(queries, k=8)
    assert knn._ties_that_matter(dist, ind).sum() > 100  # the fallback is exercised
    raw, cluster = knn.predict(queries)
    _reference_only(monkeypatch)
    raw_ref, cluster_ref = KNNAssigner.from_state(knn.to_state()).predict(queries)
    np.testing.assert_array_equal(raw, raw_ref)
    np.testing.assert_array_equal(cluster, cluster_ref)


def test_batch_placement_equals_the_reference_on_hard_customers(monkeypatch):
    """A fitted hierarchy places a batch (customers with no purchases, i.e. identical rows of
    missing values; unknown categories; extreme values; exact copies of the sample) exactly
    as the reference search does, and as one customer at a time."""
    X, _ = make_segment_blobs(3000, seed=11)
    h = SegmentHierarchy(features=["behavioural", "region"], sample_size=1500,
                         n_reference=1000, random_state=2).fit(X)
    batch = pd.concat([X] * 2)  # every customer twice: duplicates of the sample points
    batch.index = pd.Index([f"Q{i}" for i in range(len(batch))], name="customer_id")
    no_purchase = ["frequency", "monetary_sum", "monetary_mean", "ipt_mean_days",
                   *[c for c in X.columns if c.startswith("share_")]]
    batch.iloc[:400, [batch.columns.get_loc(c) for c in no_purchase]] = np.nan
    batch["region"] = batch["region"].cat.add_categories(["Atlantis"])
    batch.iloc[400:700, batch.columns.get_loc("region")] = "Atlantis"
    batch.iloc[700:720, batch.columns.get_loc("monetary_sum")] = 1e9
    assert isinstance(h.assigner_, KNNAssigner)
    placed = h.assign(batch)
    _reference_only(monkeypatch)
    pd.testing.assert_frame_equal(placed, h.assign(batch), check_exact=True)
    rows = [0, 1, 399, 400, 699, 700, 719, 2999, 5999]
    one = pd.concat([h.assign(batch.iloc[[i]]) for i in rows])
    pd.testing.assert_frame_equal(one, placed.iloc[rows], check_exact=True)


def test_projection_is_scikit_learns_bit_for_bit():
    from segml.segments.preprocess import principal_axes, project

    rng = np.random.default_rng(5)
    D = rng.normal(size=(3000, 14)) * rng.uniform(0.1, 9, 14) + rng.normal(size=14) * 50
    pca = principal_axes(D, 10)
    for rows in (D, D[:1], D[7:8] * 1e6, np.round(D, 6)):
        np.testing.assert_array_equal(project(pca, np.ascontiguousarray(rows)),
                                      pca.transform(rows))


def _numpy_vote(knn: KNNAssigner, dist: np.ndarray, ind: np.ndarray,
                part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The vote as NumPy wrote it before the compiled kernel (``np.bincount`` of the weights,
    ``argmax``, the mutual-reachability ``argmin``): the reference the kernel must match."""
    m, width = len(dist), knn.n_clusters_ + 1
    weight = 1.0 / (dist + 1e-9)
    flat = (np.arange(m)[:, None] * width + knn.labels_[ind] + 1).ravel()
    votes = np.bincount(flat, weights=weight.ravel(), minlength=m * width).reshape(m, width)
    if knn.core_ is None:
        raw = votes.argmax(axis=1) - 1
    else:
        lo = int(np.floor(knn.core_rank_))
        hi = min(lo + 1, dist.shape[1] - 1)
        w = knn.core_rank_ - lo
        core_q = (1 - w) * dist[:, lo] + w * dist[:, hi]
        mr = np.maximum(np.maximum(knn.core_[ind], core_q[:, None]), dist)
        nn = mr.argmin(axis=1)
        rows = np.arange(m)
        label = knn.labels_[ind[rows, nn]]
        ok = np.zeros(m, dtype=bool)
        inside = label >= 0
        ok[inside] = mr[rows, nn][inside] < knn.birth_[label[inside]]
        raw = np.where(ok, label, -1)
    best = votes[:, 1:].argmax(axis=1)
    no_cluster = votes[:, 1:].max(axis=1) <= 0
    if no_cluster.any():
        d2 = ((part[no_cluster, None, :] - knn.centroids_[None, :, :]) ** 2).sum(axis=2)
        best[no_cluster] = d2.argmin(axis=1)
    return raw, best


@pytest.mark.parametrize("noise_rule", ["vote", "core distances", "NaN core distances"])
def test_compiled_vote_equals_the_numpy_vote(noise_rule):
    """Clustered, noisy and all-noise neighbourhoods, lattice points whose neighbours tie (equal
    weights for two labels: the first label must win, as ``argmax`` picks it), fractional core
    ranks and birth distances that let some clusters through: the same raw label and cluster
    for every row as the NumPy formulation, with the batch tree and with the reference tree."""
    rng = np.random.default_rng(21)
    centres = rng.normal(scale=6, size=(5, 4))
    Z = np.vstack([centres[rng.integers(0, 5, 1500)] + rng.normal(size=(1500, 4)),
                   np.round(rng.uniform(-3, 3, (300, 4)))])  # lattice points: exact ties
    labels = rng.integers(0, 5, len(Z))
    labels[rng.random(len(Z)) < 0.3] = -1
    labels[-300:-200] = -1  # a region where every neighbour is noise
    core = birth = None
    if noise_rule != "vote":
        core = rng.uniform(0.2, 2.0, len(Z))
        birth = np.array([0.8, 3.0, np.inf, 1.5, 0.1])
        if noise_rule == "NaN core distances":
            core[rng.random(len(Z)) < 0.05] = np.nan
    knn = KNNAssigner(n_neighbors=9, chunk_size=1700).fit(Z, labels, core, birth,
                                                          min_samples=4, fraction=0.7)
    queries = np.vstack([rng.normal(scale=7, size=(3000, 4)), Z[-300:], Z[:50] + 0.5,
                         np.round(rng.uniform(-3, 3, (400, 4))) + 0.5])
    raw, cluster = knn.predict(queries)
    for rows in (slice(0, 1700), slice(1700, None)):  # the chunks predict searched
        dist, ind = knn._kneighbors(queries[rows])
        ref_raw, ref_cluster = _numpy_vote(knn, dist, ind, queries[rows])
        np.testing.assert_array_equal(raw[rows], ref_raw)
        np.testing.assert_array_equal(cluster[rows], ref_cluster)
    assert (raw == -1).any() and (raw >= 0).any()
    for i in (0, 3000, 3050, 3449):  # one row at a time: the reference tree, the same answers
        one_raw, one_cluster = knn.predict(queries[i:i + 1])
        assert (one_raw[0], one_cluster[0]) == (raw[i], cluster[i])


def test_no_cluster_at_all_is_refused():
    knn = KNNAssigner(n_neighbors=3).fit(np.eye(4), np.full(4, -1))
    with pytest.raises(ValueError, match="no reference point is in a cluster"):
        knn.predict(np.zeros((2, 4)))


def test_sliding_midpoint_batch_tree_finds_the_reference_distances():
    """The batch tree (larger leaves, sliding-midpoint splits) returns the reference tree's
    distances bit for bit on 10-dimensional points rounded like the clustering space, and
    the same neighbours wherever no two distances tie."""
    from segml.segments.assign import _BATCH_BALANCED, _BATCH_LEAF

    rng = np.random.default_rng(8)
    P = np.round(rng.normal(size=(4000, 10)) * rng.uniform(0.3, 3, 10), 6)
    Q = np.round(rng.normal(size=(6000, 10)) * rng.uniform(0.3, 3, 10), 6)
    ref_dist, ref_ind = KDTree(P).query(Q, k=16)
    dist, ind = KDTree(P, leafsize=_BATCH_LEAF, balanced_tree=_BATCH_BALANCED).query(Q, k=16)
    np.testing.assert_array_equal(dist, ref_dist)
    untied = (np.diff(ref_dist, axis=1) > 0).all(axis=1)
    assert untied.mean() > 0.99
    np.testing.assert_array_equal(ind[untied], ref_ind[untied])
