"""A training run keeps only the transaction columns something reads once the tables are
fingerprinted (segml.data.contract.without_unread_columns)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segml.config import SegmlConfig
from segml.data.contract import load_tables, without_unread_columns
from segml.data.synthetic.datasets import make_customers
from segml.features import FeatureSpec, build_features
from segml.workflow.tracked_run import data_fingerprints


def _tables(config: SegmlConfig):
    data = make_customers(400, seed=8)
    return load_tables(config, customers=data.customers, transactions=data.transactions,
                       events=data.events)


def _config(**targets) -> SegmlConfig:
    return SegmlConfig(data={"now": "2026-01-01"}, targets=targets)


def test_quantity_and_order_ids_go_and_the_features_do_not_change():
    config = _config()
    tables = _tables(config)
    assert {"order_id", "quantity"} <= set(tables.transactions.columns)
    lean = without_unread_columns(tables, config)
    assert not {"order_id", "quantity"} & set(lean.transactions.columns)
    assert lean.customers is tables.customers and lean.events is tables.events
    assert len(lean.transactions) == len(tables.transactions)
    cutoff = tables.transactions["timestamp"].max() - pd.Timedelta(days=30)
    spec = FeatureSpec.fit(tables, cutoff, config)
    pd.testing.assert_frame_equal(build_features(tables, cutoff, spec),
                                  build_features(lean, cutoff, spec), check_exact=True)


def test_a_column_a_declared_target_filters_on_stays():
    config = _config(first_orders={"horizon_days": 30,
                                   "label": {"purchases": {"order_id": ["O000000001", "O000000002"]}}})
    tables = _tables(config)
    lean = without_unread_columns(tables, config)
    assert "order_id" in lean.transactions.columns and "quantity" not in lean.transactions.columns
    np.testing.assert_array_equal(lean.transactions["order_id"].to_numpy(),
                                  tables.transactions["order_id"].to_numpy())


def test_the_fingerprints_are_taken_before_the_columns_go():
    """The train run logs the whole tables' fingerprints (its load stage), then drops."""
    config = _config()
    tables = _tables(config)
    whole = data_fingerprints(tables)
    lean = data_fingerprints(without_unread_columns(tables, config))
    assert whole["customers"] == lean["customers"] and whole["events"] == lean["events"]
    assert whole["transactions"] != lean["transactions"]  # hence: fingerprint first


def test_tables_without_transactions_or_without_those_columns_are_returned_as_they_are():
    config = _config()
    tables = _tables(config)
    lean = without_unread_columns(tables, config)
    assert without_unread_columns(lean, config) is lean
    attributes = type(tables)(tables.customers)
    assert without_unread_columns(attributes, config) is attributes
