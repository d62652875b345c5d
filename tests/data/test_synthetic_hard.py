"""The hard synthetic world (issue 17): real properties, each measured against the default world."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from segml.cli.main import app
from segml.data.contract import load_tables
from segml.data.synthetic.datasets import (
    SyntheticData,
    make_customers,
    synthetic_config,
    synthetic_features,
)
from segml.errors import DataError

START, END = pd.Timestamp("2023-01-01"), pd.Timestamp("2025-12-31")
N = 3000


@pytest.fixture(scope="module")
def hard() -> SyntheticData:
    return make_customers(N, seed=11, difficulty="hard")


@pytest.fixture(scope="module")
def default() -> SyntheticData:
    return make_customers(N, seed=11)


def _purchases(data: SyntheticData) -> pd.DataFrame:
    return data.transactions[data.transactions["amount"] > 0]


def _orders_per_customer(data: SyntheticData) -> pd.Series:
    counts = _purchases(data).groupby("customer_id").size()
    return counts.reindex(data.customers["customer_id"], fill_value=0)


def test_same_schema_and_segments_as_default(hard, default):
    for name in ("customers", "transactions", "events", "ground_truth"):
        a, b = getattr(hard, name), getattr(default, name)
        assert list(a.columns) == list(b.columns), name
        assert a.dtypes.astype(str).tolist() == b.dtypes.astype(str).tolist(), name
    # the same company: the same leaves with the same shares and favourite categories
    same = ["true_macro", "true_leaf", "share", "dominant_category"]
    pd.testing.assert_frame_equal(hard.design[same], default.design[same])
    truth = hard.ground_truth
    assert (truth["true_leaf"].str.split(".").str[0] == truth["true_macro"]).all()
    assert hard.ground_truth["true_leaf"].nunique() == 12
    assert set(hard.events["event_type"]) == set(default.events["event_type"])
    assert set(hard.transactions["category"]) == set(default.transactions["category"])


def test_reproducible_and_not_the_default_world():
    a, b = (make_customers(400, seed=3, difficulty="hard") for _ in range(2))
    for name in ("customers", "transactions", "events", "ground_truth", "design"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    other = make_customers(400, seed=3)
    assert len(other.transactions) != len(a.transactions)


def test_volumes_like_the_default_world(hard):
    per_customer = len(hard.transactions) / N
    assert 15 < per_customer < 28
    assert 0.7 < len(hard.events) / len(hard.transactions) <= 2.2
    assert hard.transactions["order_id"].is_unique
    assert 0.02 < (hard.transactions["amount"] < 0).mean() < 0.09


def test_times_are_consistent_with_the_truth(hard):
    tx, truth = hard.transactions, hard.ground_truth.set_index("customer_id")
    for frame in (tx, hard.events):
        assert frame["timestamp"].min() >= START and frame["timestamp"].max() <= END
    purchases = _purchases(hard)
    first = purchases.groupby("customer_id")["timestamp"].min()
    signup = hard.customers.set_index("customer_id")["signup_date"].reindex(first.index)
    assert (first >= signup).all()
    gap = first - signup  # the first purchase comes with the acquisition: Exp(mean 3 days)
    assert gap.median() < pd.Timedelta(days=4) and gap.quantile(0.99) < pd.Timedelta(days=20)
    last = purchases.groupby("customer_id")["timestamp"].max()
    assert (last <= truth["true_dropout_date"].reindex(last.index)).all()
    assert ((truth["true_dropout_date"] > END) == truth["true_alive_at_end"]).all()
    # a return follows its purchase: same customer, amount and category
    returns = tx[tx["amount"] < 0]
    matched = returns.assign(amount=-returns["amount"]).merge(
        purchases[["customer_id", "amount", "category"]], on=["customer_id", "amount", "category"])
    assert matched["order_id"].nunique() == len(returns)


def test_many_one_time_buyers(hard, default):
    orders = _orders_per_customer(hard)
    assert (orders >= 1).all()  # every customer is acquired with a purchase
    assert (orders == 1).mean() > 0.2
    assert (_orders_per_customer(default) == 1).mean() < 0.1


def test_customers_die_and_never_come_back(hard):
    purchases = _purchases(hard)
    last = purchases.groupby("customer_id")["timestamp"].max()
    lapsed = last < END - pd.Timedelta(days=365)
    assert lapsed.mean() > 0.3  # bought before, nothing in the last year
    alive = hard.ground_truth.set_index("customer_id")["true_alive_at_end"]
    assert 0.2 < alive.mean() < 0.6
    assert (~alive.reindex(last[lapsed].index)).mean() > 0.8  # and most of them are gone


def test_gamma_heterogeneity_within_leaves(hard, default):
    """Gamma shapes below 1 give a coefficient of variation above 1 inside every leaf."""
    def cv(data, column):
        grouped = data.ground_truth.groupby("true_leaf")[column]
        return grouped.std() / grouped.mean()

    assert (cv(hard, "true_purchase_rate") > 1.1).all()
    assert (cv(default, "true_purchase_rate") < 0.5).all()
    assert hard.ground_truth["true_dropout_prob"].between(0, 1).all()


def _top_percent_revenue(data: SyntheticData) -> float:
    revenue = data.transactions.groupby("customer_id")["amount"].sum().sort_values(ascending=False)
    return revenue.iloc[: N // 100].sum() / revenue.sum()


def _aov_spread_within_leaves(data: SyntheticData) -> float:
    """Median over leaves of the 95th percentile / median of the customers' mean order value."""
    tx = _purchases(data)
    aov = tx.groupby("customer_id")["amount"].mean()
    by_leaf = aov.groupby(data.ground_truth.set_index("customer_id")["true_leaf"].reindex(aov.index))
    return (by_leaf.quantile(0.95) / by_leaf.median()).median()


def test_spend_has_a_heavier_tail(hard, default):
    assert _top_percent_revenue(hard) > 1.6 * _top_percent_revenue(default)
    # gamma-gamma: inverse-gamma mean order values inside a leaf (the default world: lognormal 0.2)
    assert _aov_spread_within_leaves(hard) > 3.0
    assert _aov_spread_within_leaves(default) < 2.0


def test_yearly_and_weekly_seasons(hard, default):
    purchases = _purchases(hard)
    q4 = purchases["timestamp"].dt.quarter.eq(4).mean()
    assert q4 > 0.33  # an even share is 92 / 365 = 0.25
    for frame, factor in ((purchases, 1.25), (hard.events, 1.2)):
        day = frame["timestamp"].dt.day_of_week.value_counts(normalize=True)
        assert day[5] > factor * day[1], frame.columns.tolist()  # Saturday vs Tuesday
    flat = _purchases(default)["timestamp"].dt.day_of_week.value_counts(normalize=True)
    assert flat.max() < 1.1 * flat.min()


def _proxies(data: SyntheticData) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-customer summaries a segmentation would see: orders, order value, category, channel
    and event mixes."""
    tx = _purchases(data)
    grouped = tx.groupby("customer_id")
    X = pd.DataFrame({"orders": np.log1p(grouped.size()), "aov": np.log(grouped["amount"].mean())})
    X = X.join(pd.crosstab(tx["customer_id"], tx["category"], normalize="index"))
    X = X.join(pd.crosstab(tx["customer_id"], tx["channel"], normalize="index"))
    X = X.join(np.log1p(pd.crosstab(data.events["customer_id"], data.events["event_type"])))
    X = X.reindex(data.customers["customer_id"]).fillna(0.0)
    return X, data.ground_truth["true_leaf"].to_numpy()


def _leaf_accuracy(data: SyntheticData) -> float:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    return cross_val_score(model, *_proxies(data), cv=3).mean()


def test_leaves_overlap_but_still_exist(hard, default):
    easy, overlapping = _leaf_accuracy(default), _leaf_accuracy(hard)
    assert easy > 0.85
    assert overlapping < easy - 0.25
    largest = hard.ground_truth["true_leaf"].value_counts(normalize=True).max()
    assert overlapping > 2.5 * largest  # far from recoverable, far from noise


def _chi2_p(data: SyntheticData, column: str, by: str) -> float:
    table = pd.crosstab(data.customers[column], data.ground_truth[by].to_numpy())
    return chi2_contingency(table)[1]


@pytest.mark.parametrize("column", ["gender", "region", "acquisition_channel"])
def test_uninformative_attributes(hard, default, column):
    assert _chi2_p(default, column, "true_leaf") < 1e-6  # the test can tell
    assert _chi2_p(hard, column, "true_leaf") > 0.001
    assert _chi2_p(hard, column, "true_alive_at_end") > 0.001


def test_weak_attributes_are_weak(hard, default):
    for column in ("country", "industry", "company_size"):
        assert _chi2_p(hard, column, "true_leaf") > _chi2_p(default, column, "true_leaf"), column
    age = hard.customers["age"].groupby(hard.ground_truth["true_leaf"].to_numpy()).mean()
    default_age = default.customers["age"].groupby(default.ground_truth["true_leaf"].to_numpy()).mean()
    assert age.max() - age.min() < 0.5 * (default_age.max() - default_age.min())


def test_tables_load_with_only_warnings(hard):
    tables = load_tables(synthetic_config(data={"now": "2026-01-01"}), customers=hard.customers,
                         transactions=hard.transactions, events=hard.events)
    assert all(p.severity == "warning" for p in tables.warnings)
    assert len(tables.transactions) == len(hard.transactions)


def test_synthetic_features_pass_difficulty_through():
    X, truth, _ = synthetic_features(300, seed=2, difficulty="hard")
    expected = make_customers(300, seed=2, difficulty="hard").ground_truth.set_index("customer_id")
    assert len(X) == 300
    pd.testing.assert_series_equal(truth["true_purchase_rate"],
                                   expected["true_purchase_rate"].reindex(X.index))


def test_unknown_difficulty_is_refused():
    with pytest.raises(DataError, match=r"difficulty must be one of 'default', 'hard', got 'extreme'"):
        make_customers(100, difficulty="extreme")


def test_cli_generate_hard(tmp_path):
    runner = CliRunner()
    out = tmp_path / "hard"
    result = runner.invoke(app, ["generate", "-n", "300", "--difficulty", "hard", "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = pd.read_parquet(out / "transactions.parquet")
    expected = make_customers(300, seed=0, difficulty="hard").transactions
    assert len(written) == len(expected)
    result = runner.invoke(app, ["validate", "--data", str(out)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["generate", "-n", "300", "--difficulty", "extreme", "--out", str(out)])
    assert result.exit_code == 2
    assert "--difficulty must be one of default, hard, got 'extreme'" in result.output
