import numpy as np
import pandas as pd
import pytest

from segml.config import SegmlConfig, load_config
from segml.data.contract import load_tables, validate_tables
from segml.data.io import fingerprint, read_table, write_frame_atomic
from segml.data.synthetic.datasets import synthetic_config
from segml.errors import DataError

CFG = synthetic_config(data={"now": "2025-01-01"})


def make_frames(seed: int = 0, n: int = 20):
    rng = np.random.default_rng(seed)
    ids = [f"{i:05d}" for i in range(n)]
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D"),
            "age": rng.integers(18, 80, n),
            "gender": rng.choice(["f", "m"], n),
            "country": rng.choice(["DE", "FR"], n),
            "region": rng.choice(["North", "South"], n),
            "city": rng.choice(["A", "B"], n),
            "industry": rng.choice(["retail", "tech"], n),
            "company_size": rng.choice(["1-10", "11-50"], n),
            "device": rng.choice(["mobile", "desktop"], n),
            "acquisition_channel": rng.choice(["ads", "seo"], n),
            "nps_score": rng.integers(0, 11, n),
            "name": [f"Person {i}" for i in range(n)],
            "email": [f"p{i}@example.com" for i in range(n)],
            "phone": [f"+49 555 {i:04d}" for i in range(n)],
        }
    )
    m = 5 * n
    transactions = pd.DataFrame(
        {
            "customer_id": rng.choice(ids, m),
            "order_id": np.arange(m),
            "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300 * 24, m), "h"),
            "amount": rng.gamma(2, 20, m).round(2),
            "quantity": rng.integers(1, 4, m),
            "category": rng.choice(["books", "toys"], m),
            "channel": rng.choice(["web", "store"], m),
        }
    )
    events = pd.DataFrame(
        {
            "customer_id": rng.choice(ids, m),
            "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300 * 24, m), "h"),
            "event_type": rng.choice(["session", "email_open"], m),
        }
    )
    return customers, transactions, events


def errors_of(problems):
    return [p for p in problems if p.severity == "error"]


def test_valid_frames_load_with_canonical_columns_and_no_pii():
    customers, tx, ev = make_frames()
    tables = load_tables(CFG, customers=customers, transactions=tx, events=ev)
    assert tables.mode == "behavioural"
    assert not {"name", "email", "phone"} & set(tables.customers.columns)
    assert tables.customers["customer_id"].tolist()[:2] == ["00000", "00001"]
    assert tables.transactions["timestamp"].dtype == "datetime64[ns]"
    assert isinstance(tables.customers["region"].dtype, pd.CategoricalDtype)
    assert isinstance(tables.transactions["category"].dtype, pd.CategoricalDtype)
    assert tables.attribute_roles["geographic"] == ["country", "region", "city"]
    assert tables.transactions["customer_id"].dtype == tables.customers["customer_id"].dtype


def test_every_problem_reported_at_once():
    customers, tx, ev = make_frames()
    customers = pd.concat([customers, customers.iloc[:3]])
    tx = tx.drop(columns="amount")
    ev["timestamp"] = ev["timestamp"].astype(str)
    ev.loc[[1, 2], "timestamp"] = "not-a-date"
    tables, problems = validate_tables(CFG, customers, tx, ev)
    assert tables is None
    errors = errors_of(problems)
    assert any(p.table == "customers" and "3 duplicated" in p.message for p in errors)
    assert any(p.table == "transactions" and p.column == "amount" for p in errors)
    bad_ts = [p for p in errors if p.table == "events" and p.column == "timestamp"]
    assert bad_ts and "2 unparseable" in bad_ts[0].message and "not-a-date" in bad_ts[0].message


def test_empty_transactions_nan_amounts_and_future_timestamps():
    customers, tx, _ = make_frames()
    _, problems = validate_tables(CFG, customers, tx.iloc[:0])
    assert any(p.table == "transactions" and "empty" in p.message for p in errors_of(problems))
    tx.loc[0, "amount"] = np.nan
    tx.loc[1, "timestamp"] = pd.Timestamp("2030-01-01")
    _, problems = validate_tables(CFG, customers, tx)
    messages = [p.message for p in errors_of(problems)]
    assert any("1 missing (NaN) amount" in m for m in messages)
    assert any("1 timestamp(s) after today" in m for m in messages)


def test_unknown_customers_in_transactions_are_a_warning_and_dropped():
    customers, tx, _ = make_frames()
    tx.loc[:2, "customer_id"] = "99999"
    tables, problems = validate_tables(CFG, customers, tx)
    warning = [p for p in problems if p.table == "transactions" and p.severity == "warning"]
    assert tables is not None and "3 row(s) of 1 customer(s) absent" in warning[0].message
    assert "99999" not in set(tables.transactions["customer_id"])


def test_declared_column_missing_is_an_error_when_declared_explicitly():
    customers, tx, _ = make_frames()
    cfg = SegmlConfig(data={"customers": {"attributes": {"demographic": ["age", "shoe_size"]}}})
    _, problems = validate_tables(cfg, customers, tx)
    assert any(p.column == "shoe_size" for p in errors_of(problems))
    # the defaults declare no column: nothing to miss, nothing warned, no attribute read
    tables, problems = validate_tables(SegmlConfig(data={"now": "2025-01-01"}),
                                       customers.drop(columns="industry"), tx)
    assert tables is not None and problems == [] and tables.attribute_roles == {}


def test_optional_tables_and_columns():
    customers, tx, _ = make_frames()
    tables = load_tables(CFG, customers=customers, transactions=tx[["customer_id", "timestamp", "amount"]])
    assert tables.events is None
    assert list(tables.transactions.columns) == ["customer_id", "timestamp", "amount"]


def test_attributes_mode_labels():
    customers, _, _ = make_frames()
    customers["Churn"] = np.where(np.arange(len(customers)) % 3 == 0, "Yes", "No")
    cfg = SegmlConfig(data={"customers": {"labels": {"churn": "Churn"}}, "transactions": None, "events": None})
    tables = load_tables(cfg, customers=customers)
    assert tables.mode == "attributes"
    assert tables.customers["label_churn"].sum() == 7
    for bad, message in (("Yes", "constant"), (None, "constant")):
        customers["Churn"] = bad
        with pytest.raises(DataError, match=message):
            load_tables(cfg, customers=customers)
    customers["Churn"] = np.arange(len(customers)) % 3
    with pytest.raises(DataError, match="not binary"):
        load_tables(cfg, customers=customers)
    with pytest.raises(DataError, match="at least one label"):
        load_tables(SegmlConfig(data={"transactions": None}), customers=customers)


def test_csv_keeps_leading_zeros_and_missing_file_named(tmp_path):
    customers, tx, _ = make_frames()
    customers.to_csv(tmp_path / "customers.csv", index=False)
    tx.to_csv(tmp_path / "transactions.csv", index=False)
    cfg = load_config(None, data={"dir": str(tmp_path), "now": "2025-01-01"})
    tables = load_tables(cfg)
    assert tables.customers["customer_id"].iloc[0] == "00000"
    assert tables.transactions["customer_id"].isin(tables.customers["customer_id"]).all()
    with pytest.raises(DataError) as info:
        read_table(tmp_path / "nope.parquet", table="events")
    assert info.value.problems[0].table == "events"


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    frame = pd.DataFrame({"a": [1, 2]})
    target = write_frame_atomic(frame, tmp_path / "out.parquet")
    assert pd.read_parquet(target).equals(frame)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    with pytest.raises(RuntimeError):
        write_frame_atomic(frame, tmp_path / "other.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]


def test_fingerprint_changes_with_one_cell():
    customers, tx, _ = make_frames()
    a = fingerprint(tx, timestamp="timestamp")
    tx.loc[5, "amount"] += 1
    b = fingerprint(tx, timestamp="timestamp")
    assert a["rows"] == b["rows"] and a["sha256"] != b["sha256"]
    assert a["min_timestamp"] <= a["max_timestamp"]


def test_fingerprint_by_blocks_of_rows_equals_the_whole_table_hash(monkeypatch):
    """Hashed a block of rows at a time (bounded memory on tens of millions of rows), the digest is
    the one of all row hashes at once, whatever the block size, text and categoricals included."""
    import hashlib

    from segml.data import io

    rng = np.random.default_rng(4)
    n = 1003
    frame = pd.DataFrame({
        "customer_id": pd.array([f"c{i % 97:04d}" for i in range(n)], dtype="str"),
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), "s"),
        "amount": rng.gamma(2.0, 10.0, n),
        "channel": pd.Categorical(rng.choice(["web", "store", "app"], n)),
    })
    whole = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    whole.update("|".join(frame.columns).encode())
    for block in (1, 100, 1000, 10**6):
        monkeypatch.setattr(io, "FINGERPRINT_BLOCK_ROWS", block)
        assert io.fingerprint(frame)["sha256"] == whole.hexdigest()[:16]
    empty = hashlib.sha256("|".join(frame.columns).encode()).hexdigest()[:16]
    assert io.fingerprint(frame.iloc[:0])["sha256"] == empty
