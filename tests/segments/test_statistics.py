"""Profiles and the drift reference finished from additive statistics per cell
(``segml.segments.statistics``) equal the frame-based ones, and the statistics of row splits add
up to those of the whole frame (``docs/dev/architecture.md``: Spark sums them per partition).

The frame-based code as it was before the statistics is kept verbatim in
``tests/segments/reference_profiles.py``; every comparison here is against it or between
splits of the same seeded frame.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from segml.monitor.drift import DriftReference, feature_bin_edges, score_bin_edges
from segml.segments.profiles import near_copies, profile_hierarchy, profile_hierarchy_from
from segml.segments.statistics import SegmentStatistics, frame_means

from . import reference_profiles as reference

TOL = 1e-9


def make_frame(seed: int, n: int = 1500) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features with numbers, 0/1 flags, booleans, categoricals and text (missing values in
    several), and a three-level hierarchy: rule-like top level, guided-like ``N.1.2`` paths,
    one tiny (suppressed) segment and a child that is its parent's only child."""
    rng = np.random.default_rng(seed)
    top = rng.choice(["A", "B", "N"], n, p=[0.45, 0.4, 0.15])
    mid = np.where(top == "N", "N.1", np.char.add(top, np.where(rng.random(n) < 0.6, ".1", ".2")))
    leaf = np.char.add(mid, np.where(rng.random(n) < 0.5, ".1", ".2"))
    leaf = np.where(rng.random(n) < 0.01, "B.2.9", leaf)  # tiny: suppressed at every size
    mid = np.where(leaf == "B.2.9", "B.2", mid)
    top = np.where(leaf == "B.2.9", "B", top)
    shift = np.where(top == "A", 300.0, 0.0) + np.where(np.char.endswith(leaf, ".1"), 40.0, 0.0)
    recency = rng.exponential(150, n)
    X = pd.DataFrame({
        "monetary_sum": rng.gamma(2.0, 100.0, n) + shift,
        "monetary_mean": rng.gamma(3.0, 20.0, n),
        "frequency": rng.poisson(4, n).astype(float),
        "recency_days": np.where(rng.random(n) < 0.05, np.nan, recency),
        "tenure_days": rng.uniform(10, 2000, n),
        "orders": rng.poisson(2, n),                          # integers
        "promo": (rng.random(n) < np.where(top == "B", 0.7, 0.2)).astype(float),  # binary
        "vip": np.where(top == "N", 1.0, rng.integers(0, 2, n).astype(float)),    # flat in N
        "member": rng.random(n) < 0.3,                         # boolean
        "constant": np.full(n, 2.5),
        "sparse": np.where(rng.random(n) < 0.97, np.nan, rng.normal(size=n)),
        "plan": pd.Categorical(np.where(rng.random(n) < 0.1, None,
                                        rng.choice(["basic", "plus", "pro"], n)),
                               categories=["basic", "plus", "pro", "unused"]),
        "city": pd.Series(rng.choice([f"c{i:02d}" for i in range(26)], n), dtype=object),
        "region": pd.Series(np.where(rng.random(n) < 0.05, None,
                                     np.where(top == "N", "north", rng.choice(["s", "e"], n))),
                            dtype=object),
    })
    X["charge"] = X["monetary_sum"] * 0.17 + rng.normal(0, 2, n)  # a near copy, not exact
    X["joined"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 40, n), "D")
    X.index = pd.Index([f"c{i}" for i in range(n)], name="customer_id")
    A = pd.DataFrame({"segment_level_1": top, "segment_level_2": mid, "segment_level_3": leaf},
                     index=X.index)
    return X, A


def _same(a: object, b: object, where: str) -> None:
    """Equal up to TOL relative for numbers, exactly otherwise, recursively."""
    if isinstance(a, pd.DataFrame):
        assert list(a.columns) == list(b.columns), where
        assert list(a.index) == list(b.index), where
        for c in a.columns:
            assert a[c].dtype == b[c].dtype, f"{where} {c}"
            for i, (x, y) in enumerate(zip(a[c].tolist(), b[c].tolist(), strict=True)):
                _same(x, y, f"{where} {c}[{a.index[i]}]")
    elif isinstance(a, dict):
        assert sorted(a, key=str) == sorted(b, key=str), where  # JSON objects: no order
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), f"{where}: {a} != {b}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif a is pd.NA or b is pd.NA:
        assert a is b, f"{where}: {a!r} != {b!r}"
    elif isinstance(a, float) or isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            assert math.isnan(a) and math.isnan(b), f"{where}: {a} != {b}"
        else:
            assert a == pytest.approx(b, rel=TOL, abs=1e-12), f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _splits(n: int, parts: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.array_split(rng.permutation(n), np.sort(rng.choice(np.arange(1, n), parts - 1,
                                                                 replace=False)))


def _cell_levels(A: pd.DataFrame) -> pd.DataFrame:
    return A.drop_duplicates("segment_level_3").set_index("segment_level_3", drop=False)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_profile_hierarchy_equals_the_frame_based_profiles(seed):
    X, A = make_frame(seed)
    labels = pd.DataFrame({"churn": (np.random.default_rng(seed).random(len(X)) < 0.3)
                           .astype(float)}, index=X.index)
    for kwargs in ({}, {"labels": labels, "min_profile_size": 100, "top_n": 3}):
        new, old = profile_hierarchy(X, A, **kwargs), reference.profile_hierarchy(X, A, **kwargs)
        assert list(new) == list(old) == [1, 2, 3]
        for k in old:
            _same(new[k], old[k], f"level {k} {kwargs.keys()}")
    # what the frame has and the tests rely on: suppression, refining, shared and binary kinds
    assert new[3].loc["B.2.9", "suppressed"] and new[3].loc["B.2.9", "refining"] == []
    assert new[2].loc["N.1", "refining"] == []  # an only child refines nothing
    assert any(item["kind"] == "binary" for items in new[1]["distinguishing"] for item in items)


@pytest.mark.parametrize("seed", [3, 4])
def test_profiles_from_summed_splits_equal_the_whole_frame(seed):
    X, A = make_frame(seed)
    cells = A["segment_level_3"].to_numpy()
    shift = {c: float(v) * 0.9 + 1.0 for c, v in frame_means(X).items()}  # any shared constant
    whole = SegmentStatistics.of(X, cells, shift)
    levels, twins = _cell_levels(A), near_copies(X)
    expected = profile_hierarchy_from(whole, levels, twins)
    _same(expected[3], profile_hierarchy(X, A)[3], "whole statistics vs the frame")
    for parts in (2, 3, 5):
        summed = sum(SegmentStatistics.of(X.iloc[rows], cells[rows], shift)
                     for rows in _splits(len(X), parts, seed + parts))
        _same_statistics(summed, whole)
        got = profile_hierarchy_from(summed, levels, twins)
        for k in expected:
            _same(got[k], expected[k], f"{parts} parts, level {k}")


def _same_statistics(a: SegmentStatistics, b: SegmentStatistics) -> None:
    assert a.cells.tolist() == b.cells.tolist()
    assert a.count.tolist() == b.count.tolist()
    assert a.roles == b.roles and a.shift == b.shift
    for col in b.moments:
        np.testing.assert_allclose(a.moments[col], b.moments[col], rtol=TOL, atol=1e-9)
    for col in b.levels:
        assert a.levels[col].tolist() == b.levels[col].tolist(), col
        np.testing.assert_array_equal(a.level_counts[col], b.level_counts[col])
        np.testing.assert_array_equal(a.missing[col], b.missing[col])
    np.testing.assert_array_equal(a.lapsed, b.lapsed)
    for col in b.bins:
        np.testing.assert_array_equal(a.bins[col], b.bins[col])
    for col in b.score_bins:
        np.testing.assert_array_equal(a.score_bins[col], b.score_bins[col])


def _scores(X: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"churn_probability": rng.beta(2, 5, len(X)),
                         "predicted_spend": rng.gamma(2, 50, len(X))}, index=X.index)


def _as_mapping(ref: dict) -> dict:
    """The reference with categorical levels as {level: share} (the order of tied levels is
    free), everything else as is."""
    out = {k: v for k, v in ref.items() if k not in ("categorical_levels", "categorical_shares")}
    out["categorical"] = {c: dict(zip(levels + ["(other)"], ref["categorical_shares"][c],
                                      strict=True))
                          for c, levels in ref["categorical_levels"].items()}
    return out


@pytest.mark.parametrize("seed", [0, 5])
def test_drift_reference_from_statistics_equals_fit(seed):
    X, A = make_frame(seed)
    scores = _scores(X, seed)
    leaf = pd.Series(A["segment_level_3"].to_numpy(), index=X.index)
    old = reference.drift_fit(X, segments=leaf, scores=scores)
    fitted = DriftReference.fit(X, segments=leaf, scores=scores).to_dict()
    _same(_as_mapping(fitted), _as_mapping(old), "fit vs the frame-based fit")
    edges, s_edges = feature_bin_edges(X), score_bin_edges(scores)
    cells = leaf.to_numpy()
    shift = {c: 0.0 for c in frame_means(X)}
    whole = SegmentStatistics.of(X, cells, shift, edges=edges, scores=scores, score_edges=s_edges)
    same_cells = {c: c for c in whole.cells}
    from_whole = DriftReference.from_statistics(whole, edges, s_edges, segments=same_cells)
    _same(from_whole.to_dict(), fitted, "from_statistics vs fit")
    for parts in (2, 4):
        summed = sum(SegmentStatistics.of(X.iloc[rows], cells[rows], shift, edges=edges,
                                          scores=scores.iloc[rows], score_edges=s_edges)
                     for rows in _splits(len(X), parts, seed))
        got = DriftReference.from_statistics(summed, edges, s_edges, segments=same_cells)
        _same(got.to_dict(), fitted, f"{parts} parts")


def test_segment_shares_follow_the_mapping_of_cells():
    X, A = make_frame(7, n=400)
    stats = SegmentStatistics.of(X, A["segment_level_3"].to_numpy(), frame_means(X),
                                 edges=feature_bin_edges(X))
    to_top = dict(zip(A["segment_level_3"], A["segment_level_1"], strict=True))
    ref = DriftReference.from_statistics(stats, segments=to_top)
    expected = A["segment_level_1"].value_counts(normalize=True)
    assert ref.segment_shares == pytest.approx(expected.to_dict(), rel=TOL)
    assert DriftReference.from_statistics(stats).segment_shares == {}


def test_bytes_round_trip():
    X, A = make_frame(8, n=300)
    scores = _scores(X, 8)
    stats = SegmentStatistics.of(X, A["segment_level_3"].to_numpy(), frame_means(X),
                                 edges=feature_bin_edges(X), scores=scores,
                                 score_edges=score_bin_edges(scores))
    data = stats.to_bytes()
    back = SegmentStatistics.from_bytes(data)
    _same_statistics(back, stats)
    assert back.edges.keys() == stats.edges.keys()
    assert len(data) < 60_000  # per-cell sums, not rows
    _same(profile_hierarchy_from(back, _cell_levels(A), {})[2],
          profile_hierarchy_from(stats, _cell_levels(A), {})[2], "after bytes")


def test_statistics_do_not_grow_with_customers():
    small, A_small = make_frame(9, n=500)
    large, A_large = make_frame(9, n=5000)
    sizes = [len(SegmentStatistics.of(X, A["segment_level_3"].to_numpy(), frame_means(X))
                 .to_bytes()) for X, A in ((small, A_small), (large, A_large))]
    assert sizes[1] < 1.2 * sizes[0]


def test_an_exact_copy_ties_by_name_however_the_rows_were_split():
    X, A = make_frame(10, n=800)
    X["charge"] = X["monetary_sum"] * 0.17  # the same effect up to the last bits of the sums
    cells = A["segment_level_3"].to_numpy()
    shift = frame_means(X)
    levels = _cell_levels(A)
    tops = []
    for parts in (1, 2, 3, 5):
        summed = sum(SegmentStatistics.of(X.iloc[rows], cells[rows], shift)
                     for rows in _splits(len(X), parts, parts)) if parts > 1 else \
            SegmentStatistics.of(X, cells, shift)
        P = profile_hierarchy_from(summed, levels, {}, top_n=12)
        tops.append([[i["feature"] for i in items] for items in P[1]["distinguishing"]])
    assert all(t == tops[0] for t in tops)
    for features in tops[0]:
        assert features.index("charge") + 1 == features.index("monetary_sum")


def test_segment_effects_keep_the_segments_own_labels():
    from segml.segments.profiles import segment_effects

    X, A = make_frame(11, n=600)
    codes = pd.Series(pd.factorize(A["segment_level_3"], sort=True)[0] * 5)  # 0, 5, ..., 45
    by_code = segment_effects(X, codes)
    by_text = segment_effects(X, A["segment_level_3"].reset_index(drop=True))
    assert sorted(set(by_code["segment"])) == sorted(set(codes))
    assert by_code["segment"].map(type).eq(int).all()
    assert by_code["segment"].tolist()[:3] == [0, 0, 0]  # in the segments' own order
    np.testing.assert_allclose(by_code["effect"].to_numpy(), by_text["effect"].to_numpy(),
                               rtol=TOL)
