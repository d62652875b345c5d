"""The current matrix is let go while the models are fitted and built again afterwards
(segml.workflow.stages.fit_all): nothing reads it then, and the rebuilt one is the same bits."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pandas as pd

import segml.workflow.stages as stages
from segml.data.contract import load_tables
from segml.data.synthetic.datasets import make_customers, synthetic_config
from segml.features import build_features


def _config():
    config = synthetic_config()
    config.models.n_estimators = 20
    config.models.candidates = ["lgbm"]
    config.models.targets = ["churn", "purchase"]
    return config


def _spy(monkeypatch) -> dict:
    seen: dict = {}
    fit, discover = stages.fit_and_evaluate, stages.LocalPopulation.discover

    def fitting(data, config, progress):
        gc.collect()
        seen["during"], seen["old alive"] = data.current_X, seen["old"]() is not None
        return fit(data, config, progress)

    def discovering(self, *args, **kwargs):
        seen["old"] = weakref.ref(self.X)
        return discover(self, *args, **kwargs)

    monkeypatch.setattr(stages, "fit_and_evaluate", fitting)
    monkeypatch.setattr(stages.LocalPopulation, "discover", discovering)
    return seen


def test_behavioural_runs_free_the_matrix_while_fitting_and_rebuild_it_identically(monkeypatch):
    config = _config()
    data = make_customers(700, seed=4)
    tables = load_tables(config, customers=data.customers, transactions=data.transactions,
                         events=data.events)
    seen = _spy(monkeypatch)
    fitted, segmentation, _, scorer = stages.fit_all(tables, config)
    assert seen["during"] is None and not seen["old alive"]
    pd.testing.assert_frame_equal(
        fitted.current_X, build_features(tables, fitted.data_end, fitted.spec), check_exact=True)
    assert len(segmentation.current_scores) == len(fitted.current_X)


def test_a_matrix_a_target_is_cross_validated_on_stays(monkeypatch):
    """A label column without horizon is cross-validated on the current matrix."""
    config = _config()
    data = make_customers(700, seed=5)
    data.customers["tier"] = np.where(np.arange(len(data.customers)) % 3 == 0, "gold", "basic")
    config = type(config).model_validate({
        **config.model_dump(exclude_unset=True),
        "targets": {"vip": {"label": {"column": {"column": "tier", "positive": "gold"}}}},
        "models": {**config.models.model_dump(exclude_unset=True), "targets": ["churn", "vip"]}})
    tables = load_tables(config, customers=data.customers, transactions=data.transactions,
                         events=data.events)
    seen = _spy(monkeypatch)
    _, _, predictions, _ = stages.fit_all(tables, config)
    assert seen["during"] is not None and seen["old alive"]
    assert "vip" in predictions.predictors
