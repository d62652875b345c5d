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


# ------------------------------------------------------------------- round 2 (issue 31)
def _padded_ids(width: int, tx_as: str):
    """Customers' (and events') ids zero-padded text; transactions' ids numbers (or text
    without the zeros), as a spreadsheet or a numeric export leaves them."""
    def mutate(f):
        ids = {k: i for i, k in enumerate(f["customers"]["customer_id"], start=1)}
        def pad(s):
            return s.map(ids).map(lambda i: f"{i:0{width}d}")
        numbers = f["transactions"]["customer_id"].map(ids)
        tx = f["transactions"].assign(customer_id=numbers if tx_as == "int" else
                                      numbers.astype(float) if tx_as == "float" else
                                      numbers.astype(str))
        return {"customers": f["customers"].assign(customer_id=pad(f["customers"]["customer_id"])),
                "transactions": tx,
                "events": f["events"].assign(customer_id=pad(f["events"]["customer_id"]))}
    return mutate


def _foreign(table: str, how: str):
    def mutate(f):
        frame = f[table].copy()
        if how == "prefix":
            frame["customer_id"] = "other-" + frame["customer_id"].astype(str)
        else:  # another shop's export: numeric ids where the customers' are text
            frame["customer_id"] = np.arange(len(frame)) + 10**9
        return {table: frame}
    return mutate


def _text_ts(table: str, column: str, func):
    """``column`` of ``table`` as text made by ``func(series of Timestamps) -> strings``."""
    def mutate(f):
        frame = f[table].copy()
        frame[column] = func(frame[column])
        return {table: frame}
    return mutate


def _mix_offsets(suffix: str):
    def func(s):
        text = s.dt.strftime("%Y-%m-%d %H:%M:%S")
        text.iloc[:5] = text.iloc[:5] + suffix
        return text
    return func


def _placeholder(value):
    def func(s):
        text = s.dt.strftime("%Y-%m-%d")
        text.iloc[:2] = value
        return text
    return func


ROUND2 = [
    # ids typed differently across tables
    pytest.param(_padded_ids(5, "int"), "only without their leading zeros", id="f5-padded-text-vs-int-ids"),
    pytest.param(_padded_ids(7, "float"), "only without their leading zeros", id="f5-padded-text-vs-float-ids"),
    pytest.param(_padded_ids(6, "text"), "only without their leading zeros", id="f5-padded-text-vs-unpadded-text"),
    pytest.param(_foreign("transactions", "prefix"), "none of the", id="f5-all-transactions-unknown"),
    pytest.param(_foreign("transactions", "numbers"), "none of the", id="f5-all-transactions-numeric-unknown"),
    pytest.param(_foreign("events", "prefix"), "none of the", id="f5-all-events-unknown"),
    # naive times mixed with offsets
    pytest.param(_text_ts("transactions", "timestamp", _mix_offsets("+02:00")), "with a UTC offset", id="f4-naive-mixed-with-plus-0200"),
    pytest.param(_text_ts("transactions", "timestamp", _mix_offsets("Z")), "with a UTC offset", id="f4-naive-mixed-with-z"),
    pytest.param(_text_ts("transactions", "timestamp", _mix_offsets("-0530")), "with a UTC offset", id="f4-naive-mixed-with-minus-0530"),
    pytest.param(_text_ts("events", "timestamp", _mix_offsets("+01:00")), "with a UTC offset", id="f4-events-naive-mixed-with-offset"),
    # day/month and year order guessed
    pytest.param(_text_ts("transactions", "timestamp", _strftime("%d %m %Y")), f"{F}_format", id="f4-space-separated-day-month"),
    pytest.param(_text_ts("transactions", "timestamp", _strftime("%m %d %Y %H:%M")), f"{F}_format", id="f4-space-separated-month-day"),
    pytest.param(_text_ts("transactions", "timestamp", _strftime("%y-%m-%d")), "two-digit numbers", id="f4-two-digit-year-first"),
    pytest.param(_text_ts("transactions", "timestamp", _strftime("%y.%m.%d %H:%M")), "two-digit numbers", id="f4-two-digit-year-first-dots"),
    pytest.param(_text_ts("customers", "signup_date", _strftime("%y/%m/%d")), "two-digit numbers", id="f4-signup-two-digit-year-first"),
    # dates no timestamp holds
    pytest.param(_text_ts("transactions", "timestamp", _placeholder("9999-12-31")), "outside 1677-09-21 to 2262-04-11", id="f4-text-9999-12-31"),
    pytest.param(_text_ts("transactions", "timestamp", _placeholder("0001-01-01")), "outside 1677-09-21 to 2262-04-11", id="f4-text-0001-01-01"),
    pytest.param(_text_ts("events", "timestamp", _placeholder("3000-01-01")), "outside 1677-09-21 to 2262-04-11", id="f4-events-year-3000"),
    pytest.param(_text_ts("customers", "signup_date", _placeholder("9999-12-31")), "outside 1677-09-21 to 2262-04-11", id="f4-signup-9999-12-31"),
]


@pytest.mark.parametrize(("mutate", "culprit"), ROUND2)
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_data_that_validated_but_should_not(frames, copy_of, mutate, culprit, fmt):
    folder = copy_of(fmt=fmt, **mutate(frames))
    assert_handled(invoke("validate", "--data", folder), 1, culprit)


@pytest.mark.parametrize("unit", ["us", "ms", "s"])
def test_f4_parquet_9999_12_31_is_one_line(frames, copy_of, unit):
    """A Parquet datetime column holds 9999-12-31 (microseconds and coarser do)."""
    tx = frames["transactions"].copy()
    values = tx["timestamp"].astype(f"datetime64[{unit}]")
    values.iloc[:2] = np.datetime64("9999-12-31", unit)
    tx["timestamp"] = values
    assert_handled(invoke("validate", "--data", copy_of(transactions=tx)), 1, "9999-12-31")


@pytest.mark.parametrize("cut", [pytest.param(0.5, id="f0-csv-gz-cut-in-half"),
                                 pytest.param(0.05, id="f0-csv-gz-cut-at-5pct"),
                                 pytest.param(None, id="f0-csv-gz-garbage-tail")])
def test_a_damaged_csv_gz_is_one_line(frames, copy_of, cut):
    import gzip

    folder = copy_of()
    (folder / "transactions.parquet").unlink()
    data = gzip.compress(frames["transactions"].to_csv(index=False).encode())
    data = data[: int(len(data) * cut)] if cut else data[:-8] + b"\x00garbage"
    (folder / "transactions.csv.gz").write_bytes(data)
    assert_handled(invoke("validate", "--data", folder), 1, "transactions.csv.gz")


@pytest.mark.parametrize("layout", [pytest.param("transactions.parquet", id="f0-spark-parts-in-table-parquet"),
                                    pytest.param("transactions", id="f0-spark-parts-in-table-folder")])
def test_a_folder_of_part_files_is_read_in_local_mode(frames, copy_of, layout):
    """What Spark writes: part files, a ``_SUCCESS`` marker and ``.crc`` files."""
    folder = copy_of()
    (folder / "transactions.parquet").unlink()
    parts = folder / layout
    parts.mkdir()
    tx = frames["transactions"]
    for i, chunk in enumerate(np.array_split(np.arange(len(tx)), 3)):
        tx.iloc[chunk].to_parquet(parts / f"part-{i:05d}-abc.snappy.parquet", index=False)
        (parts / f".part-{i:05d}-abc.snappy.parquet.crc").write_bytes(b"crc")
    (parts / "_SUCCESS").write_bytes(b"")
    output = assert_handled(invoke("validate", "--data", folder), 0)
    assert f"{len(tx):,} transactions" in output.replace("\n", " ")


def test_f0_an_empty_part_folder_names_it(copy_of):
    folder = copy_of()
    (folder / "transactions.parquet").unlink()
    (folder / "transactions.parquet").mkdir()
    (folder / "transactions.parquet" / "_SUCCESS").write_bytes(b"")
    config = folder / "c.yaml"
    config.write_text(f"data:\n  transactions:\n    path: {folder / 'transactions.parquet'}\n")
    assert_handled(invoke("validate", "--data", folder, "--config", config), 1,
                   "no .parquet part files")


def test_f5_a_few_orphans_stay_a_warning(frames, copy_of):
    """The control: some unknown customers (not all, no lost zeros) are ignored with a warning."""
    orphans = frames["transactions"].head(3).assign(customer_id="ghost")
    folder = copy_of(transactions=pd.concat([frames["transactions"], orphans]))
    output = assert_handled(invoke("validate", "--data", folder), 0)
    assert "3 row(s) of 1 customer(s) absent from the customers table" in output
