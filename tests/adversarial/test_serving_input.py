"""The request checks behind the server, without a server (fast; family 1 and 2, issue 31): the
table builder refuses ragged rows before pandas pads them, text columns refuse infinities, and
``as_of`` is a date a timestamp holds. Messages name positions and columns, never values."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from segml.tracking.serving import table_request
from segml.tracking.validation import as_date, validate_input

from .helpers import MARKER

SCHEMA = [("customer_id", "string"), ("recency_days", "double"), ("country", "string")]
JSON = "application/json"


@pytest.mark.parametrize(("payload", "message"), [
    pytest.param({"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, 3], [1]]}}, "row 1 has 1 value(s) for 3", id="f1-split-short-row"),
    pytest.param({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2, MARKER]]}}, "row 0 has 3 value(s) for 2", id="f1-split-long-row"),
    pytest.param({"dataframe_split": {"columns": ["a"], "data": [[1], {"a": MARKER}]}}, "row 1 has not a list", id="f1-split-row-object"),
    pytest.param({"dataframe_records": [{"a": 1, "b": 2}, {"a": MARKER}]}, "record 1 has other fields", id="f1-records-missing-field"),
    pytest.param({"inputs": {"a": [1, 2], "b": [MARKER]}}, "different numbers of values", id="f1-inputs-ragged-columns"),
])
def test_ragged_tables_are_refused_before_pandas_pads_them(payload, message):
    with pytest.raises(MlflowException) as error:
        table_request(json.dumps(payload), JSON)
    assert message in error.value.message and MARKER not in error.value.message


def test_f1_a_square_table_is_built():
    frame, params = table_request(json.dumps(
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}}), JSON)
    assert frame.shape == (2, 2) and params == {}


@pytest.mark.parametrize("value", [pytest.param(math.inf, id="f2-text-inf"),
                                   pytest.param(-math.inf, id="f2-text-minus-inf")])
@pytest.mark.parametrize("column", ["country", "customer_id"])
@pytest.mark.parametrize("mixed", [pytest.param(False, id="alone"), pytest.param(True, id="among-text")])
def test_an_infinite_number_in_a_text_column(value, column, mixed):
    rows = {"customer_id": ["c1", "c2"], "recency_days": [1.0, 2.0], "country": ["DE", "FR"]}
    rows[column] = ["DE", value] if mixed else [value, value]
    with pytest.raises(MlflowException, match=f"column '{column}' holds text"):
        validate_input(pd.DataFrame(rows), SCHEMA)


def test_f2_nan_in_a_text_column_stays_missing():
    frame = validate_input(pd.DataFrame({"customer_id": ["c1"], "recency_days": [1.0],
                                         "country": [math.nan]}), SCHEMA)
    assert frame["country"].isna().all()


@pytest.mark.parametrize("value", [
    pytest.param("9999-12-31", id="f2-as-of-year-9999"), pytest.param("2262-04-12", id="f2-as-of-after-2262"),
    pytest.param("1677-01-01", id="f2-as-of-before-1677"), pytest.param("today", id="f2-as-of-word"),
    pytest.param("2024-02-30", id="f2-as-of-feb-30"), pytest.param("NaT", id="f2-as-of-nat"),
    pytest.param(20240501, id="f2-as-of-number"), pytest.param([2024, 5, 1], id="f2-as-of-list"),
    pytest.param("2024-05-01T10:00:00Z", id="f2-as-of-utc-suffix"),
])
def test_as_of_outside_the_dates_a_timestamp_holds(value):
    with pytest.raises(MlflowException, match="parameter 'as_of' must be a date"):
        as_date(value)


@pytest.mark.parametrize("value", [
    pytest.param("2024-05-01", id="f2-as-of-day"),
    pytest.param("2024-05-01T23:59:59.999999999", id="f2-as-of-end-of-day"),
    pytest.param(pd.Timestamp("2024-05-01").date(), id="f2-as-of-date-object")])
def test_f2_as_of_dates_are_read(value):
    assert as_date(value).date() == pd.Timestamp("2024-05-01").date()


WIDE = [("customer_id", "string"), *((f"x{i}", "double") for i in range(6)),
        ("btyd_expected_next_purchase_days", "double")]


def _wide(**cells) -> pd.DataFrame:
    row = {"customer_id": "c1", **{f"x{i}": float(i) for i in range(6)},
           "btyd_expected_next_purchase_days": 3.0, **cells}
    return pd.DataFrame({k: [v] for k, v in row.items()})


@pytest.mark.parametrize(("cells", "column"), [
    pytest.param({"x4": math.inf}, "x4", id="f2-one-infinite-double"),
    pytest.param({"x5": -7.25e15, "x2": math.inf}, "x2", id="f2-two-bad-doubles-first-named"),
    pytest.param({"btyd_expected_next_purchase_days": 7.25e15}, "btyd_expected_next_purchase_days",
                 id="f2-overflow-where-infinity-is-allowed"),
])
def test_f2_out_of_bounds_doubles_are_named_column_by_column(cells, column):
    """The float columns are bounds-checked as one block; a bad value is still reported for
    the first bad column in schema order, never with its value."""
    with pytest.raises(MlflowException) as error:
        validate_input(_wide(**cells), WIDE)
    assert f"column '{column}'" in error.value.message and "7.25" not in error.value.message


def test_f2_an_infinite_expected_purchase_is_allowed_in_the_block_check():
    frame = validate_input(_wide(btyd_expected_next_purchase_days=math.inf, x1=math.nan), WIDE)
    assert math.isinf(frame["btyd_expected_next_purchase_days"].iloc[0])
    assert math.isnan(frame["x1"].iloc[0])
