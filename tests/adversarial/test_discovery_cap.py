"""A discovery cap below the hierarchy's own sample size (family 8): the hierarchy is fitted on
the capped sample, every customer is still placed and profiled (docs/segments.md, "Discovery on
a sample")."""

from __future__ import annotations

from segml.config import SegmentsConfig
from segml.data.contract import load_tables
from segml.data.synthetic.datasets import synthetic_config
from segml.workflow.datasets import build_datasets
from segml.workflow.stages import discover_segments


def test_f8_discovery_cap_below_the_segments_sample_size(source):
    config = synthetic_config()
    X = build_datasets(load_tables(config, data_dir=source), config).current_X
    segments = SegmentsConfig(discovery_max_rows=150)  # sample_size stays 20000
    assert segments.sample_size > 150 and len(X) > 150
    segmentation = discover_segments(X, segments, seed=0, cutoff="2030-01-01")
    assert len(segmentation.discovery_ids) == 150
    assert segmentation.assignments.index.equals(X.index)
    assert segmentation.assignments["segment_leaf"].notna().all()
    assert int(segmentation.profiles[segmentation.depth]["size"].sum()) == len(X)
