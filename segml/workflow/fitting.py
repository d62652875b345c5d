"""Fit, evaluate and refit each target's predictor (stages 4-6, no MLflow).

Per target: readiness on its stacked training cutoffs, the evaluation fit, its out-of-time
evaluation beside the baselines on the same rows, then the refit on the freshest windows with the
recipe the evaluation fit chose (:class:`TargetFit`). A target whose labels are too few is
skipped with a warning; the run stops only when none can train (:func:`fit_and_evaluate`).

A refit needs nothing the next target builds, and the next target's matrices need nothing a refit
learns, so the refit of one target trains on a worker thread while the next target's matrices
are built (LightGBM releases the interpreter): at a million customers each refit is a 9-11 s fit
on one core that the run used to wait for. Every model is the same as one target after the other
(deterministic LightGBM on a fixed number of threads, BLAS on one thread for the whole stage).

Example
-------
>>> from types import SimpleNamespace
>>> candidate_metrics("churn", SimpleNamespace(candidate_scores_={"lgbm": 0.8}))
{'candidate_lgbm_churn_roc_auc': 0.8}
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segml.allocation import return_freed_memory
from segml.config import SegmlConfig
from segml.errors import DataError, Problem, ReadinessError
from segml.predict.resources import single_threaded_blas
from segml.targets import Target, as_target
from segml.workflow.datasets import Datasets, Progress, no_progress


@dataclass
class TargetFit:
    """One target's predictors: the one whose metrics are reported and the registered one.

    Behavioural mode: ``evaluated`` learned the training cutoffs and was scored out of time;
    ``predictor`` repeats its recipe on the refit cutoffs (``fit_cutoff``: the data end minus
    the horizon). Attributes mode: cross-validated metrics, ``predictor`` fitted on all rows
    (``evaluated`` is the same object).
    """

    target: str
    predictor: Any
    evaluated: Any
    plan: Any = None
    training_rows: int = 0
    label_rate: float | None = None
    eval_labels: pd.Series | None = None
    #: The evaluation's model and baseline scores per decile (when the evaluation gives them).
    deciles: pd.DataFrame | None = None
    #: Label, model and baseline scores on (a sample of) the evaluation rows, no customer ids:
    #: the report's curves and the operating curve of a classifier (:func:`_eval_scores`).
    eval_scores: pd.DataFrame | None = None
    #: The refit still training on a worker thread (``fit_target(beside=...)``); :meth:`finish`
    #: waits for it and sets ``predictor``.
    pending: Future | None = field(default=None, repr=False)

    def finish(self) -> TargetFit:
        """Wait for a refit trained beside other work, and keep its predictor (its error, if
        it failed, is raised here)."""
        if self.pending is not None:
            self.predictor, self.pending = self.pending.result(), None
        return self

    @property
    def fit_cutoff(self) -> str | None:
        """ISO date of the registered predictor's latest training cutoff (None: attributes)."""
        return None if self.plan is None else self.plan.fit_cutoff.date().isoformat()


@dataclass
class Predictions:
    """Fitted predictors with their metrics and model-vs-baseline comparisons (stages 4-6)."""

    predictors: dict[str, Any]
    metrics: dict[str, float]
    comparison: dict[str, pd.DataFrame]
    readiness: Any
    fits: dict[str, TargetFit] = field(default_factory=dict)
    skipped: list[Problem] = field(default_factory=list)
    #: target -> why it was not trained (its horizon does not fit the history, too few labels)
    skipped_targets: dict[str, str] = field(default_factory=dict)

    @property
    def evaluated(self) -> dict[str, Any]:
        """Target -> the predictor whose (out-of-time) metrics are reported."""
        return {t: f.evaluated for t, f in self.fits.items()}

    def fit_cutoffs(self) -> dict[str, str]:
        """Target -> ISO date of the registered predictor's latest training cutoff."""
        return {t: f.fit_cutoff for t, f in self.fits.items() if f.fit_cutoff is not None}


def _readiness(data: Datasets, target: str, X: pd.DataFrame, y: pd.Series, config: SegmlConfig):
    """The readiness report of one target (classifiers: label counts, leakage, ...; the
    regressor: its rows and windows only, as a spend label has no classes to count)."""
    from segml.features.readiness import ReadinessReport, check_readiness

    history = None
    planned = data.plan is not None and target in data.plan.targets
    if planned and data.plan.data_start is not None:
        # The history the earliest training cutoff can see.
        history = int((data.plan.targets[target].train[0] - data.plan.data_start).days)
    if data.target(target).is_classifier:
        # segml's own behavioural features are point-in-time by construction; the attributes
        # (columns the user brought, e.g. a cancellation date in a churn export) can leak
        brought = set(data.tables.attribute_columns) if data.tables is not None else set()
        own = {str(c) for c in X.columns if str(c) not in brought}
        report = check_readiness(X, y, target=target, config=config.readiness,
                                 history_days=history, point_in_time=own)
    else:
        report = ReadinessReport({target: {"history_days": history, "rows": int(len(X)),
                                           "labelled_rows": int(y.notna().sum())}}, [])
    if planned:
        report.targets[target]["windows"] = data.plan.targets[target].to_dict()
    return report


def _eval_scores(predictor: Any, target: Target, X: pd.DataFrame, y: pd.Series,
                 seed: int) -> pd.DataFrame:
    """Label, model and baseline scores on (at most 20k of) the evaluation rows, no customer ids:
    the report's ROC/PR/calibration/lift curves (only the aggregated curves are logged)."""
    from segml.predict.baselines import skip_reason

    if len(X) > 20_000:
        keep = np.sort(np.random.default_rng(seed).choice(len(X), 20_000, replace=False))
        X, y = X.iloc[keep], y.iloc[keep]
    scores = pd.DataFrame({"label": y.to_numpy(dtype=float), "model": predictor.predict_value(X)})
    for name, baseline in getattr(predictor, "baselines_", {}).items():
        if skip_reason(name, target, X) is None:
            scores[f"baseline_{name}"] = np.asarray(baseline.predict(X), dtype=float)
    return scores


def _labelled(X: pd.DataFrame, y: pd.Series, cutoff: pd.Series
              ) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """The rows of a stack with a known label. A sampled stack holds only those (the sample
    draws labelled rows), and then the stack is passed as it is: a boolean selection of every
    row would copy the matrix (300k rows x 80 features at a million customers) while the
    stack is still held."""
    known = y.notna().to_numpy()
    if known.all():
        return X, y, cutoff
    return X[known], y[known], cutoff[known]


def fit_target(data: Datasets, target: str, config: SegmlConfig,
               beside: ThreadPoolExecutor | None = None) -> tuple[TargetFit, Any, Any]:
    """Fit, evaluate and refit one target; returns its fit, evaluation result and readiness.

    Behavioural mode: readiness on the stacked training cutoffs (blocking problems raise), the
    evaluation fit, its out-of-time evaluation beside the baselines, then the refit on the
    freshest windows with the rounds and calibration chosen by the evaluation fit. With
    ``beside`` the refit is submitted there and the fit is returned before it ends
    (``TargetFit.pending``; :meth:`TargetFit.finish` waits for it).
    """
    from segml.predict import cross_validate_target, evaluate_target, fit_predictor

    spec = data.target(target)  # the run's Target (a declared one is never looked up by name)
    column = spec.label_column
    if data.cross_validated(target):
        y = data.labels[column].reindex(data.current_X.index)
        readiness = _readiness(data, target, data.current_X, y, config)
        readiness.raise_if_blocking()
        cv = cross_validate_target(spec, data.current_X, y, config.models, config.seed)
        fit = TargetFit(target, cv.predictor, cv.predictor, None, int(y.notna().sum()),
                        float(y.mean()) if spec.is_classifier else None)
        return fit, cv, readiness
    train = data.training_set(target)
    y = train.Y[column]
    readiness = _readiness(data, target, train.X, y, config)
    readiness.raise_if_blocking()
    X, y, cutoff = _labelled(train.X, y, train.cutoff)
    evaluated = fit_predictor(spec, X, y, config.models, seed=config.seed, cutoff=cutoff)
    train_rows, rate = len(y), float(y.mean())
    del X, y, cutoff, train
    eval_X, eval_y = data.evaluation_set(target)  # the evaluation's (sampled) customers
    result = evaluate_target(spec, evaluated, eval_X, eval_y)
    if spec.is_classifier:
        result.scores = _eval_scores(evaluated, spec, eval_X, eval_y, config.seed)
    del eval_X
    return_freed_memory()  # the evaluation's frames, before the refit's (the stage's peak)
    fresh = data.refit_set(target)
    fresh_X, fresh_y, fresh_cutoff = _labelled(fresh.X, fresh.Y[column], fresh.cutoff)
    del fresh
    fit = TargetFit(target, None, evaluated, data.plan.targets[target], train_rows,
                    rate if spec.is_classifier else None, eval_y)
    if beside is None:
        fit.predictor = evaluated.refit_on(fresh_X, fresh_y, cutoff=fresh_cutoff)
    else:
        fit.pending = beside.submit(evaluated.refit_on, fresh_X, fresh_y, cutoff=fresh_cutoff)
    return fit, result, readiness


def candidate_metrics(target: str | Target, predictor: Any) -> dict[str, float]:
    """``candidate_<name>_<target>_<metric>``: each candidate's held-out headline metric (the
    validation rows inside the training period, never the evaluation window).

    Example
    -------
    >>> from types import SimpleNamespace
    >>> candidate_metrics("churn", SimpleNamespace(candidate_scores_={"lgbm": 0.8}))
    {'candidate_lgbm_churn_roc_auc': 0.8}
    """
    spec = as_target(target)
    metric, target = spec.headline_metric, spec.name
    scores = getattr(predictor, "candidate_scores_", {}) or {}
    return {f"candidate_{name}_{target}_{metric}": float(score) for name, score in scores.items()}


def fit_and_evaluate(data: Datasets, config: SegmlConfig, progress: Progress = no_progress) -> Predictions:
    """Fit every target the data can train and compare each with its baselines on the same rows.

    Targets whose horizon does not fit the history were skipped by the plan; a target whose
    training labels are too few to learn from (readiness: too few positives or negatives, a
    constant label) is skipped here. Both are listed in ``Predictions.skipped`` (one warning
    each) and ``skipped_targets``; the run stops only when no target can train, or on any other
    blocking readiness problem (suspected leakage, too little history).

    Each refit trains beside the next target's matrices (see the module docstring); the
    stage returns once every refit has ended. ``stage_predictors_<target>_seconds`` is the time
    the stage spent on the target's own steps; its refit runs beside the next target's and
    is not counted in it.
    """
    # BLAS on one thread for the whole stage: fits on several threads each limiting it for
    # themselves would restore each other's limits while a neighbour still runs
    with single_threaded_blas(), ThreadPoolExecutor(max_workers=1,
                                                    thread_name_prefix="segml-refit") as refits:
        return _fit_all_targets(data, config, progress, refits)


def _fit_all_targets(data: Datasets, config: SegmlConfig, progress: Progress,
                     refits: ThreadPoolExecutor) -> Predictions:
    from segml.features.readiness import combine_reports

    fits: dict[str, TargetFit] = {}
    metrics: dict[str, float] = {}
    comparison: dict[str, pd.DataFrame] = {}
    reports = []
    skipped = data.plan.warnings() if data.plan is not None else []
    skipped_targets = ({t: p.message for t, p in data.plan.skipped.items()}
                       if data.plan is not None else {})
    timings: dict[str, float] = {}
    for target in data.targets():
        progress(f"training {target}")
        started = time.perf_counter()
        try:
            fit, result, readiness = fit_target(data, target, config, beside=refits)
        except ReadinessError as exc:
            if not all(p.table == "labels" for p in exc.problems if p.severity == "error"):
                raise
            reasons = "; ".join(p.message for p in exc.problems if p.severity == "error")
            problem = Problem(f"target {target} skipped: too few labels to learn from ({reasons})",
                              severity="warning", table="labels", column=target,
                              key="readiness.min_positives")
            skipped.append(problem)
            skipped_targets[target] = problem.message
            continue
        return_freed_memory()  # this target's stacks and fits, before the next target's
        reports.append(readiness)
        fits[target] = fit
        timings[f"stage_predictors_{target}_seconds"] = time.perf_counter() - started
        metrics.update(result.metrics)
        metrics.update(candidate_metrics(data.target(target), fit.evaluated))
        comparison[target] = result.comparison
        fit.deciles = getattr(result, "deciles", None)
        fit.eval_scores = getattr(result, "scores", None)
    for fit in fits.values():
        fit.finish()
    if not fits:
        raise DataError([*(Problem(p.message, table=p.table, column=p.column, key=p.key)
                           for p in skipped), Problem(
            "none of the configured targets can be trained on this data: models.targets is "
            f"{list(config.models.targets)}" + (
                f" and the label columns are {sorted(data.labels.columns)}"
                if data.labels is not None else ""), key="models.targets")])
    if data.frames is not None:  # the matrices at the training cutoffs, inside the targets' times
        timings["stage_predictors_features_seconds"] = data.frames.seconds
    metrics.update(timings)
    report = combine_reports(reports)
    predictors = {t: f.predictor for t, f in fits.items()}
    return Predictions(predictors, metrics, comparison, report, fits, skipped, skipped_targets)


__all__ = ["Predictions", "TargetFit", "candidate_metrics", "fit_and_evaluate", "fit_target"]
