"""Segment discovery on a seeded sample of customers (docs/segments.md, "Discovery on a sample").

Above ``segments.discovery_max_rows`` the rule edges and the hierarchy are fitted on the customers
with the smallest hash keys of their ids (the keys Spark computes too); every customer is then
placed and profiled. At or below the cap nothing changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.config import SegmentsConfig
from segml.data.contract import load_tables
from segml.data.synthetic.datasets import make_customers, synthetic_config
from segml.sampling import discovery_rows, hash_keys, sample_context
from segml.segments import RuleSegmenter
from segml.workflow.datasets import build_datasets
from segml.workflow.stages import discover_segments

CUTOFF = pd.Timestamp("2029-12-31 23:59:59")


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    config = synthetic_config(data={"now": "2030-01-01"})
    data = make_customers(600, seed=5)
    tables = load_tables(config, customers=data.customers, transactions=data.transactions,
                         events=data.events)
    return build_datasets(tables, config).current_X


def segments_config(cap: int | None) -> SegmentsConfig:
    return SegmentsConfig(discovery_max_rows=cap, sample_size=200)


def test_the_cap_samples_exactly_the_customers_with_the_smallest_keys(features):
    keys = hash_keys(features.index, 7, sample_context("discovery", CUTOFF))
    expected = set(features.index[np.argsort(keys)[:250]])
    segmentation = discover_segments(features, segments_config(250), 7, cutoff=CUTOFF)
    sample = segmentation.discovery_ids
    assert len(sample) == 250 and set(sample) == expected
    assert sample.equals(features.index[np.isin(features.index, list(expected))])  # table order
    # the rule edges are the sample's; every customer is placed and profiled
    rules = RuleSegmenter(lifecycle=SegmentsConfig().lifecycle).fit(features.loc[sample])
    for column, edges in rules.rfm_edges_.items():
        np.testing.assert_array_equal(segmentation.rules.rfm_edges_[column], edges)
    assert segmentation.assignments.index.equals(features.index)
    assert segmentation.assignments["segment_leaf"].notna().all()
    deepest = segmentation.profiles[segmentation.depth]
    assert int(deepest["size"].sum()) == len(features)


def test_the_sample_does_not_depend_on_the_row_order(features):
    shuffled = features.iloc[np.random.default_rng(0).permutation(len(features))]
    a = features.index[discovery_rows(features.index, 100, 3, CUTOFF)]
    b = shuffled.index[discovery_rows(shuffled.index, 100, 3, CUTOFF)]
    assert sorted(a) == sorted(b) and len(a) == 100
    # another seed or cutoff draws other customers
    assert set(a) != set(features.index[discovery_rows(features.index, 100, 4, CUTOFF)])
    assert set(a) != set(features.index[discovery_rows(features.index, 100, 3, "2029-11-30")])


def test_at_or_below_the_cap_discovery_is_unchanged(features):
    whole = discover_segments(features, segments_config(None), 7, cutoff=CUTOFF)
    capped = discover_segments(features, segments_config(len(features)), 7, cutoff=CUTOFF)
    assert whole.discovery_ids.equals(features.index)
    pd.testing.assert_frame_equal(whole.assignments, capped.assignments)
    for level, profile in whole.profiles.items():
        pd.testing.assert_frame_equal(profile, capped.profiles[level])
    sampled = discover_segments(features, segments_config(250), 7, cutoff=CUTOFF)
    assert not sampled.assignments["segment_leaf"].equals(whole.assignments["segment_leaf"]) or \
        not np.array_equal(sampled.rules.rfm_edges_["monetary_sum"],
                           whole.rules.rfm_edges_["monetary_sum"])


def test_the_sizes_shown_count_every_customer(features):
    segmentation = discover_segments(features, segments_config(250), 7, cutoff=CUTOFF)
    a = segmentation.assignments
    counts = segmentation.counts()
    assert int(counts["customers"].sum()) == len(features) > 250
    for column in ("segment_leaf", "segment_level_1"):
        expected = a[column].value_counts()
        sizes = segmentation.sizes(column)
        assert sizes.to_dict() == expected.to_dict()
        assert list(sizes.to_numpy()) == sorted(sizes.to_numpy(), reverse=True)
    assert segmentation.noise_share() == float(a["segment_is_noise"].mean())
