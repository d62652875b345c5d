"""A predictors stage that fails while the current matrix is set aside (segml.workflow.stages)
raises its own error, not one about the missing matrix; a tiny table too."""

from __future__ import annotations

import pytest

import segml.workflow.stages as stages
from segml.data.contract import load_tables
from segml.data.synthetic.datasets import make_customers, synthetic_config
from segml.errors import DataError, Problem


def _tables(n: int, seed: int):
    config = synthetic_config()
    config.models.n_estimators = 20
    config.models.candidates = ["lgbm"]
    config.models.targets = ["churn"]
    data = make_customers(n, seed=seed)
    return config, load_tables(config, customers=data.customers,
                               transactions=data.transactions, events=data.events)


def test_a_failing_fit_raises_its_own_error(monkeypatch):
    config, tables = _tables(600, 6)

    def failing(data, config, progress):
        assert data.current_X is None  # set aside: the failure must not be about it
        raise DataError([Problem("no churner at all", table="labels", column="churn")])

    monkeypatch.setattr(stages, "fit_and_evaluate", failing)
    with pytest.raises(DataError, match="no churner at all"):
        stages.fit_all(tables, config)


def test_the_rebuilt_matrix_scores_every_current_customer():
    config, tables = _tables(450, 7)
    data, segmentation, _, scorer = stages.fit_all(tables, config)
    assert data.current_X is not None
    assert segmentation.current_scores.index.equals(data.current_X.index)
    assert scorer.score(data.current_X.iloc[:3])["customer_id"].tolist() == list(
        data.current_X.index[:3])
