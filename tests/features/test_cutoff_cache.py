"""The per-table caches behind ``build_features`` (time-sorted rows, purchase timeline, event
keys) give the same features at every cutoff as fresh tables, and the same values as plain
pandas group-bys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segml.features import FeatureSpec, build_features
from segml.features.events import event_features
from segml.features.purchases import purchase_gaps

CUTOFFS = [pd.Timestamp("2023-09-30 23:59:59.999999999"), pd.Timestamp("2024-03-31"),
           pd.Timestamp("2024-10-15 12:00")]


@pytest.fixture(scope="module")
def shared(helpers):
    """Tables built at several cutoffs in turn (caches warm) and the spec fitted on them."""
    raw = helpers.make_raw(n_customers=400, seed=7)
    cfg = helpers.config()
    tables = helpers.load(raw, cfg)
    spec = FeatureSpec.fit(tables, CUTOFFS[1], cfg)
    return raw, cfg, tables, spec


@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_cached_cutoffs_equal_fresh_tables(shared, helpers, cutoff):
    raw, cfg, tables, spec = shared
    for other in CUTOFFS:  # every cutoff's caches in place, in any order
        build_features(tables, other, spec)
    fresh = helpers.load({k: v.copy() for k, v in raw.items()}, cfg)
    assert_frame_equal(build_features(tables, cutoff, spec), build_features(fresh, cutoff, spec),
                       check_exact=True)


@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_event_features_equal_pandas_groupby(shared, cutoff):
    _, _, tables, spec = shared
    kept = spec.event_types[:3]  # pooled: the rest counts as "other"
    cols, first_age = event_features(tables.customers, tables.events, cutoff, kept, True, [30, 365])
    ev = tables.events[tables.events["timestamp"] <= cutoff].copy()
    ev["type"] = ev["event_type"].astype(str).where(ev["event_type"].astype(str).isin(kept),
                                                    "other")
    ids = pd.Index(tables.customers["customer_id"])
    age = (cutoff - ev["timestamp"]) / pd.Timedelta(days=1)
    for name in [*kept, "other"]:
        mine = ev["type"] == name
        for w in (30, 365):
            want = ev[mine & (age < w)].groupby("customer_id", observed=True).size()
            np.testing.assert_array_equal(cols[f"events_{name}_{w}d"],
                                          want.reindex(ids, fill_value=0).to_numpy(float))
        want = age[mine].groupby(ev.loc[mine, "customer_id"], observed=True).min()
        np.testing.assert_allclose(cols[f"days_since_{name}"], want.reindex(ids).to_numpy(float),
                                   rtol=1e-12)
    want = age.groupby(ev["customer_id"], observed=True).max().reindex(ids).to_numpy(float)
    np.testing.assert_allclose(first_age, want, rtol=1e-12)


def test_purchase_gaps_large_and_sub_second_equal_pandas():
    """Above 100k rows (the fast sort), with purchases of one customer in the same second out of
    row order: gaps are still between consecutive purchases in time."""
    rng = np.random.default_rng(3)
    n, rows = 2_000, 120_000
    pos = rng.integers(0, n, rows)
    seconds = rng.integers(0, 400 * 86_400, rows) * 1_000_000_000
    ts = pd.Timestamp("2024-01-01").value + seconds + rng.integers(0, 10**9, rows)
    cutoff = pd.Timestamp("2024-09-01")
    ts[0] = cutoff.value + 1  # the first pair straddles the cutoff
    ts[1::2] = ts[::2] - 1  # pairs of the same customer one nanosecond apart, later row first
    pos[1::2] = pos[::2]
    out = purchase_gaps(pos, ts.astype("datetime64[ns]"), n, cutoff)
    frame = pd.DataFrame({"pos": pos, "ts": ts})
    frame = frame[frame["ts"] <= cutoff.value].sort_values(["pos", "ts"])
    gaps = frame.groupby("pos")["ts"].diff().dropna() / 86_400e9
    by = frame.loc[gaps.index, "pos"]
    np.testing.assert_allclose(out["ipt_mean_days"], gaps.groupby(by).mean().reindex(range(n)),
                               rtol=1e-9)
    np.testing.assert_allclose(out["ipt_std_days"],
                               gaps.groupby(by).std(ddof=0).reindex(range(n)), rtol=1e-6,
                               atol=1e-12)
    last = frame.groupby("pos")["ts"].max().reindex(range(n))
    np.testing.assert_allclose(out["recency_days"], (cutoff.value - last) / 86_400e9, rtol=1e-12)


def test_purchase_gaps_with_many_customers_equal_a_lexsort_reference():
    """The fast (position, second) sort with positions far above 2**16 (compact int32 positions
    must be widened before the shift) equals the summary of purchases sorted by lexsort."""
    rng = np.random.default_rng(5)
    n, rows = 400_000, 150_000
    pos = rng.integers(0, n, rows)
    pos[:2000] = n - 1  # one customer with many purchases
    ts = pd.Timestamp("2024-01-01").value + rng.integers(0, 300 * 86_400, rows) * 1_000_000_000
    cutoff = pd.Timestamp("2024-08-01")
    got = purchase_gaps(pos, ts.astype("datetime64[ns]"), n, cutoff)
    frame = pd.DataFrame({"pos": pos, "ts": ts}).query("ts <= @cutoff.value")
    frame = frame.sort_values(["pos", "ts"], kind="stable")
    gap = frame.groupby("pos")["ts"].diff() / 86_400e9
    expected_mean = gap.groupby(frame["pos"]).mean().reindex(range(n))
    days = (frame["ts"] // 86_400_000_000_000).groupby(frame["pos"]).nunique().reindex(range(n))
    last = frame.groupby("pos")["ts"].max().reindex(range(n))
    np.testing.assert_allclose(got["ipt_mean_days"], expected_mean.to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(got["x"], (days - 1).to_numpy())
    np.testing.assert_allclose(got["recency_days"], (cutoff.value - last.to_numpy()) / 86_400e9,
                               rtol=1e-12)


def test_event_features_built_beside_the_transactions_equal_the_sequential_build(
        shared, monkeypatch):
    """Above PARALLEL_ROWS the event part and the purchase summary run on other threads: the
    same matrix."""
    import segml.features.threads as threads

    _, _, tables, spec = shared
    sequential = build_features(tables, CUTOFFS[2], spec)
    monkeypatch.setattr(threads, "PARALLEL_ROWS", 1)
    beside = build_features(tables, CUTOFFS[2], spec)
    assert_frame_equal(beside, sequential, check_exact=True)


def test_a_failure_in_the_event_part_reaches_the_caller(shared, monkeypatch):
    import segml.features.behaviour as behaviour
    import segml.features.threads as threads

    _, _, tables, spec = shared
    monkeypatch.setattr(threads, "PARALLEL_ROWS", 1)

    def broken(*args):
        raise RuntimeError("event part failed")

    monkeypatch.setattr(behaviour, "event_features", broken)
    with pytest.raises(RuntimeError, match="event part failed"):
        build_features(tables, CUTOFFS[0], spec)


def test_a_value_asked_for_by_two_threads_at_once_is_computed_once():
    import threading
    import time

    from segml.features.timeline import cached

    customers, frame = pd.DataFrame({"customer_id": [1]}), pd.DataFrame({"x": [1, 2]})
    calls = []

    def slow():
        calls.append(threading.get_ident())
        time.sleep(0.2)
        return len(calls)

    results = []
    threads = [threading.Thread(target=lambda: results.append(cached("slow", customers, frame, slow)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results == [1, 1]


def test_events_sorted_beside_the_settings_fit_give_the_same_matrices(helpers, monkeypatch):
    import segml.features.threads as threads
    from segml.workflow.datasets import build_datasets

    raw = helpers.make_raw(n_customers=300, seed=11)
    cfg = helpers.config()
    expected = build_datasets(helpers.load(raw, cfg), cfg)
    monkeypatch.setattr(threads, "PARALLEL_ROWS", 1)
    beside = build_datasets(helpers.load({k: v.copy() for k, v in raw.items()}, cfg), cfg)
    assert beside.spec.to_dict() == expected.spec.to_dict()
    assert_frame_equal(beside.current_X, expected.current_X, check_exact=True)
