"""The pipeline's stages, each a plain function usable from a notebook.

load -> validate -> features -> segments -> predictors -> evaluate -> explain. None of them talks to
MLflow: :mod:`segml.pipeline` chains them inside a tracked run.

Example
-------
>>> from segml.config import SegmlConfig
>>> cutoff_of(SegmlConfig(time={"cutoff": "2025-03-31"}), None)
Timestamp('2025-03-31 23:59:59.999999999')
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segml.config import SegmlConfig
from segml.data.contract import Tables, load_tables
from segml.errors import DataError, Problem

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


# ------------------------------------------------------------------------------------ stages
def load(config: SegmlConfig, data_dir: str | Path | None = None) -> Tables:
    """Load and validate the tables (stage 1-2)."""
    return load_tables(config, data_dir=data_dir)


def cutoff_of(config: SegmlConfig, tables: Tables | None) -> pd.Timestamp:
    """The feature cutoff: the configured date (end of that day) or the data's last day."""
    from segml.features.timeline import data_end, end_of_day

    if config.time.cutoff is not None:
        return end_of_day(config.time.cutoff)
    return data_end(tables)


def features_at(tables: Tables, cutoff: pd.Timestamp, config: SegmlConfig, spec=None):
    """Fit the feature settings at ``cutoff`` (unless given) and build the feature matrix."""
    from segml.features import FeatureSpec, build_features

    spec = spec if spec is not None else FeatureSpec.fit(tables, cutoff, config)
    return spec, build_features(tables, cutoff, spec)


@dataclass
class Segmentation:
    """The fitted segment models and what they say about the customers they were fitted on."""

    hierarchy: Any
    rules: Any
    assignments: pd.DataFrame
    rule_segments: pd.DataFrame
    profiles: dict[int, pd.DataFrame]
    names: dict[int, dict[Any, str]]
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return len(self.profiles)


def discover_segments(
    features: pd.DataFrame, config: SegmlConfig, labels: pd.DataFrame | None = None
) -> Segmentation:
    """Rule segments + the discovered hierarchy, profiled and named at every level."""
    from segml.segments import RuleSegmenter, SegmentHierarchy, name_hierarchy, profile_hierarchy

    nps = next((c for c in features.columns if c == "nps_score"), None)
    rules = RuleSegmenter(lifecycle=config.segments.lifecycle, nps_column=nps).fit(features)
    rule_segments = rules.transform(features)
    hierarchy = SegmentHierarchy.from_config(config.segments, seed=config.seed)
    hierarchy.fit(features, rule_segments=rule_segments)
    assignments = hierarchy.assign(features, rule_segments=rule_segments)
    profiles = profile_hierarchy(
        features,
        assignments,
        labels=labels,
        min_profile_size=config.segments.min_profile_size,
    )
    names = name_hierarchy(profiles)  # a child's name refines its parent's
    hierarchy.set_names(names)
    assignments = hierarchy.assign(features, rule_segments=rule_segments)
    return Segmentation(hierarchy, rules, assignments, rule_segments, profiles, names)


def keep_segment_ids(
    segmentation: Segmentation, previous_hierarchy: Any, features: pd.DataFrame, config: SegmlConfig
) -> Segmentation:
    """Relabel a new hierarchy so segments matching the previous version keep ids and names.

    ``segmentation.extras`` gets ``stability`` (share of customers whose leaf id is unchanged) and
    ``migration`` (customers from each previous leaf to each new leaf).
    """
    from segml.segments import match_hierarchies, profile_hierarchy

    match = match_hierarchies(previous_hierarchy, segmentation.hierarchy, features)
    hierarchy = match.hierarchy
    assignments = hierarchy.assign(features, rule_segments=segmentation.rule_segments)
    profiles = profile_hierarchy(
        features, assignments, min_profile_size=config.segments.min_profile_size
    )
    extras = {"stability": match.stability, "migration": match.migration}
    return Segmentation(
        hierarchy, segmentation.rules, assignments, segmentation.rule_segments, profiles,
        dict(hierarchy.names_), extras,
    )  # fmt: skip


# ------------------------------------------------------------------------------ datasets
@dataclass
class Datasets:
    """The matrices the predictors and segments are fitted on, and when they were taken."""

    mode: str
    spec: Any
    data_end: pd.Timestamp | None
    train_X: pd.DataFrame
    train_Y: pd.DataFrame
    train_cutoff: pd.Series | None
    eval_X: pd.DataFrame | None
    eval_Y: pd.DataFrame | None
    current_X: pd.DataFrame
    cutoffs: dict[str, Any] = field(default_factory=dict)


def build_datasets(tables: Tables, config: SegmlConfig) -> Datasets:
    """Features and labels at every cutoff the run needs (stage 3).

    Behavioural mode: stacked training cutoffs, the out-of-time evaluation cutoff and the current
    ("now") matrix. Attributes mode: one matrix with the explicit labels.
    """
    from segml.features import (
        FeatureSpec,
        build_features,
        data_start,
        make_labels,
        plan_cutoffs,
        stack_training_set,
    )

    if tables.mode == "attributes":
        spec = FeatureSpec.fit(tables, None, config)
        X = build_features(tables, None, spec)
        Y = make_labels(tables, None, config.time)
        return Datasets("attributes", spec, None, X, Y, None, None, None, X)
    end = cutoff_of(config, tables)
    start = data_start(tables)
    plan = plan_cutoffs(end, config.time, start=start)
    spec = FeatureSpec.fit(tables, plan.train[-1], config)
    stacked = stack_training_set(tables, plan.train, spec, config.time)
    eval_X = build_features(tables, plan.evaluation, spec)
    eval_Y = make_labels(tables, plan.evaluation, config.time)
    current_X = build_features(tables, plan.scoring, spec)
    cutoffs = {
        "train": [str(c.date()) for c in plan.train],
        "evaluation": str(plan.evaluation.date()),
        "scoring": str(plan.scoring.date()),
        "data_start": None if start is None else str(start.date()),
    }
    return Datasets(
        "behavioural", spec, end, stacked.X, stacked.Y, stacked.cutoff,
        eval_X, eval_Y, current_X, cutoffs,
    )  # fmt: skip


# ------------------------------------------------------------------------------ predictors
LABEL_OF = {"churn": "churn", "purchase": "purchase", "high_clv": "high_clv", "spend": "future_spend"}


@dataclass
class Predictions:
    """Fitted predictors with their metrics and model-vs-baseline comparisons (stages 4-6)."""

    predictors: dict[str, Any]
    metrics: dict[str, float]
    comparison: dict[str, pd.DataFrame]
    readiness: Any
    extras: dict[str, Any] = field(default_factory=dict)


def _targets(config: SegmlConfig, data: Datasets) -> list[str]:
    available = set(data.train_Y.columns)
    return [t for t in config.models.targets if LABEL_OF[t] in available]


def check_data_readiness(data: Datasets, config: SegmlConfig):
    """The readiness report over every target; raises :class:`ReadinessError` when blocking."""
    from segml.features.readiness import check_readiness, combine_reports

    history = None
    if data.mode == "behavioural" and data.cutoffs.get("data_start"):
        # The history the earliest training cutoff can see.
        first_train = pd.Timestamp(data.cutoffs["train"][0])
        history = int((first_train - pd.Timestamp(data.cutoffs["data_start"])).days)
    reports = []
    for target in _targets(config, data):
        if target == "spend":
            continue
        y = data.train_Y[LABEL_OF[target]]
        reports.append(
            check_readiness(
                data.train_X, y, target=target, config=config.readiness, history_days=history
            )
        )
    report = combine_reports(reports)
    report.raise_if_blocking()
    return report


def fit_and_evaluate(data: Datasets, config: SegmlConfig, progress: Progress = _noop) -> Predictions:
    """Fit every configured target and compare it with its baselines on the same rows."""
    from segml.predict import cross_validate_target, evaluate_target, fit_predictor

    readiness = check_data_readiness(data, config)
    predictors: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    comparison: dict[str, pd.DataFrame] = {}
    extras: dict[str, Any] = {}
    for target in _targets(config, data):
        progress(f"training {target}")
        y = data.train_Y[LABEL_OF[target]]
        if data.mode == "attributes":
            cv = cross_validate_target(target, data.train_X, y, config.models, config.seed)
            predictors[target] = cv.predictor
            metrics.update(cv.metrics)
            comparison[target] = cv.comparison
            continue
        known = y.notna().to_numpy()
        predictor = fit_predictor(
            target,
            data.train_X[known],
            y[known],
            config.models,
            seed=config.seed,
            cutoff=data.train_cutoff[known] if data.train_cutoff is not None else None,
        )
        eval_y = data.eval_Y[LABEL_OF[target]]
        rows = eval_y.notna().to_numpy()
        result = evaluate_target(target, predictor, data.eval_X[rows], eval_y[rows])
        predictors[target] = predictor
        metrics.update(result.metrics)
        comparison[target] = result.comparison
        if getattr(result, "deciles", None) is not None:
            extras[f"{target}_deciles"] = result.deciles
        elif target != "spend":
            # Label, model and baseline scores on (at most 20k of) the same rows, no customer ids:
            # the report's ROC/PR/calibration/lift curves (only the aggregated curves are logged).
            from segml.predict.baselines import skip_reason

            ex, ey = data.eval_X[rows], eval_y[rows]
            if len(ex) > 20_000:
                keep = np.sort(np.random.default_rng(config.seed).choice(len(ex), 20_000, replace=False))
                ex, ey = ex.iloc[keep], ey.iloc[keep]
            scores = pd.DataFrame({"label": ey.to_numpy(dtype=float), "model": predictor.predict(ex)})
            for name, baseline in getattr(predictor, "baselines_", {}).items():
                if skip_reason(name, target, ex) is None:
                    scores[f"baseline_{name}"] = np.asarray(baseline.predict(ex), dtype=float)
            extras[f"{target}_eval_scores"] = scores
    return Predictions(predictors, metrics, comparison, readiness, extras)


# ------------------------------------------------------------------------------ the scorer
def build_scorer(data: Datasets, segmentation: Segmentation, predictions: Predictions) -> Any:
    """The composite :class:`~segml.scoring.CustomerScorer` of a fitted run."""
    from segml.scoring import CustomerScorer

    X = data.current_X
    categorical = {
        c: list(X[c].cat.categories) for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)
    }
    numeric = X.drop(columns=list(categorical)).median(numeric_only=True)
    id_kind = "long" if pd.api.types.is_integer_dtype(X.index.dtype) else "string"
    return CustomerScorer(
        feature_names=list(X.columns),
        categorical_levels=categorical,
        rules=segmentation.rules,
        hierarchy=segmentation.hierarchy,
        predictors=predictions.predictors,
        feature_spec=data.spec,
        id_kind=id_kind,
        metadata={
            "example_row": {k: float(v) for k, v in numeric.items() if np.isfinite(v)},
            "data_end": None if data.data_end is None else str(data.data_end),
            "mode": data.mode,
        },
    )


def profile_with_predictions(
    segmentation: Segmentation, features: pd.DataFrame, scored: pd.DataFrame, config: SegmlConfig
) -> Segmentation:
    """Re-profile the segments with the predicted churn and purchase rates as KPIs.

    ``scored`` is the scorer's output indexed by customer id.
    """
    from segml.segments import profile_hierarchy

    expected = pd.DataFrame(index=features.index)
    for target, column in (("churn", "churn_probability"), ("purchase", "purchase_probability")):
        if column in scored:
            expected[target] = scored[column].to_numpy()
    if expected.shape[1]:
        segmentation.profiles = profile_hierarchy(
            features,
            segmentation.assignments,
            labels=expected,
            min_profile_size=config.segments.min_profile_size,
        )
    return segmentation


def drift_inputs(scored: pd.DataFrame) -> dict[str, Any]:
    """The leaf and score columns of the scorer's output that drift is measured on.

    Both the stored reference and the retrain-time comparison read them from here, so they
    always compare the same columns.
    """
    from segml.scoring import SCORE_COLUMNS

    score_columns = [c for c in SCORE_COLUMNS.values() if c in scored]
    segments = scored["segment_leaf"] if "segment_leaf" in scored else None
    return {"segments": segments, "scores": scored[score_columns]}


def drift_reference(features: pd.DataFrame, scored: pd.DataFrame) -> dict[str, Any]:
    """What the model remembers of its training population to measure drift at retrain time."""
    from segml.monitor.drift import DriftReference

    return DriftReference.fit(features, **drift_inputs(scored)).to_dict()


def require_finite(frame: pd.DataFrame, table: str) -> None:
    bad = [c for c in frame.select_dtypes("number") if np.isinf(frame[c].to_numpy()).any()]
    if bad:
        raise DataError([Problem(f"infinite values in {bad}", table=table)])
