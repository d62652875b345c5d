"""Bad data through ``segml validate`` (families 4, 5, 9 and 0): each exits 1 with one line naming
the table and column, or is read as declared; nothing is guessed, nothing lost, no PII shown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.config import load_config
from segml.data.contract import load_tables

from .helpers import assert_handled, invoke


def _set(table: str, column: str, rows, value):
    def mutate(f):
        frame = f[table].copy()
        if isinstance(value, str):  # text in a typed column: the whole column as text
            frame[column] = frame[column].astype(str)
        elif isinstance(value, float) and pd.api.types.is_integer_dtype(frame[column]):
            frame[column] = frame[column].astype("float64")
        frame.loc[frame.index[rows], column] = value
        return {table: frame}
    return mutate


def _map(table: str, column: str, func):
    def mutate(f):
        frame = f[table].copy()
        frame[column] = func(frame[column])
        return {table: frame}
    return mutate


def _strftime(fmt):
    return lambda s: s.dt.strftime(fmt)


def _epoch(unit_div):
    return lambda s: s.astype("int64") // unit_div


def _int_ids(tx_value):
    """Integer ids in customers and events; transactions' ids as text, one of them bad."""
    def mutate(f):
        ids = {k: i for i, k in enumerate(f["customers"]["customer_id"], start=1)}
        customers = f["customers"].assign(customer_id=f["customers"]["customer_id"].map(ids))
        tx = f["transactions"].assign(
            customer_id=f["transactions"]["customer_id"].map(ids).astype(str))
        tx.loc[tx.index[:2], "customer_id"] = tx_value
        events = f["events"].assign(customer_id=f["events"]["customer_id"].map(ids))
        return {"customers": customers, "transactions": tx, "events": events}
    return mutate


F = "data.transactions.timestamp"
CASES = [
    # family 4: timestamps and amounts that used to pass validate and crash later
    pytest.param(_set("transactions", "timestamp", slice(0, 3), pd.NaT), None, "missing timestamp", id="f4-tx-nat"),
    pytest.param(_set("events", "timestamp", slice(0, 2), pd.NaT), None, "missing timestamp", id="f4-events-nat"),
    pytest.param(_set("transactions", "amount", slice(0, 2), np.inf), None, "amount", id="f4-amount-inf"),
    pytest.param(_set("transactions", "amount", slice(0, 2), -np.inf), None, "amount", id="f4-amount-minus-inf"),
    pytest.param(_set("transactions", "amount", slice(0, 2), 1e308), None, "amount", id="f4-amount-1e308"),
    pytest.param(_set("transactions", "amount", slice(0, 2), -1e308), None, "amount", id="f4-amount-minus-1e308"),
    pytest.param(_set("transactions", "amount", slice(0, 2), 2e15), None, "amount", id="f4-amount-2e15"),
    pytest.param(_set("transactions", "amount", slice(0, 2), np.nan), None, "missing (NaN) amount", id="f4-amount-nan"),
    pytest.param(_set("transactions", "amount", slice(0, 2), "12,50"), None, "non-numeric amount", id="f4-amount-comma"),
    pytest.param(_set("transactions", "amount", slice(0, 2), "$12.00"), None, "non-numeric amount", id="f4-amount-currency"),
    pytest.param(_set("transactions", "quantity", slice(0, 2), np.inf), None, "quantity", id="f4-quantity-inf"),
    pytest.param(_set("transactions", "quantity", slice(0, 2), "two"), None, "quantity", id="f4-quantity-text"),
    pytest.param(_map("transactions", "timestamp", _epoch(10**9)), None, f"{F}_unit", id="f4-epoch-seconds"),
    pytest.param(_map("transactions", "timestamp", _epoch(10**6)), None, f"{F}_unit", id="f4-epoch-millis"),
    pytest.param(_map("transactions", "timestamp", lambda s: (s.astype("int64") // 10**9).astype(str)), None, f"{F}_unit", id="f4-epoch-text"),
    pytest.param(_map("events", "timestamp", _epoch(10**9)), None, "data.events.timestamp_unit", id="f4-events-epoch"),
    pytest.param(_map("customers", "signup_date", _epoch(10**9)), None, "data.customers.signup_date_unit", id="f4-signup-epoch"),
    pytest.param(_map("transactions", "timestamp", _strftime("%d.%m.%Y %H:%M")), None, f"{F}_format", id="f4-day-first"),
    pytest.param(_map("transactions", "timestamp", _strftime("%m/%d/%Y")), None, f"{F}_format", id="f4-month-first"),
    pytest.param(_map("transactions", "timestamp", _strftime("%d-%m-%y %H:%M:%S")), None, f"{F}_format", id="f4-day-first-short-year"),
    pytest.param(_map("events", "timestamp", _strftime("%d/%m/%Y")), None, "data.events.timestamp_format", id="f4-events-day-first"),
    pytest.param(_map("customers", "signup_date", _strftime("%d.%m.%Y")), None, "data.customers.signup_date_format", id="f4-signup-day-first"),
    pytest.param(_map("transactions", "timestamp", _strftime("%Y-%m-%d")), "data:\n  transactions:\n    timestamp_format: '%d.%m.%Y'\n", "unparseable timestamp", id="f4-declared-format-mismatch"),
    pytest.param(_map("transactions", "timestamp", _strftime("%Y-%m-%d")), "data:\n  transactions:\n    timestamp_unit: s\n", "unparseable timestamp", id="f4-declared-unit-on-text"),
    pytest.param(_set("transactions", "timestamp", slice(0, 2), "not-a-date"), None, "unparseable timestamp", id="f4-garbage-timestamp"),
    pytest.param(_set("transactions", "timestamp", slice(0, 2), ""), None, "missing timestamp", id="f4-empty-timestamp"),
    pytest.param(_map("transactions", "timestamp", lambda s: pd.to_datetime(s.astype("int64") // 10**9)), None, "before 1971", id="f4-epoch-read-as-ns"),
    pytest.param(_set("transactions", "timestamp", slice(0, 2), pd.Timestamp("2099-01-01")), None, "after today", id="f4-tx-future"),
    pytest.param(_set("events", "timestamp", slice(0, 2), pd.Timestamp("2099-01-01")), None, "after today", id="f4-events-future"),
    pytest.param(_set("customers", "signup_date", slice(0, 2), pd.Timestamp("2099-01-01")), None, "after today", id="f4-signup-future"),
    pytest.param(_map("transactions", "timestamp", lambda s: s.notna()), None, "true/false", id="f4-bool-timestamps"),
    pytest.param(_set("customers", "age", slice(0, 2), np.inf), None, "age", id="f4-attribute-inf"),
    pytest.param(_set("customers", "nps_score", slice(0, 2), 1e308), None, "nps_score", id="f4-attribute-1e308"),
    # family 5: ids
    pytest.param(_int_ids("abc"), None, "cannot match the customers' numeric ids", id="f5-text-id-vs-int-ids"),
    pytest.param(_int_ids("2.5"), None, "cannot match the customers' numeric ids", id="f5-fraction-id-vs-int-ids"),
    pytest.param(_set("customers", "customer_id", slice(0, 2), None), None, "missing customer id", id="f5-missing-customer-id"),
    pytest.param(_set("transactions", "customer_id", slice(0, 2), None), None, "missing customer id", id="f5-tx-missing-id"),
    pytest.param(lambda f: {"customers": pd.concat([f["customers"], f["customers"].head(2)])}, None, "duplicated customer id", id="f5-duplicated-ids"),
    pytest.param(lambda f: {"customers": f["customers"].drop(columns="customer_id")}, None, "required column 'customer_id'", id="f5-no-id-column"),
    pytest.param(lambda f: {"transactions": f["transactions"].drop(columns="customer_id")}, None, "required column 'customer_id'", id="f5-tx-no-id-column"),
    # family 9: PII declarations
    pytest.param(lambda f: {}, "data:\n  customers:\n    pii: [customer_id, email]\n", "customer id column 'customer_id' is declared PII", id="f9-customer-id-as-pii"),
    pytest.param(lambda f: {}, "data:\n  customers:\n    attributes: {demographic: [age]}\n    pii: [age, email]\n", "'age' is declared both PII", id="f9-attribute-as-pii"),
    # family 0: other broken tables
    pytest.param(lambda f: {"customers": f["customers"].head(0)}, None, "empty", id="f0-empty-customers"),
    pytest.param(lambda f: {"transactions": f["transactions"].head(0)}, None, "empty", id="f0-empty-transactions"),
    pytest.param(lambda f: {"transactions": f["transactions"].drop(columns="amount")}, None, "required column 'amount'", id="f0-no-amount"),
    pytest.param(lambda f: {"events": f["events"].drop(columns="event_type")}, None, "required column 'event_type'", id="f0-no-event-type"),
]


@pytest.mark.parametrize(("mutate", "config", "culprit"), CASES)
def test_bad_data_is_one_line_naming_the_culprit(frames, copy_of, tmp_path, mutate, config,
                                                 culprit):
    folder = copy_of(**mutate(frames))
    args = ["validate", "--data", folder]
    if config:
        (tmp_path / "c.yaml").write_text(config)
        args += ["--config", tmp_path / "c.yaml"]
    assert_handled(invoke(*args), 1, culprit)


CSV_CASES = [
    pytest.param("transactions", "amount", "12,50", "non-numeric amount", id="f4-csv-amount-comma"),
    pytest.param("transactions", "amount", "inf", "amount", id="f4-csv-amount-inf"),
    pytest.param("transactions", "timestamp", "", "missing timestamp", id="f4-csv-empty-timestamp"),
    pytest.param("transactions", "timestamp", "1714557600", f"{F}_unit", id="f4-csv-epoch"),
    pytest.param("transactions", "timestamp", "01.05.2024 10:00", f"{F}_format", id="f4-csv-day-first"),
    pytest.param("customers", "customer_id", "", "missing customer id", id="f5-csv-empty-id"),
]


@pytest.mark.parametrize(("table", "column", "value", "culprit"), CSV_CASES)
def test_bad_csv_values(frames, copy_of, table, column, value, culprit):
    frame = frames[table].astype({column: object})
    frame.loc[frame.index[:3], column] = value
    assert_handled(invoke("validate", "--data", copy_of(fmt="csv", **{table: frame})), 1, culprit)


@pytest.mark.parametrize("content", [
    pytest.param(b"PAR1 this is not parquet", id="f0-corrupt-parquet"),
    pytest.param(bytes(range(256)) * 4, id="f0-binary-as-parquet"),
])
def test_unreadable_table_file(copy_of, content):
    folder = copy_of()
    (folder / "transactions.parquet").write_bytes(content)
    assert_handled(invoke("validate", "--data", folder), 1, "cannot read")


def test_f0_undecodable_csv(copy_of):
    folder = copy_of()
    (folder / "events.parquet").unlink()
    (folder / "events.csv").write_bytes(b"customer_id,timestamp,event_type\n\xff\xfe,\x80,x\n")
    assert_handled(invoke("validate", "--data", folder), 1, "events")


def test_f0_data_folder_without_customers(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_handled(invoke("validate", "--data", tmp_path / "empty"), 1, "no customers table")


def test_f0_missing_data_folder(tmp_path):
    assert_handled(invoke("validate", "--data", tmp_path / "nowhere"), 1, "data folder not found")


def test_f4_declared_formats_read_what_was_refused(frames, copy_of, tmp_path):
    """The keys the errors name do fix them: day-first text and epoch seconds read exactly."""
    tx = frames["transactions"].assign(timestamp=frames["transactions"]["timestamp"].dt.floor("min"))
    text = tx.assign(timestamp=tx["timestamp"].dt.strftime("%d.%m.%Y %H:%M"))
    events = frames["events"].assign(timestamp=frames["events"]["timestamp"].astype("int64") // 10**9)
    folder = copy_of(transactions=text, events=events)
    config = tmp_path / "c.yaml"
    config.write_text("data:\n  transactions:\n    timestamp_format: '%d.%m.%Y %H:%M'\n"
                      "  events:\n    timestamp_unit: s\n")
    assert_handled(invoke("validate", "--data", folder, "--config", config), 0)
    cfg = load_config(config)
    cfg.data.dir = str(folder)
    tables = load_tables(cfg)
    assert tables.transactions["timestamp"].tolist() == tx["timestamp"].tolist()
    assert (tables.events["timestamp"] == frames["events"]["timestamp"].dt.floor("s")).all()


def test_f9_signup_date_declared_pii_is_not_used(source, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("data:\n  customers:\n    pii: [signup_date, name, email, phone]\n")
    output = assert_handled(invoke("validate", "--data", source, "--config", config), 0)
    assert "signup date column 'signup_date' is declared PII" in output
    cfg = load_config(config)
    cfg.data.dir = str(source)
    assert "signup_date" not in load_tables(cfg).customers.columns  # tenure cannot use it
