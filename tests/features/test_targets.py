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
