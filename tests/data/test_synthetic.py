import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from segml.cli.main import app
from segml.data.contract import load_tables
from segml.data.io import read_table
from segml.data.synthetic.datasets import SyntheticData, make_customers, synthetic_config
from segml.data.synthetic.generator import CATEGORIES, CHANNELS, EVENT_TYPES
from segml.errors import DataError

START, END = pd.Timestamp("2023-01-01"), pd.Timestamp("2025-12-31")
CFG = synthetic_config(data={"now": "2026-01-01"})


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return make_customers(3000, seed=11)


def test_same_seed_gives_identical_frames():
    a, b = make_customers(400, seed=3), make_customers(400, seed=3)
    for name in ("customers", "transactions", "events", "ground_truth"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    c = make_customers(400, seed=4)
    assert not a.transactions["amount"].equals(c.transactions["amount"])


def test_sizes_and_columns(data):
    n = len(data.customers)
    assert n == 3000
    assert list(data.customers.columns) == [
        "customer_id", "signup_date", "age", "gender", "country", "city", "region", "industry",
        "company_size", "acquisition_channel", "device", "nps_score", "name", "email", "phone",
    ]
    assert list(data.transactions.columns) == [
        "customer_id", "order_id", "timestamp", "amount", "quantity", "category", "channel",
    ]
    assert list(data.events.columns) == ["customer_id", "timestamp", "event_type"]
    tx_per_customer = len(data.transactions) / n
    assert 12 < tx_per_customer < 32
    assert 0.7 < len(data.events) / len(data.transactions) <= 2.2
    assert data.customers["customer_id"].is_unique
    assert data.transactions["order_id"].is_unique
    assert data.transactions["quantity"].between(1, 5).all()
    assert set(data.transactions["category"]) == set(CATEGORIES)
    assert set(data.transactions["channel"]) == set(CHANNELS)
    assert set(data.events["event_type"]) == set(EVENT_TYPES)
    assert data.events["event_type"].dtype == "str"


def test_ids_are_zero_padded_strings(data):
    ids = data.customers["customer_id"]
    assert ids.dtype == "str"
    assert ids.str.len().nunique() == 1
    assert ids.str.startswith("0").all()
    assert ids.iloc[16] == "0000017"
    assert set(data.transactions["customer_id"]) <= set(ids)
    assert set(data.events["customer_id"]) <= set(ids)


def test_timestamps_are_naive_and_inside_window(data):
    for frame in (data.transactions, data.events):
        ts = frame["timestamp"]
        assert ts.dtype == "datetime64[ns]"
        assert ts.min() >= START and ts.max() <= END
    assert data.customers["signup_date"].dtype == "datetime64[ns]"
    first = data.transactions.groupby("customer_id")["timestamp"].min()
    signup = data.customers.set_index("customer_id")["signup_date"]
    assert (first >= signup.reindex(first.index)).all()
    purchases = data.transactions[data.transactions["amount"] > 0]
    dropout = data.ground_truth.set_index("customer_id")["true_dropout_date"]
    last = purchases.groupby("customer_id")["timestamp"].max()
    assert (last <= dropout.reindex(last.index)).all()
    alive = data.ground_truth.set_index("customer_id")["true_alive_at_end"]
    assert ((dropout > END) == alive).all()
    assert 0.15 < alive.mean() < 0.7


def test_truth_is_nested_and_shares_unequal(data):
    gt = data.ground_truth
    assert list(gt["customer_id"]) == list(data.customers["customer_id"])
    assert (gt["true_leaf"].str.split(".").str[0] == gt["true_macro"]).all()
    assert gt["true_macro"].nunique() == 4
    leaves_per_macro = gt.groupby("true_macro")["true_leaf"].nunique()
    assert leaves_per_macro.between(2, 4).all() and leaves_per_macro.sum() == 12
    shares = gt["true_leaf"].value_counts(normalize=True)
    assert shares.min() > 0.015 and shares.max() > 1.5 * shares.min()
    assert (data.design["share"] >= 0.03).all()


@pytest.mark.parametrize("n_macro", [3, 5])
def test_number_of_macros_is_configurable(n_macro):
    gt = make_customers(600, seed=2, n_macro=n_macro).ground_truth
    assert gt["true_macro"].nunique() == n_macro
    assert gt["true_leaf"].nunique() == 3 * n_macro


def test_bad_arguments_raise_data_error():
    with pytest.raises(DataError, match="n_macro"):
        make_customers(100, n_macro=6)
    with pytest.raises(DataError, match="shorter"):
        make_customers(100, start="2025-12-01", end="2025-12-31")


def _with_truth(data: SyntheticData) -> pd.DataFrame:
    truth = data.ground_truth.set_index("customer_id")
    tx = data.transactions
    return tx.assign(
        macro=truth["true_macro"].reindex(tx["customer_id"]).to_numpy(),
        leaf=truth["true_leaf"].reindex(tx["customer_id"]).to_numpy(),
    )


def test_macros_differ_in_value_and_leaves_in_mix(data):
    tx = _with_truth(data)
    sizes = data.ground_truth["true_macro"].value_counts()
    spend = tx.groupby("macro")["amount"].sum() / sizes
    assert spend.max() > 4 * spend.min()
    aov = tx[tx["amount"] > 0].groupby("macro")["amount"].mean()
    assert aov.max() > 3 * aov.min()
    # a leaf's mean order value is its design value whatever categories it buys
    leaf_aov = tx[tx["amount"] > 0].groupby("leaf")["amount"].mean()
    design_aov = data.design.set_index("true_leaf")["order_value"]
    assert (leaf_aov / design_aov.reindex(leaf_aov.index) - 1).abs().max() < 0.12
    # each leaf buys its favourite category clearly more often than its sibling leaves do
    share = pd.crosstab(tx["leaf"], tx["category"], normalize="index")
    favourite = data.design.set_index("true_leaf")["dominant_category"]
    for leaf, category in favourite.items():
        siblings = [s for s in share.index if s.split(".")[0] == leaf.split(".")[0] and s != leaf]
        assert share.loc[leaf, category] > share.loc[siblings, category].max() + 0.1, leaf


def test_returns_reference_a_purchase_of_the_same_customer(data):
    tx = data.transactions
    returns = tx[tx["amount"] < 0]
    assert 0.02 < len(returns) / len(tx) < 0.09
    purchases = tx[tx["amount"] > 0]
    matched = returns.assign(amount=-returns["amount"]).merge(
        purchases[["customer_id", "amount", "category"]], on=["customer_id", "amount", "category"]
    )
    assert matched[["order_id"]].drop_duplicates().shape[0] == len(returns)


def test_missing_values_and_attribute_ranges(data):
    customers = data.customers
    for column in ("age", "industry", "company_size", "nps_score", "city"):
        assert 0.005 < customers[column].isna().mean() < 0.15, column
    assert customers["region"].notna().all()
    assert set(customers["region"]) == {"North", "South", "East", "West"}
    assert customers["nps_score"].dropna().between(0, 10).all()
    assert customers["age"].dropna().between(18, 85).all()
    assert customers["email"].str.endswith("@example.com").all() and customers["email"].is_unique


def test_november_december_peak(data):
    purchases = data.transactions[data.transactions["amount"] > 0]
    per_month = purchases["timestamp"].dt.to_period("M").value_counts().sort_index()
    mean_by_month = per_month.groupby(per_month.index.month).mean()
    assert mean_by_month.loc[[11, 12]].mean() > 1.2 * mean_by_month.loc[[1, 2, 3, 6, 7]].mean()


def test_dropped_out_customers_only_open_emails(data):
    dropout = data.ground_truth.set_index("customer_id")["true_dropout_date"]
    ev = data.events
    after = ev["timestamp"].to_numpy() > dropout.reindex(ev["customer_id"]).to_numpy()
    assert after.any()
    assert set(ev.loc[after, "event_type"]) == {"email_open"}


def test_churn_is_learnable_but_not_trivial(data):
    """Recency alone predicts who is still alive at the end, but far from perfectly."""
    cutoff = END - pd.Timedelta(days=90)
    tx = data.transactions[(data.transactions["amount"] > 0)]
    before = tx[tx["timestamp"] <= cutoff]
    after = tx[tx["timestamp"] > cutoff]
    recency = (cutoff - before.groupby("customer_id")["timestamp"].max()).dt.days
    bought_again = recency.index.isin(after["customer_id"])
    auc = roc_auc_score(bought_again, -recency.to_numpy())
    assert 0.7 < auc < 0.97


def test_load_tables_accepts_the_frames_with_only_warnings(data):
    tables = load_tables(
        CFG, customers=data.customers, transactions=data.transactions, events=data.events
    )
    assert all(p.severity == "warning" for p in tables.warnings)
    assert len(tables.customers) == 3000
    assert len(tables.transactions) == len(data.transactions)
    assert not {"name", "email", "phone"} & set(tables.customers.columns)
    assert tables.customers["customer_id"].iloc[0] == "0000001"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_round_trip_keeps_leading_zeros(tmp_path, fmt):
    data = make_customers(300, seed=5)
    paths = data.write(tmp_path, format=fmt)
    assert paths["customers"].name == f"customers.{fmt}"
    assert paths["ground_truth"].name == "ground_truth.parquet"
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    customers = read_table(paths["customers"], table="customers", string_columns=["customer_id"])
    assert customers["customer_id"].tolist() == data.customers["customer_id"].tolist()
    tables = load_tables(CFG, data_dir=tmp_path)
    assert tables.transactions["customer_id"].str.startswith("0").all()
    assert len(tables.events) == len(data.events)
    truth = pd.read_parquet(paths["ground_truth"])
    assert truth["customer_id"].tolist() == data.ground_truth["customer_id"].tolist()


def test_write_rejects_unknown_format(tmp_path):
    with pytest.raises(DataError, match="format"):
        make_customers(20).write(tmp_path, format="xlsx")


def test_cli_generate_then_validate(tmp_path):
    runner = CliRunner()
    out = tmp_path / "tmp"
    result = runner.invoke(app, ["generate", "--customers", "500", "--seed", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "ground_truth.parquet").is_file()
    result = runner.invoke(app, ["validate", "--data", str(out)])
    assert result.exit_code == 0, result.output
    assert np.isclose(len(pd.read_parquet(out / "customers.parquet")), 500)


def _digest(data: SyntheticData) -> str:
    import hashlib

    h = hashlib.sha256()
    for name in ("customers", "transactions", "events", "ground_truth", "design"):
        h.update(getattr(data, name).to_csv(index=False).encode())
    return h.hexdigest()[:20]


@pytest.mark.parametrize(
    ("kwargs", "digest"),
    [
        (dict(n_customers=500, seed=3), "019e8b7bdcc43e31eff6"),
        (dict(n_customers=300, seed=1, design_seed=None), "c718712ae73184061b30"),
        (dict(n_customers=400, seed=2, n_macro=5, start="2024-03-01", end="2025-06-30"),
         "0ab780945bfab9541284"),
    ],
)
def test_default_design_output_is_pinned(kwargs, digest):
    """The default world is what every figure so far was measured on: its output never changes
    (hashes of the CSV text of every frame, taken before the hard design was added)."""
    assert _digest(make_customers(**kwargs)) == digest


def test_default_design_exact_values():
    data = make_customers(500, seed=3)
    assert len(data.transactions) == 12129 and len(data.events) == 16186
    assert data.transactions["amount"].iloc[[0, 7, 100]].tolist() == [27.17, 69.28, 57.38]
    assert str(data.transactions["timestamp"].iloc[5]) == "2023-12-22 01:28:14"
