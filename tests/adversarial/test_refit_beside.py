"""Failures while a refit trains beside the next target (segml.workflow.fitting): the stage
stops with the failing step's own error, and no refit thread is left running."""

from __future__ import annotations

import threading

import pytest

from segml.errors import ReadinessError
from segml.predict.models import Predictor
from segml.targets import as_target
from segml.workflow.datasets import build_datasets
from segml.workflow.fitting import fit_and_evaluate
from tests.test_refit_beside import _setup


def _refit_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("segml-refit")]


def test_a_refit_that_fails_stops_the_stage_with_its_error(monkeypatch):
    tables, config = _setup()
    original = Predictor.refit_on

    def failing(self, X, *args, **kwargs):
        if as_target(self.target).name == "purchase":
            raise ValueError("refit of purchase failed: disk full")
        return original(self, X, *args, **kwargs)

    monkeypatch.setattr(Predictor, "refit_on", failing)
    with pytest.raises(ValueError, match="refit of purchase failed"):
        fit_and_evaluate(build_datasets(tables, config), config)
    assert not _refit_threads()


def test_a_blocking_problem_of_the_next_target_stops_the_stage_while_a_refit_runs(monkeypatch):
    """churn's refit is pending when purchase's readiness blocks (suspected leakage): the
    readiness error is raised, after the pending refit has ended."""
    import segml.workflow.fitting as fitting

    tables, config = _setup()
    original = fitting._readiness

    def blocking(data, target, X, y, cfg):
        report = original(data, target, X, y, cfg)
        if target == "purchase":
            raise ReadinessError([fitting.Problem("suspected leakage in purchase", table="features",
                                                  column="purchase")])
        return report

    monkeypatch.setattr(fitting, "_readiness", blocking)
    with pytest.raises(ReadinessError, match="suspected leakage in purchase"):
        fit_and_evaluate(build_datasets(tables, config), config)
    assert not _refit_threads()
