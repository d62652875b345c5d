import json

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segml.config import SegmlConfig
from segml.data.contract import load_tables
from segml.errors import DataError
from segml.features import FeatureSpec, build_features
from segml.features.btyd import btyd_summary
from segml.features.purchases import purchase_gaps
from segml.features.timeline import row_positions

CUTOFF = pd.Timestamp("2024-06-30")


def hand_tables(cfg_features=None, ids=("00017", "00018", "00019", "00020")):
    """Four customers with hand-checkable histories (cutoff 2024-06-30 00:00)."""
    a, b, c, d = ids
    customers = pd.DataFrame({
        "customer_id": list(ids),
        "signup_date": ["2024-01-01", "2024-03-01", "2024-06-01", "2024-07-15"],
        "gender": ["f", "m", "f", "m"],
        "age": [30, 40, 50, 60],
    })
    tx = pd.DataFrame({
        "customer_id": [a, a, a, a, a, b, b, d],
        "timestamp": ["2024-02-01 00:00:00", "2024-04-01 00:00:00", "2024-06-10 00:00:00",
                      "2024-06-20 00:00:00", "2024-07-05 00:00:00",  # a: last one after cutoff
                      "2024-03-10 00:00:00", "2024-03-10 00:00:00", "2024-07-20 00:00:00"],
        "amount": [100.0, 50.0, 30.0, -20.0, 999.0, 10.0, 40.0, 5.0],
        "category": ["books", "toys", "books", "books", "toys", "toys", "toys", "books"],
        "channel": ["web", "web", "app", "web", "web", "store", "store", "web"],
    })
    events = pd.DataFrame({
        "customer_id": [a, a, a, c, c, b],
        "timestamp": ["2024-06-25 00:00:00", "2024-06-29 00:00:00", "2024-07-01 00:00:00",
                      "2024-05-01 00:00:00", "2024-06-29 12:00:00", "2024-01-15 00:00:00"],
        "event_type": ["session", "email_open", "session", "session", "session", "session"],
    })
    cfg = SegmlConfig.model_validate({
        "data": {"now": "2100-01-01", "customers": {
            "attributes": {"demographic": ["age", "gender"]}}},
        "features": {"btyd": False, **(cfg_features or {})},
    })
    return load_tables(cfg, customers=customers, transactions=tx, events=events), cfg


def test_hand_computed_values():
    tables, cfg = hand_tables()
    spec = FeatureSpec.fit(tables, CUTOFF, cfg)
    X = build_features(tables, CUTOFF, spec)
    # d signed up after the cutoff (and only bought after it): excluded.
    assert X.index.tolist() == ["00017", "00018", "00019"]
    assert X.index.name == "customer_id"
    assert list(X.columns) == spec.feature_names
    a, b, c = X.loc["00017"], X.loc["00018"], X.loc["00019"]
    # a: purchases 02-01 (100), 04-01 (50), 06-10 (30); return 06-20 (-20).
    assert a["recency_days"] == 20.0
    assert a["frequency"] == 3.0
    assert a["monetary_sum"] == 160.0
    assert a["monetary_mean"] == pytest.approx(60.0)
    assert a["monetary_max"] == 100.0
    assert a["return_rate"] == pytest.approx(20 / 180)
    assert a["tenure_days"] == (CUTOFF - pd.Timestamp("2024-01-01")).days
    gaps = np.array([60.0, 70.0])  # 02-01 -> 04-01 -> 06-10
    assert a["ipt_mean_days"] == pytest.approx(gaps.mean())
    assert a["ipt_std_days"] == pytest.approx(gaps.std())
    assert a["orders_30d"] == 1.0 and a["spend_30d"] == 10.0  # 30 bought, 20 returned
    # 04-01 lies exactly 90 days back: windows are (c - w, c], so it is out.
    assert a["orders_90d"] == 1.0 and a["spend_90d"] == 10.0
    assert a["orders_365d"] == 3.0 and a["spend_365d"] == 160.0
    assert a["share_category_books"] == pytest.approx(2 / 3)
    assert a["share_category_toys"] == pytest.approx(1 / 3)
    assert a["share_channel_web"] == pytest.approx(2 / 3)
    assert a["share_channel_app"] == pytest.approx(1 / 3)
    assert a["events_session_30d"] == 1.0  # the 07-01 session is after the cutoff
    assert a["events_email_open_30d"] == 1.0
    assert a["days_since_session"] == 5.0
    assert a["days_since_email_open"] == 1.0
    # b: two orders on the same day, no gap variation, one session long ago.
    assert b["frequency"] == 2.0 and b["recency_days"] == (CUTOFF - pd.Timestamp("2024-03-10")).days
    assert b["ipt_mean_days"] == 0.0 and b["ipt_std_days"] == 0.0
    assert b["share_channel_store"] == 1.0
    assert b["events_session_30d"] == 0.0 and b["events_session_365d"] == 1.0
    # c: known (signed up before the cutoff) but never purchased.
    assert c["frequency"] == 0.0 and np.isnan(c["recency_days"])
    assert c["monetary_sum"] == 0.0 and c["return_rate"] == 0.0
    assert np.isnan(c["ipt_mean_days"]) and c["share_category_books"] == 0.0
    assert c["days_since_session"] == 0.5
    # Signed up 06-01 but had a session on 05-01: tenure counts from the earliest sign.
    assert c["tenure_days"] == 60.0
    assert np.isnan(X.loc["00018", "days_since_email_open"])


def test_ids_and_dtypes_preserved():
    tables, cfg = hand_tables()
    X = build_features(tables, CUTOFF, FeatureSpec.fit(tables, CUTOFF, cfg))
    assert X.index.dtype == tables.customers["customer_id"].dtype
    assert X.index[0] == "00017"
    assert X["gender"].dtype == "category" and X["age"].dtype == "float64"
    numeric = X.drop(columns=["gender"])
    assert all(dtype == "float64" for dtype in numeric.dtypes)
    int_tables, _ = hand_tables(ids=(17, 18, 19, 20))
    X_int = build_features(int_tables, CUTOFF, FeatureSpec.fit(int_tables, CUTOFF, cfg))
    assert X_int.index.tolist() == [17, 18, 19]
    assert X_int.index.dtype == int_tables.customers["customer_id"].dtype
    assert_frame_equal(X_int.reset_index(drop=True), X.reset_index(drop=True))


def test_spec_fixes_columns_and_categories(tables, cfg):
    early, late = pd.Timestamp("2024-01-31"), pd.Timestamp("2024-12-31")
    spec = FeatureSpec.fit(tables, early, cfg)
    X_early = build_features(tables, early, spec)
    X_late = build_features(tables, late, spec)
    assert list(X_early.columns) == list(X_late.columns) == spec.feature_names
    for col in spec.categorical_features:
        assert X_early[col].dtype == X_late[col].dtype
        assert list(X_late[col].cat.categories) == spec.attribute_levels[col]
    assert set(spec.categorical_features) == {"gender", "country"}
    # More customers are known later; the earlier population is a subset.
    assert set(X_early.index) < set(X_late.index)
    # A later spec learns the same kind of columns; refitting is deterministic.
    assert FeatureSpec.fit(tables, late, cfg) == FeatureSpec.fit(tables, late, cfg)


def test_pooling_into_other(helpers, tables):
    cfg = helpers.config(max_categories=3, btyd=False)
    spec = FeatureSpec.fit(tables, pd.Timestamp("2024-12-31"), cfg)
    assert spec.categories == ["books", "toys", "garden"] or spec.categories[:1] == ["books"]
    assert len(spec.categories) == 3 and spec.pooled["category"]
    X = build_features(tables, pd.Timestamp("2024-12-31"), spec)
    shares = X.filter(like="share_category_")
    assert list(shares.columns)[-1] == "share_category_other"
    buyers = X["frequency"] > 0
    np.testing.assert_allclose(shares[buyers].sum(axis=1), 1.0)
    assert (shares[~buyers].sum(axis=1) == 0).all()
    # Channels (3 values) fit entirely: no 'other' column.
    assert not spec.pooled["channel"]
    assert "share_channel_other" not in X.columns
    # Event types: 5 types, top 3 kept.
    assert len(spec.event_types) == 3 and "events_other_30d" in X.columns


def test_unseen_values_at_scoring(helpers, raw):
    cfg = helpers.config(btyd=False)
    cutoff = pd.Timestamp("2024-06-30")
    tables = helpers.load(raw, cfg)
    spec = FeatureSpec.fit(tables, cutoff, cfg)
    changed = {k: v.copy() for k, v in raw.items()}
    first = changed["customers"]["signup_date"].idxmin()
    changed["customers"].loc[first, "gender"] = "unknown-new-level"
    changed["transactions"].loc[:50, "category"] = "brand-new"
    X = build_features(helpers.load(changed, cfg), cutoff, spec)
    assert list(X["gender"].cat.categories) == spec.attribute_levels["gender"]
    assert pd.isna(X.loc[changed["customers"].loc[first, "customer_id"], "gender"])
    assert X["gender"].notna().sum() == len(X) - 1
    assert list(X.columns) == spec.feature_names


def test_btyd_columns_match_reference_summary(tables, cfg):
    cutoff = pd.Timestamp("2024-09-30 12:00")
    summary = btyd_summary(tables.transactions, cutoff)
    pos = row_positions(tables.customers, tables.transactions)
    buy = (tables.transactions["amount"] > 0).to_numpy()
    ours = purchase_gaps(pos[buy], tables.transactions["timestamp"].to_numpy()[buy],
                         len(tables.customers), cutoff)
    frame = pd.DataFrame({"frequency": ours["x"], "recency": ours["t_x"], "T": ours["T"]},
                         index=pd.Index(tables.customers["customer_id"], name="customer_id"))
    frame = frame.dropna().sort_index()
    assert_frame_equal(frame, summary.sort_index(), check_index_type=False, check_exact=False)

    spec = FeatureSpec.fit(tables, cutoff, cfg)
    X = build_features(tables, cutoff, spec)
    btyd = X.filter(like="btyd_")
    assert np.isfinite(btyd.to_numpy()).all()
    assert btyd["btyd_p_alive"].between(0, 1).all()
    assert (btyd["btyd_prob_purchase_365d"] >= btyd["btyd_prob_purchase_30d"]).all()
    assert (btyd["btyd_expected_purchases_365d"] >= btyd["btyd_expected_purchases_90d"]).all()
    # Never-purchasers are alive by definition of the model.
    assert (X.loc[X["frequency"] == 0, "btyd_p_alive"] == 1.0).all()


def test_spec_json_round_trip(tables, cfg):
    cutoff = pd.Timestamp("2024-06-30")
    spec = FeatureSpec.fit(tables, cutoff, cfg)
    restored = FeatureSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert restored == spec
    assert_frame_equal(build_features(tables, cutoff, restored), build_features(tables, cutoff, spec))
    with pytest.raises(DataError):
        FeatureSpec.from_dict({**spec.to_dict(), "bogus": 1})


def test_missing_column_at_scoring_names_it(helpers, raw, cfg):
    cutoff = pd.Timestamp("2024-06-30")
    spec = FeatureSpec.fit(helpers.load(raw, cfg), cutoff, cfg)
    no_channel = {k: v.copy() for k, v in raw.items()}
    no_channel["transactions"] = no_channel["transactions"].drop(columns="channel")
    with pytest.raises(DataError) as err:
        build_features(helpers.load(no_channel, cfg), cutoff, spec)
    assert err.value.problems[0].column == "channel"


def test_attributes_mode():
    customers = pd.DataFrame({"customer_id": ["001", "002", "003"], "tenure": [1, 5, 9],
                              "contract": ["monthly", "yearly", "monthly"],
                              "Churn": ["Yes", "No", "No"]})
    cfg = SegmlConfig.model_validate({"data": {"now": "2100-01-01", "customers": {
        "attributes": {"demographic": ["tenure", "contract"]}, "labels": {"churn": "Churn"},
        "signup_date": None}}})
    tables = load_tables(cfg, customers=customers)
    spec = FeatureSpec.fit(tables, None, cfg)
    X = build_features(tables, None, spec)
    assert list(X.columns) == ["tenure", "contract"] == spec.feature_names
    assert spec.categorical_features == ["contract"]
    assert X.index.tolist() == ["001", "002", "003"]
    assert "label_churn" not in X.columns


def test_row_positions_cache_follows_the_frame():
    customers = pd.DataFrame({"customer_id": pd.Series(["b", "a", "c"], dtype="str")})
    first = pd.DataFrame({"customer_id": pd.Series(["a", "c", "zz"], dtype="str")})
    second = pd.DataFrame({"customer_id": pd.Series(["c", "b", "a"], dtype="str")})
    assert row_positions(customers, first).tolist() == [1, 2, -1]
    assert row_positions(customers, second).tolist() == [2, 0, 1]
    assert row_positions(customers, first) is row_positions(customers, first)  # cached
    ints = pd.DataFrame({"customer_id": [10, 7]})
    assert row_positions(ints, pd.DataFrame({"customer_id": [7, 7, 10, 3]})).tolist() == [
        1, 1, 0, -1]
