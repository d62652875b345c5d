"""Public datasets: their builders on tiny inputs of the shipped formats (no download here)."""

import pandas as pd
import pytest

from segml.data import public


def test_cdnow_builder_reads_the_shipped_text_format():
    raw = (b" customer_id  date number_of_cds  dollar_value\n"
           b" 00001 19970101  1   11.77\n 00002 19970112  1   12.00\n 00002 19970112  5   77.00\n")
    tables = public._cdnow(raw)
    tx = tables["transactions"]
    assert tables["customers"]["customer_id"].tolist() == ["00001", "00002"]  # zeros kept
    assert tx["timestamp"].tolist() == [pd.Timestamp("1997-01-01"), pd.Timestamp("1997-01-12"),
                                        pd.Timestamp("1997-01-12")]
    assert tx["amount"].sum() == pytest.approx(100.77)
    assert tx["order_id"].is_unique


def test_keep_last_days_cuts_transactions_and_events_at_the_same_start():
    tx = pd.DataFrame({"customer_id": ["a"] * 3, "amount": [1.0, 2.0, 3.0],
                       "timestamp": pd.to_datetime(["2024-01-01", "2024-06-01", "2024-12-31"])})
    ev = pd.DataFrame({"customer_id": ["a"] * 2, "event_type": ["x", "y"],
                       "timestamp": pd.to_datetime(["2024-01-02", "2024-12-30"])})
    cust = pd.DataFrame({"customer_id": ["a"]})
    out = public.keep_last_days({"customers": cust, "transactions": tx, "events": ev}, 214)
    assert out["transactions"]["amount"].tolist() == [2.0, 3.0]   # 2024-06-01 is day 214
    assert out["events"]["event_type"].tolist() == ["y"]
    assert out["customers"] is cust


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(KeyError, match="cdnow"):
        public.load_public("no_such_data")
