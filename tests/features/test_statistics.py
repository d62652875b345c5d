"""The feature spec learned from merged partition statistics equals the one learned at once.

This is what makes the Spark engine (one partition of customers per task) agree with one machine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.data.contract import load_tables, validate_tables
from segml.data.synthetic.datasets import make_customers, synthetic_config
from segml.features import FeatureSpec, build_features, data_end
from segml.features.statistics import (
    fit_statistics,
    merge_statistics,
    sample_order,
    select_btyd_sample,
)

CONFIG = synthetic_config(data={"now": "2030-01-01"})


@pytest.fixture(scope="module")
def raw():
    data = make_customers(600, seed=4)
    idle = data.customers.head(5).copy()  # known by signup only: no transaction, no event
    idle["customer_id"] = [f"X{i}" for i in range(5)]
    return pd.concat([data.customers, idle], ignore_index=True), data.transactions, data.events


def partitions(raw, k: int):
    """Split the raw tables into k disjoint sets of customers (with their rows); the last one
    keeps customers without any transaction and no transactions at all."""
    customers, transactions, events = raw
    buyers = set(transactions["customer_id"])
    idle = customers[~customers["customer_id"].isin(buyers)]
    active = customers[customers["customer_id"].isin(buyers)]
    groups = np.arange(len(active)) % k
    parts = []
    for g in range(k):
        ids = set(active["customer_id"][groups == g])
        parts.append((active[groups == g], transactions[transactions["customer_id"].isin(ids)],
                      events[events["customer_id"].isin(ids)]))
    parts.append((idle, transactions.iloc[:0], events[events["customer_id"].isin(idle["customer_id"])]))
    return parts


def part_tables(customers, transactions, events):
    tables, problems = validate_tables(CONFIG, customers.reset_index(drop=True),
                                       transactions.reset_index(drop=True),
                                       events.reset_index(drop=True), partition=True)
    assert tables is not None, problems
    return tables


def test_spec_from_merged_partitions_equals_spec_fitted_at_once(raw):
    whole = load_tables(CONFIG, customers=raw[0], transactions=raw[1], events=raw[2])
    assert (whole.customers["customer_id"].isin(raw[1]["customer_id"])).mean() < 1  # idle exist
    cutoff = data_end(whole) - pd.Timedelta(days=45)
    # A BG/NBD sample smaller than the purchasers: the seeded sample must not depend on partitions.
    once = FeatureSpec.fit(whole, cutoff, CONFIG, btyd_sample_size=150)
    stats = [fit_statistics(part_tables(*p), cutoff, CONFIG) for p in partitions(raw, 3)]
    merged = FeatureSpec.from_statistics(merge_statistics(stats), cutoff, CONFIG,
                                         btyd_sample_size=150)
    assert merged == once
    assert once.btyd is not None and once.categories


def test_features_of_partitions_equal_features_at_once(raw):
    whole = load_tables(CONFIG, customers=raw[0], transactions=raw[1], events=raw[2])
    cutoff = data_end(whole)
    spec = FeatureSpec.fit(whole, cutoff, CONFIG)
    expected = build_features(whole, cutoff, spec)
    pieces = [build_features(part_tables(*p), cutoff, spec) for p in partitions(raw, 4)]
    assert pieces[-1]["frequency"].eq(0).all() and len(pieces[-1])  # the no-transaction part
    got = pd.concat(pieces).loc[expected.index]
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, atol=1e-12)


def test_empty_transactions_are_refused_unless_the_table_is_a_partition(raw):
    customers, transactions, _ = raw
    tables, problems = validate_tables(CONFIG, customers, transactions.iloc[:0])
    assert tables is None and any(p.table == "transactions" and "empty" in p.message
                                  for p in problems)


def test_btyd_sample_keeps_the_smallest_keys_whatever_the_row_order():
    ids = pd.Series([f"C{i:04d}" for i in range(200)])
    key = sample_order(ids, seed=7)
    stats = {"order": key, "x": np.arange(200.0), "t_x": np.zeros(200), "T": np.ones(200)}
    shuffled = np.random.default_rng(0).permutation(200)
    a = select_btyd_sample(stats, 20)
    b = select_btyd_sample({k: v[shuffled] for k, v in stats.items()}, 20)
    np.testing.assert_array_equal(a["x"], b["x"])
    assert (np.diff(a["order"]) > 0).all()
    assert not np.array_equal(sample_order(ids, seed=8), key)


def test_value_counts_of_a_categorical_equal_the_text_value_counts_under_a_mask():
    from segml.features.statistics import text_counts

    rng = np.random.default_rng(2)
    raw = rng.choice(["web", "app", "store", None], 5000, p=[0.5, 0.3, 0.15, 0.05])
    values = pd.Series(pd.Categorical(raw, categories=["app", "store", "web", "unused"]))
    mask = rng.random(5000) < 0.6
    as_text = values[mask].dropna().astype(str).value_counts()
    assert text_counts(values, mask) == {str(k): int(n) for k, n in as_text.items()}
    assert "unused" not in text_counts(values)
    mixed = pd.Series(pd.Categorical([1, "1", 2, 1], categories=[1, "1", 2]))
    assert text_counts(mixed) == {"1": 3, "2": 1}
