import numpy as np
import pandas as pd
import pytest

from segml.config import SegmlConfig, TimeConfig
from segml.data.contract import load_tables
from segml.features import (
    FeatureSpec,
    build_features,
    data_end,
    make_labels,
    plan_targets,
    stack_training_set,
)
from segml.features.timeline import data_start

C = pd.Timestamp("2024-06-30")
TIME = TimeConfig(activity_window_days=60, churn_horizon_days=30, purchase_horizon_days=10,
                  clv_horizon_days=40, high_clv_quantile=0.5)


def label_tables():
    customers = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e", "f"],
        "signup_date": ["2024-01-01"] * 5 + ["2024-07-02"],
    })
    tx = pd.DataFrame({
        "customer_id": ["a", "a", "b", "b", "c", "c", "d", "d", "f"],
        "timestamp": [
            "2024-06-01 00:00:00", "2024-07-10 00:00:00",  # a: active, buys within 10 days
            "2024-05-15 00:00:00", "2024-07-30 00:00:00",  # b: active, buys exactly at c+30
            "2024-04-30 00:00:00", "2024-07-05 00:00:00",  # c: exactly 61 days back -> inactive
            "2024-06-30 00:00:00", "2024-07-03 00:00:00",  # d: buys at the cutoff, returns after
            "2024-07-05 00:00:00",                          # f: signs up after the cutoff
        ],
        "amount": [10.0, 25.0, 5.0, 100.0, 7.0, 40.0, 50.0, -80.0, 9.0],
    })
    cfg = SegmlConfig.model_validate({"data": {"now": "2100-01-01", "customers": {
        "attributes": {}}}, "features": {"btyd": False}})
    return load_tables(cfg, customers=customers, transactions=tx), cfg


def test_hand_made_labels():
    tables, _ = label_tables()
    Y = make_labels(tables, C, TIME)
    assert Y.index.tolist() == ["a", "b", "c", "d", "e"]  # f signed up after the cutoff
    assert Y["is_active"].dtype == bool
    assert Y["is_active"].tolist() == [True, True, False, True, False]
    # b buys at exactly c + 30 days: inside (c, c + 30], so not churned.
    np.testing.assert_array_equal(Y["churn"], [0.0, 0.0, np.nan, 1.0, np.nan])
    # a buys on day 10 (inside), c on day 5 (inside); b on day 30 (outside 10).
    assert Y["purchase"].tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]
    # d only returns goods after the cutoff: net -80 is clipped at 0.
    assert Y["future_spend"].tolist() == [25.0, 100.0, 40.0, 0.0, 0.0]
    # Median of [25, 100, 40, 0, 0] is 25: strictly above -> b and c.
    assert Y["high_clv"].tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]


def test_high_clv_never_for_zero_spend():
    tables, _ = label_tables()
    Y = make_labels(tables, pd.Timestamp("2024-08-31"), TIME)
    assert (Y["future_spend"] == 0).all()
    assert (Y["high_clv"] == 0).all()
    # Purchases in (07-02, 08-31]: a, b, c and f (d's 07-03 row is a return).
    assert Y.index[Y["is_active"]].tolist() == ["a", "b", "c", "f"]


def test_labels_population_matches_features(tables, cfg):
    cutoff = pd.Timestamp("2024-03-31")
    X = build_features(tables, cutoff, FeatureSpec.fit(tables, cutoff, cfg))
    Y = make_labels(tables, cutoff, cfg.time)
    assert Y.index.equals(X.index)
    assert Y.index.dtype == X.index.dtype
    assert Y["churn"].isna().equals(~Y["is_active"])
    assert 0 < Y["purchase"].mean() < 1
    # Strictly above the (interpolated) 80% quantile: about the top 20%.
    assert 0.15 < Y["high_clv"].mean() <= 1 - cfg.time.high_clv_quantile + 1 / len(Y)
    top = Y.loc[Y["high_clv"] == 1, "future_spend"]
    assert top.min() > Y.loc[Y["high_clv"] == 0, "future_spend"].max()
    # is_active agrees with the features: a purchase in the activity window.
    recent = X["recency_days"] < cfg.time.activity_window_days
    assert (recent == Y["is_active"]).all()


def test_attributes_mode_labels():
    customers = pd.DataFrame({"customer_id": ["1", "2", "3"], "Churn": ["Yes", "No", "No"]})
    cfg = SegmlConfig.model_validate({"data": {"now": "2100-01-01", "customers": {
        "attributes": {}, "labels": {"churn": "Churn"}, "signup_date": None}}})
    tables = load_tables(cfg, customers=customers)
    Y = make_labels(tables, None, cfg.time)
    assert list(Y.columns) == ["churn"]
    assert Y["churn"].tolist() == [1.0, 0.0, 0.0]
    assert Y.index.tolist() == ["1", "2", "3"]


def test_labels_of_some_targets_only(tables, cfg):
    cutoff = pd.Timestamp("2024-03-31")
    Y = make_labels(tables, cutoff, cfg.time, ["purchase", "spend"])
    assert list(Y.columns) == ["is_active", "purchase", "future_spend"]
    full = make_labels(tables, cutoff, cfg.time)
    pd.testing.assert_frame_equal(Y, full[list(Y.columns)])
    with pytest.raises(ValueError, match="valid"):
        make_labels(tables, cutoff, cfg.time, ["churn", "no_such_target"])


def test_censoring_is_reported_for_the_requested_targets_only(tables, cfg, caplog):
    end = data_end(tables)
    late = end - pd.Timedelta(days=60)  # 30-day purchase window complete, 365-day CLV not
    with caplog.at_level("WARNING", logger="segml.features.labels"):
        make_labels(tables, late, cfg.time, ["purchase"])
    assert "censored" not in caplog.text
    with caplog.at_level("WARNING", logger="segml.features.labels"):
        make_labels(tables, late, cfg.time, ["purchase", "high_clv"])
    assert "label windows of high_clv after" in caplog.text


def test_data_end_and_start(tables):
    assert data_end(tables) == tables.transactions["timestamp"].max().normalize() + pd.Timedelta(
        days=1) - pd.Timedelta(1, "ns")
    assert data_start(tables) == min(tables.transactions["timestamp"].min(),
                                     tables.events["timestamp"].min())


def test_stack_training_set(tables, cfg):
    time_cfg = cfg.time.model_copy(update={"clv_horizon_days": 90, "training_cutoffs": 3,
                                           "cutoff_step_days": 60})
    plan = plan_targets(data_end(tables), time_cfg, ["high_clv"],
                        start=data_start(tables)).targets["high_clv"]
    spec = FeatureSpec.fit(tables, plan.train[-1], cfg)
    ts = stack_training_set(tables, plan.train, spec, time_cfg)
    sizes = [len(build_features(tables, c, spec)) for c in plan.train]
    assert len(ts) == len(ts.Y) == len(ts.cutoff) == sum(sizes)
    assert sizes == sorted(sizes)  # more customers are known at later cutoffs
    assert (ts.cutoff.index == ts.X.index).all() and (ts.Y.index == ts.X.index).all()
    assert ts.cutoff.tolist() == [c for c, n in zip(plan.train, sizes, strict=True)
                                  for _ in range(n)]
    assert ts.X.index.has_duplicates  # customers repeat across cutoffs
    # Each block equals features/labels built at its own cutoff.
    last = ts.cutoff == plan.train[-1]
    pd.testing.assert_frame_equal(ts.Y[last.to_numpy()], make_labels(tables, plan.train[-1],
                                                                     time_cfg))
    assert ts.X["gender"].dtype == build_features(tables, plan.train[0], spec)["gender"].dtype


def test_a_large_stack_is_a_stratified_sample_of_labelled_rows(tables, cfg):
    time_cfg = cfg.time.model_copy(update={"clv_horizon_days": 90, "training_cutoffs": 3,
                                           "cutoff_step_days": 60})
    plan = plan_targets(data_end(tables), time_cfg, ["churn"],
                        start=data_start(tables)).targets["churn"]
    spec = FeatureSpec.fit(tables, plan.train[-1], cfg)
    full = stack_training_set(tables, plan.train, spec, time_cfg, ["churn"])
    labelled = full.Y["churn"].notna()
    small = stack_training_set(tables, plan.train, spec, time_cfg, ["churn"], max_rows=120, seed=1)
    assert len(small) == 120 and small.Y["churn"].notna().all()
    # each cutoff keeps its share, and its churn rate, of the labelled rows
    share = full.cutoff[labelled].value_counts(normalize=True).sort_index()
    got = small.cutoff.value_counts(normalize=True).sort_index()
    np.testing.assert_allclose(got.to_numpy(), share.to_numpy(), atol=0.02)
    assert abs(small.Y["churn"].mean() - full.Y["churn"].mean()) < 0.02
    # under the limit: every labelled row
    assert len(stack_training_set(tables, plan.train, spec, time_cfg, ["churn"],
                                  max_rows=10**6)) == int(labelled.sum())


def test_a_sampled_stack_holds_one_full_matrix_at_a_time(tables, cfg):
    """With max_rows, each cutoff's matrix is cut to its sampled rows and released before the
    next one is built (1M customers at three cutoffs must not sit in memory side by side), and
    the rows are those of each full matrix: features equal the matrix built at that cutoff."""
    import gc
    import weakref

    time_cfg = cfg.time.model_copy(update={"training_cutoffs": 3, "cutoff_step_days": 60})
    plan = plan_targets(data_end(tables), time_cfg, ["purchase"],
                        start=data_start(tables)).targets["purchase"]
    spec = FeatureSpec.fit(tables, plan.train[-1], cfg)
    built: list[weakref.ref] = []
    alive_when_built: list[int] = []

    def features(cutoff):
        gc.collect()
        alive_when_built.append(sum(ref() is not None for ref in built))
        frame = build_features(tables, cutoff, spec)
        built.append(weakref.ref(frame))
        return frame

    small = stack_training_set(tables, plan.train, spec, time_cfg, ["purchase"],
                               features=features, max_rows=90, seed=2)
    assert alive_when_built == [0, 0, 0]
    assert len(small) == 90 and small.Y["purchase"].notna().all()
    for cutoff in plan.train:
        rows = (small.cutoff == cutoff).to_numpy()
        full = build_features(tables, cutoff, spec)
        pd.testing.assert_frame_equal(small.X[rows], full.loc[small.X.index[rows]])
