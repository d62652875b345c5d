"""A training run holds the customer ids of transactions and events as codes into the customers'
ids (segml.features.timeline.encode_customer_ids): every feature, label and stack is the same."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.config import SegmlConfig
from segml.data.contract import load_tables
from segml.data.synthetic.datasets import make_customers
from segml.features import FeatureSpec, build_features, make_labels
from segml.features.timeline import encode_customer_ids, release, row_positions
from segml.targets import TARGETS


@pytest.fixture(scope="module")
def tables():
    config = SegmlConfig(data={"now": "2026-01-01"})
    data = make_customers(500, seed=21)
    return load_tables(config, customers=data.customers, transactions=data.transactions,
                       events=data.events), config


def test_the_codes_are_the_customers_positions_and_read_as_the_ids(tables):
    tables, _ = tables
    coded = encode_customer_ids(tables)
    assert coded.customers is tables.customers
    for name in ("transactions", "events"):
        before, after = getattr(tables, name), getattr(coded, name)
        assert isinstance(after["customer_id"].dtype, pd.CategoricalDtype)
        np.testing.assert_array_equal(after["customer_id"].to_numpy(dtype=object),
                                      before["customer_id"].to_numpy(dtype=object))
        np.testing.assert_array_equal(row_positions(tables.customers, after),
                                      row_positions(tables.customers, before))
        assert [c for c in after.columns] == [c for c in before.columns]


def test_positions_of_coded_ids_are_a_read_only_view_not_a_copy():
    customers = pd.DataFrame({"customer_id": [f"C{i:06d}" for i in range(40_000)]})  # int32 codes
    tx = pd.DataFrame({"customer_id": customers["customer_id"].iloc[[5, 7, 5, 39_999]].to_numpy()})
    coded = encode_customer_ids(_tables_of(customers, tx)).transactions
    pos = row_positions(customers, coded)
    assert pos.tolist() == [5, 7, 5, 39_999]
    assert np.shares_memory(pos, coded["customer_id"].array.codes)
    assert not pos.flags.writeable
    assert coded["customer_id"].iloc[1] == "C000007"  # the column still reads as before
    release(customers)


def test_features_labels_and_stacks_are_identical(tables):
    tables, config = tables
    coded = encode_customer_ids(tables)
    end = tables.transactions["timestamp"].max()
    for days in (30, 200):
        cutoff = end - pd.Timedelta(days=days)
        spec = FeatureSpec.fit(tables, cutoff, config)
        pd.testing.assert_frame_equal(build_features(tables, cutoff, spec),
                                      build_features(coded, cutoff, spec), check_exact=True)
        assert FeatureSpec.fit(coded, cutoff, config).feature_names == spec.feature_names
    cutoff = end - pd.Timedelta(days=120)
    targets = [TARGETS[name] for name in ("churn", "purchase", "high_clv", "spend")]
    pd.testing.assert_frame_equal(make_labels(tables, cutoff, config.time, targets),
                                  make_labels(coded, cutoff, config.time, targets),
                                  check_exact=True)


def test_rows_of_unknown_customers_hold_a_missing_id_and_count_nowhere():
    customers = pd.DataFrame({"customer_id": ["007", "003"]})
    tx = pd.DataFrame({"customer_id": ["003", "7", "007", "404"]})
    coded = encode_customer_ids(_tables_of(customers, tx)).transactions
    assert coded["customer_id"].isna().tolist() == [False, True, False, True]
    assert row_positions(customers, coded).tolist() == [1, -1, 0, -1]


def test_integer_ids_and_tables_already_coded_or_missing():
    customers = pd.DataFrame({"customer_id": [10, 20, 30]})
    tx = pd.DataFrame({"customer_id": [30, 30, 10, 99]})
    once = encode_customer_ids(_tables_of(customers, tx))
    assert row_positions(customers, once.transactions).tolist() == [2, 2, 0, -1]
    assert once.events is None
    assert encode_customer_ids(once) is once  # nothing left to encode
    assert encode_customer_ids(_tables_of(customers, None)).transactions is None


def test_a_categorical_over_other_ids_is_looked_up_by_value_not_by_its_codes():
    """A user's own categorical column (categories in another order) is not mistaken for
    positions: its codes would put rows on the wrong customers."""
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"]})
    theirs = pd.Categorical(["c", "a", "c"], categories=["c", "b", "a"])
    tx = pd.DataFrame({"customer_id": theirs})
    assert row_positions(customers, tx).tolist() == [2, 0, 2]
    coded = encode_customer_ids(_tables_of(customers, tx)).transactions
    assert row_positions(customers, coded).tolist() == [2, 0, 2]
    assert list(coded["customer_id"].cat.categories) == ["a", "b", "c"]


def _tables_of(customers: pd.DataFrame, tx: pd.DataFrame | None):
    from segml.data.contract import Tables

    return Tables(customers, tx)
