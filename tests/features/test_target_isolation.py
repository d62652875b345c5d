"""No process-wide target registry (docs/dev/targets.md, "One process, many definitions"): two
configurations declaring the same target name differently, and two models storing different
definitions of it, each use their own definition whatever ran before in the same process."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

import segml.targets
from segml.config import SegmlConfig
from segml.data.contract import load_tables
from segml.features import FeatureSpec, build_features, make_labels
from segml.predict import Predictor
from segml.scoring.scorer import CustomerScorer
from segml.targets import target, targets_of

CUTOFF = pd.Timestamp("2024-06-30 23:59:59")
#: One name, two meanings: a toy purchase within 30 days (a classifier), and the number of
#: sessions within 60 days (an amount: a regressor).
TOYS = {"x": {"horizon_days": 30, "label": {"purchases": {"category": ["toys"]}}}}
SESSIONS = {"x": {"kind": "regressor", "horizon_days": 60,
                 "label": {"events": {"type": ["session"]}}}}


def config(declared: dict) -> SegmlConfig:
    return SegmlConfig.model_validate({
        "data": {"now": "2100-01-01", "customers": {"attributes": {"demographic": ["age"]}}},
        "targets": declared, "models": {"targets": ["purchase", "x"], "n_estimators": 15}})


def load(raw: dict[str, pd.DataFrame], cfg: SegmlConfig):
    return load_tables(cfg, customers=raw["customers"], transactions=raw["transactions"],
                       events=raw["events"])


def after_cutoff(frame: pd.DataFrame, mask: pd.Series, ids: pd.Index, days: int) -> pd.Series:
    """Rows of ``frame`` matching ``mask`` in (CUTOFF, CUTOFF + days], counted per customer."""
    ts = pd.to_datetime(frame["timestamp"])
    rows = frame[mask & (ts > CUTOFF) & (ts <= CUTOFF + pd.Timedelta(days=days))]
    return rows.groupby("customer_id").size().reindex(ids, fill_value=0).astype(float)


@pytest.fixture(scope="module")
def raw(helpers):
    return helpers.make_raw(400, seed=1)


def test_segml_targets_holds_no_mutable_state():
    for name in ("register", "registry", "_DECLARED", "_LOCK"):
        assert not hasattr(segml.targets, name), name
    mutable = [name for name, value in vars(segml.targets).items()
               if not name.startswith("__") and isinstance(value, dict | list | set)]
    assert mutable == ["TARGETS"]  # the built-in definitions, never added to at run time


def test_two_configs_declaring_x_differently_each_label_with_their_own(raw):
    toys_cfg, sessions_cfg = config(TOYS), config(SESSIONS)
    toys_tables, sessions_tables = load(raw, toys_cfg), load(raw, sessions_cfg)

    def labels(cfg, tables):
        return make_labels(tables, CUTOFF, cfg.time, [targets_of(cfg)["x"]])["x"]

    toys = labels(toys_cfg, toys_tables)
    sessions = labels(sessions_cfg, sessions_tables)
    toys_again = labels(toys_cfg, toys_tables)  # after the other definition was used
    tx, ev = raw["transactions"], raw["events"]
    expected_toys = after_cutoff(tx, (tx.category == "toys") & (tx.amount > 0), toys.index, 30)
    expected_sessions = after_cutoff(ev, ev.event_type == "session", sessions.index, 60)
    np.testing.assert_array_equal(toys, (expected_toys > 0).astype(float))
    np.testing.assert_array_equal(sessions, expected_sessions)
    pd.testing.assert_series_equal(toys, toys_again)
    # the two definitions disagree on this data, so a swapped definition would be seen
    assert 0 < toys.mean() < 1 and sessions.max() > 1 and not toys.equals(sessions)
    with pytest.raises(ValueError, match="passed as its Target"):
        target("x")  # neither configuration left its x behind


@pytest.mark.parametrize("order", [("toys", "sessions"), ("sessions", "toys")])
def test_training_each_config_uses_its_own_x_in_either_order(raw, order):
    from segml.workflow.datasets import build_datasets
    from segml.workflow.fitting import fit_target

    configs = {"toys": config(TOYS), "sessions": config(SESSIONS)}
    seen = {}
    for key in order:
        cfg = configs[key]
        data = build_datasets(load(raw, cfg), cfg)
        fit, result, _ = fit_target(data, "x", cfg)
        spec = fit.predictor.target
        seen[key] = (data.plan.horizons["x"], fit.predictor.kind_, spec.definition["label"],
                     sorted(m.removeprefix("x_") for m in result.metrics if m.startswith("x_")))
        # a Target parameter survives scikit-learn's clone (get_params / set_params)
        assert clone(fit.predictor).get_params()["target"].definition == spec.definition
    assert seen["toys"][:3] == (30, "classifier", {"purchases": {"category": ["toys"]}})
    assert "roc_auc" in seen["toys"][3]
    assert seen["sessions"][:3] == (60, "regressor", {"events": {"type": ["session"]}})
    assert "spearman" in seen["sessions"][3] and "roc_auc" not in seen["sessions"][3]


def test_two_models_defining_x_differently_score_side_by_side(raw, tmp_path):
    saved = {}
    for key, declared in (("toys", TOYS), ("sessions", SESSIONS)):
        cfg = config(declared)
        tables = load(raw, cfg)
        X = build_features(tables, CUTOFF, FeatureSpec.fit(tables, CUTOFF, cfg))
        numeric = [c for c in X.columns if not isinstance(X[c].dtype, pd.CategoricalDtype)]
        x = targets_of(cfg)["x"]
        y = make_labels(tables, CUTOFF, cfg.time, [x])["x"]
        scorer = CustomerScorer(
            feature_names=numeric, categorical_levels={}, rules=None, hierarchy=None,
            predictors={"x": Predictor(target=x, n_estimators=15, seed=0).fit(X[numeric], y)})
        saved[key] = (scorer.save(tmp_path / key), X[numeric], scorer.score(X[numeric]))
    # loaded in the other order than trained, the first loaded again after the second
    sessions = CustomerScorer.load(saved["sessions"][0])
    toys = CustomerScorer.load(saved["toys"][0])
    for key, scorer in (("toys", toys), ("sessions", sessions)):
        pd.testing.assert_frame_equal(scorer.score(saved[key][1]), saved[key][2])
    assert toys.targets()["x"].output_column == "x_probability"
    assert sessions.targets()["x"].output_column == "predicted_x"
    assert toys.predictors["x"].target.definition["label"] == {"purchases": {"category": ["toys"]}}
    assert sessions.predictors["x"].target.kind == "regressor"
    scores = toys.score(saved["toys"][1])
    assert "predicted_x" not in scores and scores["x_probability"].between(0, 1).all()
