import numpy as np
import pandas as pd

from segml.segments import SegmentHierarchy, match_hierarchies, name_segments, profile_hierarchy

from .blobs import make_segment_blobs


def _named(h, X):
    A = h.assign(X)
    h.set_names({k: name_segments(p) for k, p in profile_hierarchy(X, A).items()})
    return h


def test_retrain_on_new_data_keeps_ids_and_names(blobs, fitted):
    X, _ = blobs
    old = _named(SegmentHierarchy(random_state=3).fit(X), X)
    X2, _ = make_segment_blobs(3000, seed=12)
    # the new fit numbers its segments differently: reverse the row order and change the seed
    new = _named(SegmentHierarchy(random_state=8).fit(X2.iloc[::-1]), X2)
    m = match_hierarchies(old, new, X)
    assert m.stability >= 0.95
    assert m.migration.to_numpy().sum() == len(X)
    relabelled = m.hierarchy.assign(X)
    before = old.assign(X)
    same = relabelled["segment_leaf"] == before["segment_leaf"]
    assert same.mean() == m.stability
    assert (relabelled["segment_path"][same] == before["segment_path"][same]).mean() > 0.95
    # matched segments keep the previous names
    for level in (1, 2):
        col = f"segment_name_level_{level}"
        assert (relabelled[col] == before[col]).mean() > 0.95
    # the migration matrix is mostly diagonal after matching
    diag = sum(m.migration.at[p, p] for p in m.migration.index if p in m.migration.columns)
    assert diag / len(X) >= 0.95


def test_unmatched_segments_get_fresh_ids(blobs):
    X, _ = blobs
    old = SegmentHierarchy(random_state=3, max_segments_per_level=3).fit(X)
    new = SegmentHierarchy(random_state=3).fit(X)
    m = match_hierarchies(old, new, X)
    assert len(old.hierarchy_) == 3 and len(m.hierarchy.hierarchy_) == len(new.hierarchy_) >= 8
    kept = set(old.leaf_ids_) & set(m.hierarchy.leaf_ids_)
    assert len(kept) == 3
    fresh = set(m.hierarchy.leaf_ids_) - kept
    assert min(fresh) > max(old.leaf_ids_)
    paths = m.hierarchy.hierarchy_["path"]
    assert paths.is_unique
    assert (paths.str.split(".").str[0] == m.hierarchy.hierarchy_["level_1"]).all()
    assert m.stability < 0.9
    assert set(m.leaf_mapping) == set(new.leaf_ids_)


def test_identical_refit_is_fully_stable(blobs, fitted):
    X, _ = blobs
    h, _ = fitted
    m = match_hierarchies(h, SegmentHierarchy(random_state=3).fit(X), X)
    assert m.stability == 1.0
    assert all(k == v for k, v in m.path_mapping.items())
    np.testing.assert_array_equal(np.diag(m.migration.to_numpy()).sum(), len(X))
    assert isinstance(m.migration, pd.DataFrame)
