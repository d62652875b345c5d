"""The hierarchy recovers ``make_customers``' nested truth (issue 4 acceptance), seen and unseen.

Features are built the way the pipeline builds them (``FeatureSpec`` fitted at the data end) and
the hierarchy uses the demo configuration's segment settings.
"""

from __future__ import annotations

import pytest
from sklearn.metrics import adjusted_rand_score

from segml.data.synthetic.datasets import make_customers, synthetic_config, synthetic_features
from segml.segments import SegmentHierarchy


@pytest.mark.parametrize("n, seed", [(3000, 42), (2500, 21)])
def test_recovers_make_customers_truth_for_seen_and_new_customers(n, seed):
    config = synthetic_config()
    X, truth, spec = synthetic_features(n, seed, config=config)
    h = SegmentHierarchy.from_config(config.segments, seed=config.seed).fit(X)
    seen = h.assign(X)
    assert adjusted_rand_score(truth["true_leaf"], seen["segment_leaf"]) >= 0.8
    assert adjusted_rand_score(truth["true_macro"], seen["segment_level_1"]) >= 0.8
    # new customers of the same company (same design, another draw) get the same segments
    X_new, truth_new, _ = synthetic_features(2000, seed + 1, config=config, spec=spec)
    new = h.assign(X_new)
    assert adjusted_rand_score(truth_new["true_leaf"], new["segment_leaf"]) >= 0.8
    assert adjusted_rand_score(truth_new["true_macro"], new["segment_level_1"]) >= 0.8


def test_another_design_is_another_company():
    same = make_customers(300, seed=1).design
    assert same.equals(make_customers(500, seed=2).design)
    other = make_customers(300, seed=1, design_seed=5).design
    assert not other["order_value"].equals(same["order_value"])
    legacy = make_customers(300, seed=3, design_seed=None).design
    assert not legacy["order_value"].equals(same["order_value"])
