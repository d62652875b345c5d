"""Each target's refit trains beside the next target's matrices (segml.workflow.fitting): the
same models as one target after the other (failures: tests/adversarial/test_refit_beside.py)."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from segml.data.contract import load_tables
from segml.data.synthetic.datasets import make_customers, synthetic_config
from segml.predict.models import Predictor
from segml.workflow.datasets import build_datasets
from segml.workflow.fitting import fit_and_evaluate, fit_target


def _setup(seed: int = 11):
    config = synthetic_config()
    config.models.targets = ["churn", "purchase", "spend"]
    config.models.n_estimators = 40
    data = make_customers(700, seed=seed)
    tables = load_tables(config, customers=data.customers, transactions=data.transactions,
                         events=data.events)
    return tables, config


def test_the_stage_gives_the_models_of_one_target_after_the_other():
    tables, config = _setup()
    together = fit_and_evaluate(build_datasets(tables, config), config)
    data = build_datasets(tables, config)
    one_by_one = {t: fit_target(data, t, config)[0] for t in config.models.targets}
    assert list(together.fits) == list(one_by_one)
    X = build_datasets(tables, config).current_X
    for target, fit in one_by_one.items():
        mine = together.fits[target]
        assert mine.pending is None  # every refit has ended when the stage returns
        assert mine.predictor is not fit.predictor
        np.testing.assert_array_equal(mine.predictor.predict_value(X), fit.predictor.predict_value(X))
        booster, reference = mine.predictor.booster_, fit.predictor.booster_
        assert booster.model_to_string() == reference.model_to_string()


def test_refits_run_on_a_worker_thread_beside_the_next_target(monkeypatch):
    tables, config = _setup()
    threads: list[str] = []
    original = Predictor.refit_on

    def watched(self, *args, **kwargs):
        threads.append(threading.current_thread().name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Predictor, "refit_on", watched)
    predictions = fit_and_evaluate(build_datasets(tables, config), config)
    assert len(threads) == len(predictions.fits) == 3
    assert all(name.startswith("segml-refit") for name in threads)


def test_a_target_fitted_on_its_own_has_its_predictor_at_once():
    tables, config = _setup()
    fit, result, _ = fit_target(build_datasets(tables, config), "churn", config)
    assert fit.pending is None and fit.predictor is not None
    assert fit.finish() is fit
    assert isinstance(result.comparison, pd.DataFrame)
