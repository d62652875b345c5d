"""Targets declared in the config (docs/targets.md): each label kind against an independent
pandas count on small seeded data, populations, the features that follow a target, and that
nothing after a cutoff reaches the features at it (labels change, features do not)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from segml.config import SegmlConfig
from segml.data.contract import load_tables
from segml.features import FeatureSpec, build_features, make_labels
from segml.targets import declared_target, target, targets_of

CUTOFF = pd.Timestamp("2024-06-30 23:59:59")
DECLARED = {
    "buys_toys": {"horizon_days": 30, "label": {"purchases": {"category": ["toys"]}}},
    "web_books": {"horizon_days": 45,
                  "label": {"purchases": {"category": ["books"], "channel": ["web"]}}},
    "tickets": {"horizon_days": 60, "label": {"events": {"type": ["support_ticket"]}}},
    "garden_spend": {"kind": "regressor", "horizon_days": 90,
                     "label": {"spend": {"category": ["garden"]}}, "population": "active"},
    "vip": {"label": {"column": {"column": "tier", "positive": "gold"}}},
}


def declared_config(helpers, **targets) -> SegmlConfig:
    data = {"data": {"now": "2100-01-01", "customers": {
        "attributes": {"demographic": ["age", "gender"], "geographic": ["country"]}}}}
    return SegmlConfig.model_validate({**data, "targets": targets or DECLARED})


def raw_with_tier(helpers, seed: int = 0) -> dict[str, pd.DataFrame]:
    raw = helpers.make_raw(300, seed=seed)
    rng = np.random.default_rng(seed)
    raw["customers"]["tier"] = rng.choice(["gold", "silver", "bronze"], len(raw["customers"]))
    return raw


def load(raw, cfg):
    return load_tables(cfg, customers=raw["customers"], transactions=raw["transactions"],
                       events=raw["events"])


@pytest.fixture(scope="module")
def setup(helpers):
    cfg = declared_config(helpers)
    raw = raw_with_tier(helpers)
    tables = load(raw, cfg)
    return cfg, raw, tables


def of(cfg: SegmlConfig, *names: str) -> list:
    """The config's Targets of ``names`` (a declared target is passed as its Target)."""
    registry = targets_of(cfg)
    return [registry[name] for name in names]


def expected_counts(frame: pd.DataFrame, mask: pd.Series, ids: pd.Index, days: int,
                    weights: str | None = None) -> pd.Series:
    ts = pd.to_datetime(frame["timestamp"])
    window = mask & (ts > CUTOFF) & (ts <= CUTOFF + pd.Timedelta(days=days))
    rows = frame[window]
    grouped = (rows.groupby("customer_id")[weights].sum() if weights
               else rows.groupby("customer_id").size())
    return grouped.reindex(ids, fill_value=0).astype(float)


def test_each_label_kind_counts_what_its_definition_says(setup):
    cfg, raw, tables = setup
    Y = make_labels(tables, CUTOFF, cfg.time, of(cfg, "buys_toys", "web_books", "tickets",
                                                 "garden_spend", "vip"))
    tx, ev, ids = raw["transactions"], raw["events"], Y.index
    toys = expected_counts(tx, (tx.category == "toys") & (tx.amount > 0), ids, 30)
    assert (Y["buys_toys"] == (toys > 0).astype(float)).all()
    web_books = expected_counts(tx, (tx.category == "books") & (tx.channel == "web")
                                & (tx.amount > 0), ids, 45)
    assert (Y["web_books"] == (web_books > 0).astype(float)).all()
    tickets = expected_counts(ev, ev.event_type == "support_ticket", ids, 60)
    assert (Y["tickets"] == (tickets > 0).astype(float)).all()
    spend = expected_counts(tx, tx.category == "garden", ids, 90, "amount").clip(lower=0)
    active = Y["is_active"].to_numpy()
    assert Y["garden_spend"][~active].isna().all()  # population: active only
    np.testing.assert_allclose(Y["garden_spend"][active], spend[active])
    tier = raw["customers"].set_index("customer_id")["tier"].reindex(ids)
    assert (Y["vip"] == (tier == "gold").astype(float)).all()
    # every kind has both classes on this data (the test could fail either way)
    for name in ("buys_toys", "web_books", "tickets", "vip"):
        assert 0 < Y[name].mean() < 1, name
    assert (Y["garden_spend"] > 0).any() and (Y["garden_spend"] == 0).any()


def test_a_regressor_over_purchases_counts_them_and_a_classifier_over_spend_is_any_spend():
    t = declared_target("n", {"kind": "regressor", "horizon_days": 30,
                              "label": {"purchases": {}}})
    assert (t.output_column, t.reasons_column, t.headline_metric) == (
        "predicted_n", None, "spearman")
    c = declared_target("s", {"horizon_days": 30, "label": {"spend": {"channel": ["web"]}}})
    assert (c.output_column, c.reasons_column, c.audience) == (
        "s_probability", "s_reasons", "s")


def test_a_target_gets_its_history_before_the_cutoff_as_features(setup):
    cfg, raw, tables = setup
    spec = FeatureSpec.fit(tables, CUTOFF, cfg)
    X = build_features(tables, CUTOFF, spec)
    for name in ("buys_toys", "web_books", "garden_spend"):
        assert {f"{name}_history_count", f"{name}_history_spend",
                f"{name}_history_recency_days"} <= set(X.columns)
    assert {"tickets_history_count", "tickets_history_recency_days"} <= set(X.columns)
    assert not any(c.startswith("vip") for c in X.columns)  # a label column is never a feature
    assert "tier" not in X.columns
    tx = raw["transactions"]
    before = (pd.to_datetime(tx.timestamp) <= CUTOFF) & (tx.category == "toys") & (tx.amount > 0)
    count = tx[before].groupby("customer_id").size().reindex(X.index, fill_value=0)
    assert (X["buys_toys_history_count"] == count).all() and count.sum() > 0
    last = pd.to_datetime(tx[before].groupby("customer_id")["timestamp"].max()).reindex(X.index)
    np.testing.assert_allclose(X["buys_toys_history_recency_days"],
                               ((CUTOFF - last) / pd.Timedelta(days=1)).to_numpy(dtype=float))
    assert spec.horizons == [30, 45, 60, 90, 365]  # BTYD at every declared horizon too


def test_changing_the_data_after_the_cutoff_changes_labels_but_not_features(setup):
    """The leakage property: a target's label reads (c, c+h], its features [.., c] only."""
    cfg, raw, tables = setup
    spec = FeatureSpec.fit(tables, CUTOFF, cfg)
    X = build_features(tables, CUTOFF, spec)
    names = ["buys_toys", "web_books", "tickets", "garden_spend"]
    Y = make_labels(tables, CUTOFF, cfg.time, of(cfg, *names))
    changed = {k: v.copy() for k, v in raw.items()}
    tx, ev = changed["transactions"], changed["events"]
    after = pd.to_datetime(tx.timestamp) > CUTOFF
    # after the cutoff: every purchase becomes a web toy or garden purchase, every event a ticket
    tx.loc[after, "category"] = np.where(np.arange(after.sum()) % 2, "toys", "garden")
    tx.loc[after, "channel"] = "web"
    tx.loc[after, "amount"] = tx.loc[after, "amount"].abs()
    ev.loc[pd.to_datetime(ev.timestamp) > CUTOFF, "event_type"] = "support_ticket"
    tables2 = load(changed, cfg)
    X2 = build_features(tables2, CUTOFF, spec)
    Y2 = make_labels(tables2, CUTOFF, cfg.time, of(cfg, *names))
    pd.testing.assert_frame_equal(X, X2)
    for name in names:
        assert not Y[name].equals(Y2[name]), name
    assert Y2["buys_toys"].mean() > Y["buys_toys"].mean()
    assert Y2["tickets"].mean() > Y["tickets"].mean()


def test_a_column_target_is_not_planned_and_reads_the_customers_column(setup):
    from segml.workflow.datasets import build_datasets

    cfg, _, tables = setup
    cfg = cfg.model_copy(deep=True)
    cfg.models.targets = ["vip", "buys_toys"]
    data = build_datasets(tables, cfg)
    assert list(data.plan.targets) == ["buys_toys"] and data.cross_validated("vip")
    assert data.targets() == ["vip", "buys_toys"]
    assert set(data.labels.columns) == {"vip"}


# ------------------------------------------------------------------------------ the config
def test_declared_targets_join_models_targets_unless_it_is_given(helpers):
    cfg = declared_config(helpers)
    assert cfg.models.targets == ["churn", "purchase", "high_clv", "spend", *DECLARED]
    data = {"targets": DECLARED}
    data["models"] = {"targets": ["churn", "buys_toys"]}
    assert SegmlConfig.model_validate(data).models.targets == ["churn", "buys_toys"]


@pytest.mark.parametrize(("targets", "models", "message"), [
    ({}, ["churn", "buys_toys"], "models.targets: unknown target(s) ['buys_toys']"),
    ({"purchase": DECLARED["buys_toys"]}, None, "targets.purchase: the name collides"),
    ({"future_spend": DECLARED["buys_toys"]}, None, "targets.future_spend: the name collides"),
    ({"p_alive": DECLARED["buys_toys"]}, None, "targets.p_alive: the name collides"),
    ({"x": {"label": {"purchases": {}}}}, None, "needs horizon_days"),
    ({"x": {"horizon_days": 3, "label": {"column": {"column": "y"}}}}, None, "no horizon"),
    ({"x": {"horizon_days": 3, "label": {"purchases": {"sku": ["a"]}}}}, None,
     "transactions column(s) ['sku']"),
])
def test_bad_declarations_are_refused_naming_the_target(targets, models, message):
    data = {"targets": targets}
    if models is not None:
        data["models"] = {"targets": models}
    with pytest.raises(ValidationError) as err:
        SegmlConfig.model_validate(data)
    assert message in str(err.value)


def test_the_old_form_keeps_working_for_built_in_targets_and_says_how_to_declare_others():
    cfg = SegmlConfig.model_validate({"data": {"customers": {"labels": {"churn": "Churn"}}}})
    assert cfg.data.customers.labels == {"churn": "Churn"}
    with pytest.raises(ValidationError, match=r"targets: \{subscribed: \{label: \{column: y"):
        SegmlConfig.model_validate({"data": {"customers": {"labels": {"subscribed": "y"}}}})


def test_an_unknown_target_name_lists_the_built_in_ones_and_says_how_to_pass_a_declared_one(
        setup):
    # a declared target is never found by name, not even after a config declaring it was used
    with pytest.raises(ValueError, match=r"valid: \['churn'.*built-in targets; .*passed as its Target"):
        target("buys_toys")


def test_a_declared_horizon_the_history_cannot_hold_is_skipped_naming_its_key(helpers):
    from segml.features.plan import plan_targets
    from segml.features.timeline import data_end, data_start

    cfg = declared_config(helpers, long_toys={"horizon_days": 400, "label": {
        "purchases": {"category": ["toys"]}}})
    tables = load(raw_with_tier(helpers), cfg)
    plan = plan_targets(data_end(tables), cfg.time, of(cfg, "purchase", "long_toys"),
                        start=data_start(tables), min_history_days=90)
    assert list(plan.targets) == ["purchase"]
    (warning,) = plan.warnings()
    assert warning.key == "targets.long_toys.horizon_days" and warning.severity == "warning"
    assert "shorten targets.long_toys.horizon_days" in warning.message


def test_a_model_with_declared_targets_stores_them_as_format_2_and_scores_the_same(
        setup, tmp_path):
    import json

    from segml.predict import Predictor
    from segml.scoring.scorer import CustomerScorer

    cfg, _, tables = setup
    spec = FeatureSpec.fit(tables, CUTOFF, cfg)
    X = build_features(tables, CUTOFF, spec)
    numeric = [c for c in X.columns if not isinstance(X[c].dtype, pd.CategoricalDtype)]
    declared = targets_of(cfg)
    Y = make_labels(tables, CUTOFF, cfg.time, of(cfg, "buys_toys", "garden_spend"))
    predictors = {name: Predictor(target=declared[name], n_estimators=15, seed=0).fit(
        X[numeric], Y[name]) for name in ("buys_toys", "garden_spend")}
    assert predictors["buys_toys"].kind_ == "classifier"
    scorer = CustomerScorer(feature_names=numeric, categorical_levels={}, rules=None,
                            hierarchy=None, predictors=predictors, activity_window_days=180)
    assert scorer.declared_targets["garden_spend"]["population"] == "active"
    folder = scorer.save(tmp_path / "state")
    body = json.loads((folder / "state.json").read_text())
    assert body["format_version"] == 2
    assert body["declared_targets"]["buys_toys"]["label"] == {"purchases": {"category": ["toys"]}}
    again = CustomerScorer.load(folder)
    out, back = scorer.score(X[numeric]), again.score(X[numeric])
    pd.testing.assert_frame_equal(out, back)
    assert {"buys_toys_probability", "predicted_garden_spend"} <= set(out.columns)
    inactive = X["recency_days"].isna() | (X["recency_days"] >= 180)
    assert out.loc[inactive.to_numpy(), "predicted_garden_spend"].isna().all()
