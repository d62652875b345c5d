"""Feature matrices built for the customers a use takes (build_features(ids=...), and the
training run's matrix cache, segml.workflow.datasets.FeatureFrames): the same rows, bit for bit,
as the whole matrix's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.config import SegmlConfig
from segml.data.contract import load_tables
from segml.data.synthetic.datasets import make_customers
from segml.features import FeatureSpec, build_features
from segml.workflow import datasets as datasets_module
from segml.workflow.datasets import build_datasets


@pytest.fixture(scope="module")
def loaded():
    config = SegmlConfig(data={"now": "2026-01-01"},
                         models={"candidate_max_rows": 1000, "max_eval_rows": 1000})
    data = make_customers(1500, seed=33)
    tables = load_tables(config, customers=data.customers, transactions=data.transactions,
                         events=data.events)
    return tables, config


def test_the_rows_asked_for_equal_the_whole_matrix_rows(loaded):
    tables, config = loaded
    cutoff = tables.transactions["timestamp"].max() - pd.Timedelta(days=60)
    spec = FeatureSpec.fit(tables, cutoff, config)
    whole = build_features(tables, cutoff, spec)
    rng = np.random.default_rng(0)
    ids = pd.Index(rng.permutation(tables.customers["customer_id"].to_numpy())[:150])
    part = build_features(tables, cutoff, spec, ids=ids)
    expected = whole.loc[whole.index.isin(ids)]
    pd.testing.assert_frame_equal(part, expected, check_exact=True)
    assert part.index.is_monotonic_increasing == whole.index.is_monotonic_increasing
    assert len(part) < len(whole)


def test_the_cache_builds_only_the_sampled_rows_and_the_sets_do_not_change(loaded, monkeypatch):
    tables, config = loaded
    built: list[int] = []
    real = datasets_module.FeatureFrames._rows_wanted

    def record(self, cutoff, use, planned):
        ids = real(self, cutoff, use, planned)
        built.append(-1 if ids is None else len(ids))
        return ids

    monkeypatch.setattr(datasets_module.FeatureFrames, "_rows_wanted", record)
    lean = build_datasets(tables, config)
    lean_sets = _sets(lean)
    assert built and -1 not in built and min(built) < len(tables.customers) / 2

    monkeypatch.setattr(datasets_module.FeatureFrames, "_rows_wanted",
                        lambda self, cutoff, use, planned: None)  # every matrix whole
    whole_sets = _sets(build_datasets(tables, config))
    for a, b in zip(lean_sets, whole_sets, strict=True):
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, check_exact=True)
        else:
            pd.testing.assert_series_equal(a, b, check_exact=True)


def _sets(data) -> list:
    out = []
    for target in ("churn", "purchase"):
        train = data.training_set(target)
        out += [train.X, train.Y, train.cutoff]
        out += list(data.evaluation_set(target))
        refit = data.refit_set(target)
        out += [refit.X, refit.Y, refit.cutoff]
    return out
