"""The target registry: every consumer reads a target from segml.targets, so adding one is one entry
plus its label function (docs/dev/targets.md)."""

import numpy as np
import pandas as pd
import pytest

from segml import targets
from segml.config import ModelsConfig, TimeConfig
from segml.features import FeatureSpec, build_features, make_labels, plan_targets
from segml.features.timeline import data_end, data_start
from segml.predict import Predictor, evaluate_target, fit_predictor
from segml.scoring.scorer import CustomerScorer


def repeat_label(outcomes: targets.Outcomes, days: int) -> np.ndarray:
    return (outcomes.purchases(days) >= 2).astype("float64")


REPEAT = targets.Target(
    name="repeat", kind="classifier", horizon_key="purchase_horizon_days", label_column="repeat",
    label=repeat_label, population="known", output_column="repeat_probability",
    reasons_column="repeat_reasons", headline_metric="roc_auc", gate_tolerance="max_auc_drop",
    baselines=("recency", "logreg"), engagement_sign=1, profile_kpi=None,
    description="at least two purchases within the horizon")


@pytest.fixture
def with_repeat(monkeypatch):
    monkeypatch.setitem(targets.TARGETS, "repeat", REPEAT)
    return REPEAT


def test_a_registered_target_flows_through_labels_plan_predictor_and_scorer(with_repeat, tables, cfg):
    end = data_end(tables)
    plan = plan_targets(end, cfg.time, ["repeat"], start=data_start(tables))
    assert plan.targets["repeat"].evaluation == end - pd.Timedelta(days=30)
    cutoff = plan.targets["repeat"].train[-1]
    Y = make_labels(tables, cutoff, cfg.time, ["repeat"])
    purchases = make_labels(tables, cutoff, cfg.time, ["purchase"])["purchase"]
    assert list(Y.columns) == ["is_active", "repeat"]
    assert (Y["repeat"] <= purchases).all() and 0 < Y["repeat"].mean() < purchases.mean()
    spec = FeatureSpec.fit(tables, cutoff, cfg)
    X = build_features(tables, cutoff, spec)
    model = fit_predictor("repeat", X, Y["repeat"], ModelsConfig(n_estimators=20), seed=0)
    assert model.is_classifier and sorted(model.baselines_) == ["logreg", "recency"]
    result = evaluate_target("repeat", model, X, Y["repeat"])
    assert {"repeat_roc_auc", "baseline_logreg_repeat_roc_auc"} <= set(result.metrics)
    numeric = [c for c in X.columns if not isinstance(X[c].dtype, pd.CategoricalDtype)]
    Xn = X[numeric]
    model = Predictor(target="repeat", n_estimators=20, seed=0).fit(Xn, Y["repeat"])
    scorer = CustomerScorer(feature_names=numeric, categorical_levels={}, rules=None,
                            hierarchy=None, predictors={"repeat": model})
    out = scorer.score(Xn, reasons=True)
    assert out["repeat_probability"].between(0, 1).all() and out["repeat_reasons"].notna().all()


def test_unknown_targets_are_refused_everywhere_with_the_valid_names():
    with pytest.raises(ValueError, match="valid"):
        targets.target("lifetime")
    with pytest.raises(ValueError, match="valid"):
        Predictor(target="lifetime").fit(pd.DataFrame({"a": [1.0, 2.0]}), pd.Series([0.0, 1.0]))
    with pytest.raises(ValueError, match="valid"):
        plan_targets(pd.Timestamp("2025-01-01"), TimeConfig(), ["lifetime"])


# ---------------------------------------------------------------- horizons come from the plan
class TimeWithVisits(TimeConfig):
    """The time settings with the field a new target adds for its horizon."""

    visit_horizon_days: int = 7


VISIT = targets.Target(
    name="visit", kind="classifier", horizon_key="visit_horizon_days", label_column="visit",
    label=targets.purchase_label, population="known", output_column="visit_probability",
    reasons_column="visit_reasons", headline_metric="roc_auc", gate_tolerance="max_auc_drop",
    baselines=("recency", "logreg"), engagement_sign=1, profile_kpi=None,
    description="a purchase within a week")


def test_a_target_with_a_new_horizon_gets_btyd_features_for_it(monkeypatch, tables, cfg):
    from segml.features.plan import feature_horizons

    before = FeatureSpec.fit(tables, "2024-06-30", cfg)
    assert before.horizons == [30, 90, 365]
    assert not any(name.endswith("_7d") for name in before.feature_names)

    monkeypatch.setitem(targets.TARGETS, "visit", VISIT)
    config = cfg.model_copy(update={"time": TimeWithVisits()})
    assert feature_horizons(config.time) == [7, 30, 90, 365]
    spec = FeatureSpec.fit(tables, "2024-06-30", config)
    assert spec.horizons == [7, 30, 90, 365]
    new = ["btyd_expected_purchases_7d", "btyd_prob_purchase_7d"]
    assert set(new) <= set(spec.feature_names)
    X = build_features(tables, "2024-06-30", spec)
    assert X[new].notna().all().all()
    # a week holds fewer expected purchases than a month, customer by customer
    assert (X["btyd_expected_purchases_7d"] <= X["btyd_expected_purchases_30d"] + 1e-12).all()
    assert (X["btyd_expected_purchases_7d"] < X["btyd_expected_purchases_30d"]).any()
    # the features the registered targets had are unchanged by the new one
    old = [c for c in before.feature_names if c in X.columns]
    assert X[old].equals(build_features(tables, "2024-06-30", before)[old])


def test_the_plan_gives_each_target_its_horizon_and_the_labels_read_it(monkeypatch, tables):
    monkeypatch.setitem(targets.TARGETS, "visit", VISIT)
    time = TimeWithVisits(training_cutoffs=1)
    plan = plan_targets(data_end(tables), time, ["visit", "purchase"], start=data_start(tables))
    assert plan.horizons == {"visit": 7, "purchase": 30}
    cutoff = plan.targets["visit"].evaluation
    tx = tables.transactions
    week = tx[(tx["timestamp"] > cutoff) & (tx["timestamp"] <= cutoff + pd.Timedelta(days=7))
              & (tx["amount"] > 0)]
    labels = make_labels(tables, cutoff, time, ["visit"], plan.horizons)
    expected = labels.index.isin(week["customer_id"]).astype(float)
    assert labels["visit"].to_numpy() == pytest.approx(expected)


def test_labels_follow_the_horizon_handed_to_them_not_the_config(tables, cfg):
    cutoff = pd.Timestamp("2024-06-30 23:59:59.999999999")
    given = make_labels(tables, cutoff, cfg.time, ["purchase"], {"purchase": 120})
    longer = make_labels(tables, cutoff, TimeConfig(purchase_horizon_days=120), ["purchase"])
    configured = make_labels(tables, cutoff, cfg.time, ["purchase"])
    assert given.equals(longer)
    assert (given["purchase"] > configured["purchase"]).sum() > 10
    with pytest.raises(ValueError, match="no horizon given for target"):
        make_labels(tables, cutoff, cfg.time, ["purchase", "churn"], {"purchase": 120})


def test_training_data_labels_use_the_plans_horizon(tables, cfg):
    """The evaluation labels of a target come from its plan's horizon, whatever the config says:
    the plan is the one source of horizons (docs/cutoffs.md)."""
    from dataclasses import replace

    from segml.workflow.datasets import build_datasets

    # a cutoff well inside the data: both windows after the evaluation cutoff are complete
    config = cfg.model_copy(update={"models": ModelsConfig(targets=["purchase"]),
                                    "time": TimeConfig(cutoff="2024-06-30")})
    data = build_datasets(tables, config)
    planned = data.plan.targets["purchase"]
    assert planned.horizon_days == 30
    data.plan = replace(data.plan, targets={"purchase": replace(planned, horizon_days=75)})
    _, label = data.evaluation_set("purchase")
    by_hand = make_labels(tables, planned.evaluation, TimeConfig(purchase_horizon_days=75),
                          ["purchase"])["purchase"]
    assert label.equals(by_hand.reindex(label.index))
    configured = make_labels(tables, planned.evaluation, config.time, ["purchase"])["purchase"]
    assert (label > configured.reindex(label.index)).sum() > 10
