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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segml.config import SegmlConfig
from segml.data.contract import Tables, load_tables
from segml.errors import DataError, Problem, ReadinessError
from segml.targets import TARGETS
from segml.targets import target as target_of

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


# ------------------------------------------------------------------------------------ stages
def load(config: SegmlConfig, data_dir: str | Path | None = None) -> Tables:
    """Load and validate the tables (stage 1-2)."""
    return load_tables(config, data_dir=data_dir)


def cutoff_of(config: SegmlConfig, tables: Tables | None) -> pd.Timestamp:
    """The scoring cutoff: the configured date (end of that day) or the data's last day."""
    from segml.features.plan import scoring_cutoff
    from segml.features.timeline import data_end, end_of_day

    if config.time.cutoff is not None and tables is None:
        return end_of_day(config.time.cutoff)
    return scoring_cutoff(data_end(tables), config.time)


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
    return Segmentation(hierarchy, rules, with_names(assignments, hierarchy.names_),
                        rule_segments, profiles, names)


def with_names(assignments: pd.DataFrame, names: dict[int, dict[str, str]]) -> pd.DataFrame:
    """``segment_name_level_<k>`` beside each named level, as ``SegmentHierarchy.assign`` writes
    them once names are set (an unnamed segment keeps its path), without assigning again.

    Example
    -------
    >>> A = pd.DataFrame({"segment_level_1": ["1", "2", "1"]})
    >>> with_names(A, {1: {"1": "Loyal"}})["segment_name_level_1"].tolist()
    ['Loyal', '2', 'Loyal']
    """
    out = assignments.copy()
    for level in sorted(names):
        column = f"segment_level_{level}"
        if names[level] and column in out:
            codes, distinct = pd.factorize(out[column].to_numpy(dtype=object))
            out[f"segment_name_level_{level}"] = np.array(
                [names[level].get(v, v) for v in distinct.tolist()], dtype=object)[codes]
    return out


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
    # what the earlier stages left (e.g. the predictive grid) is kept beside the match
    extras = {**segmentation.extras, "stability": match.stability, "migration": match.migration}
    return Segmentation(
        hierarchy, segmentation.rules, assignments, segmentation.rule_segments, profiles,
        dict(hierarchy.names_), extras,
    )  # fmt: skip


# ------------------------------------------------------------------------------ datasets
class FeatureFrames:
    """Feature matrices by cutoff, each built once and dropped after its last planned use.

    Several targets share cutoffs (e.g. 90-day churn and 30-day purchase both train at 90 and
    120 days before the end), so a matrix is kept while a later use is planned and released
    after, which bounds memory to the matrices still needed.
    """

    def __init__(self, tables: Tables, spec: Any, uses: dict[pd.Timestamp, int] | None = None):
        self.tables, self.spec = tables, spec
        self._uses = dict(uses or {})
        self._frames: dict[pd.Timestamp, pd.DataFrame] = {}
        self.seconds = 0.0  # spent building matrices (timed apart from the models)

    def __call__(self, cutoff: pd.Timestamp) -> pd.DataFrame:
        from segml.features import build_features

        frame = self._frames.get(cutoff)
        if frame is None:
            start = time.perf_counter()
            frame = build_features(self.tables, cutoff, self.spec)
            self.seconds += time.perf_counter() - start
        left = self._uses.get(cutoff, 0) - 1
        self._uses[cutoff] = left
        if left > 0:
            self._frames[cutoff] = frame
        else:
            self._frames.pop(cutoff, None)
        return frame


@dataclass
class Datasets:
    """Where the predictors' matrices come from, and the current ("now") feature matrix.

    Behavioural mode: the time plan (each target's cutoffs) and the feature matrices at them,
    built on demand (:meth:`training_set`, :meth:`evaluation_set`, :meth:`refit_set`). Attributes
    mode: the explicit labels of the customers in ``current_X``.
    """

    mode: str
    spec: Any
    data_end: pd.Timestamp | None
    current_X: pd.DataFrame
    tables: Tables | None = None
    config: SegmlConfig | None = None
    plan: Any = None
    labels: pd.DataFrame | None = None
    frames: FeatureFrames | None = None
    cutoffs: dict[str, Any] = field(default_factory=dict)

    def targets(self) -> list[str]:
        """The configured targets this data can train, in config order."""
        configured = self.config.models.targets if self.config is not None else list(TARGETS)
        if self.mode == "attributes":
            available = set(self.labels.columns) if self.labels is not None else set()
            return [t for t in configured if target_of(t).label_column in available]
        return [t for t in configured if t in self.plan.targets]

    def _stack(self, target: str, cutoffs: list[pd.Timestamp]):
        from segml.features import stack_training_set

        return stack_training_set(self.tables, cutoffs, self.spec, self.config.time, [target],
                                  features=self.frames,
                                  max_rows=self.config.models.max_train_rows,
                                  seed=self.config.seed)

    def training_set(self, target: str):
        """The stacked training cutoffs of ``target`` (features, labels, cutoff per row)."""
        return self._stack(target, self.plan.targets[target].train)

    def refit_set(self, target: str):
        """The stacked refit cutoffs of ``target``: the freshest complete label windows."""
        return self._stack(target, self.plan.targets[target].refit)

    def evaluation_set(self, target: str) -> tuple[pd.DataFrame, pd.Series]:
        """Features and labels at ``target``'s out-of-time evaluation cutoff."""
        from segml.features import make_labels

        cutoff = self.plan.targets[target].evaluation
        X = self.frames(cutoff)
        Y = make_labels(self.tables, cutoff, self.config.time, [target])
        return X, Y[target_of(target).label_column].reindex(X.index)


def build_datasets(tables: Tables, config: SegmlConfig) -> Datasets:
    """The time plan, the feature settings and the current matrix (stage 3).

    Behavioural mode: each configured target gets its own cutoffs (:mod:`segml.features.plan`);
    a target whose horizon does not fit the history is skipped (``plan.skipped``, a warning
    each), and the run stops only when none fits. The feature settings are learned at the
    earliest evaluation cutoff (no evaluation window informs them); the matrices at the other
    cutoffs are built when the predictors ask for them. Attributes mode: one matrix with the
    explicit labels.
    """
    from segml.features import FeatureSpec, build_features, data_start, make_labels
    from segml.features.plan import plan_targets
    from segml.features.timeline import data_end as end_of_data

    if tables.mode == "attributes":
        spec = FeatureSpec.fit(tables, None, config)
        X = build_features(tables, None, spec)
        Y = make_labels(tables, None, config.time)
        return Datasets("attributes", spec, None, X, tables, config, labels=Y)
    start = data_start(tables)
    plan = plan_targets(end_of_data(tables), config.time, list(config.models.targets),
                        start=start, min_history_days=config.readiness.min_history_days)
    spec = FeatureSpec.fit(tables, plan.spec_cutoff, config)
    uses: dict[pd.Timestamp, int] = {}
    for target_plan in plan.targets.values():
        for cutoff in (*target_plan.train, target_plan.evaluation, *target_plan.refit):
            uses[cutoff] = uses.get(cutoff, 0) + 1
    current_X = build_features(tables, plan.scoring, spec)
    return Datasets("behavioural", spec, plan.scoring, current_X, tables, config, plan=plan,
                    frames=FeatureFrames(tables, spec, uses), cutoffs=plan.to_dict())


# ------------------------------------------------------------------------------ predictors
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
    extras: dict[str, Any] = field(default_factory=dict)
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
    if data.plan is not None and data.plan.data_start is not None:
        # The history the earliest training cutoff can see.
        history = int((data.plan.targets[target].train[0] - data.plan.data_start).days)
    if target_of(target).is_classifier:
        # segml's own behavioural features are point-in-time by construction; the attributes
        # (columns the user brought, e.g. a cancellation date in a churn export) can leak
        brought = set(data.tables.attribute_columns) if data.tables is not None else set()
        own = {str(c) for c in X.columns if str(c) not in brought}
        report = check_readiness(X, y, target=target, config=config.readiness,
                                 history_days=history, point_in_time=own)
    else:
        report = ReadinessReport({target: {"history_days": history, "rows": int(len(X)),
                                           "labelled_rows": int(y.notna().sum())}}, [])
    if data.plan is not None:
        report.targets[target]["windows"] = data.plan.targets[target].to_dict()
    return report


def _eval_scores(predictor: Any, target: str, X: pd.DataFrame, y: pd.Series,
                 seed: int) -> pd.DataFrame:
    """Label, model and baseline scores on (at most 20k of) the evaluation rows, no customer ids:
    the report's ROC/PR/calibration/lift curves (only the aggregated curves are logged)."""
    from segml.predict.baselines import skip_reason

    if len(X) > 20_000:
        keep = np.sort(np.random.default_rng(seed).choice(len(X), 20_000, replace=False))
        X, y = X.iloc[keep], y.iloc[keep]
    scores = pd.DataFrame({"label": y.to_numpy(dtype=float), "model": predictor.predict(X)})
    for name, baseline in getattr(predictor, "baselines_", {}).items():
        if skip_reason(name, target, X) is None:
            scores[f"baseline_{name}"] = np.asarray(baseline.predict(X), dtype=float)
    return scores


def fit_target(data: Datasets, target: str, config: SegmlConfig) -> tuple[TargetFit, Any, Any]:
    """Fit, evaluate and refit one target; returns its fit, evaluation result and readiness.

    Behavioural mode: readiness on the stacked training cutoffs (blocking problems raise), the
    evaluation fit, its out-of-time evaluation beside the baselines, then the refit on the
    freshest windows with the rounds and calibration chosen by the evaluation fit.
    """
    from segml.predict import cross_validate_target, evaluate_target, fit_predictor

    column = target_of(target).label_column
    if data.mode == "attributes":
        y = data.labels[column].reindex(data.current_X.index)
        readiness = _readiness(data, target, data.current_X, y, config)
        readiness.raise_if_blocking()
        cv = cross_validate_target(target, data.current_X, y, config.models, config.seed)
        fit = TargetFit(target, cv.predictor, cv.predictor, None, int(y.notna().sum()),
                        float(y.mean()) if target_of(target).is_classifier else None)
        return fit, cv, readiness
    train = data.training_set(target)
    y = train.Y[column]
    readiness = _readiness(data, target, train.X, y, config)
    readiness.raise_if_blocking()
    known = y.notna().to_numpy()
    evaluated = fit_predictor(target, train.X[known], y[known], config.models, seed=config.seed,
                              cutoff=train.cutoff[known])
    rows, rate = int(known.sum()), float(y[known].mean())
    del train, y
    eval_X, eval_y = data.evaluation_set(target)
    labelled = eval_y.notna().to_numpy()
    result = evaluate_target(target, evaluated, eval_X[labelled], eval_y[labelled])
    if target_of(target).is_classifier:
        result.scores = _eval_scores(evaluated, target, eval_X[labelled], eval_y[labelled],
                                     config.seed)
    del eval_X
    fresh = data.refit_set(target)
    fresh_y = fresh.Y[column]
    fresh_known = fresh_y.notna().to_numpy()
    predictor = evaluated.refit_on(fresh.X[fresh_known], fresh_y[fresh_known],
                                cutoff=fresh.cutoff[fresh_known])
    fit = TargetFit(target, predictor, evaluated, data.plan.targets[target], rows,
                    rate if target_of(target).is_classifier else None, eval_y[labelled])
    return fit, result, readiness


def candidate_metrics(target: str, predictor: Any) -> dict[str, float]:
    """``candidate_<name>_<target>_<metric>``: each candidate's held-out headline metric (the
    validation rows inside the training period, never the evaluation window).

    Example
    -------
    >>> from types import SimpleNamespace
    >>> candidate_metrics("churn", SimpleNamespace(candidate_scores_={"lgbm": 0.8}))
    {'candidate_lgbm_churn_roc_auc': 0.8}
    """
    metric = target_of(target).headline_metric
    scores = getattr(predictor, "candidate_scores_", {}) or {}
    return {f"candidate_{name}_{target}_{metric}": float(score) for name, score in scores.items()}


def fit_and_evaluate(data: Datasets, config: SegmlConfig, progress: Progress = _noop) -> Predictions:
    """Fit every target the data can train and compare each with its baselines on the same rows.

    Targets whose horizon does not fit the history were skipped by the plan; a target whose
    training labels are too few to learn from (readiness: too few positives or negatives, a
    constant label) is skipped here. Both are listed in ``Predictions.skipped`` (one warning
    each) and ``skipped_targets``; the run stops only when no target can train, or on any other
    blocking readiness problem (suspected leakage, too little history).
    """
    from segml.features.readiness import combine_reports

    fits: dict[str, TargetFit] = {}
    metrics: dict[str, float] = {}
    comparison: dict[str, pd.DataFrame] = {}
    extras: dict[str, Any] = {}
    reports = []
    skipped = data.plan.warnings() if data.plan is not None else []
    skipped_targets = ({t: p.message for t, p in data.plan.skipped.items()}
                       if data.plan is not None else {})
    timings: dict[str, float] = {}
    for target in data.targets():
        progress(f"training {target}")
        started = time.perf_counter()
        try:
            fit, result, readiness = fit_target(data, target, config)
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
        reports.append(readiness)
        fits[target] = fit
        timings[f"stage_predictors_{target}_seconds"] = time.perf_counter() - started
        metrics.update(result.metrics)
        metrics.update(candidate_metrics(target, fit.evaluated))
        comparison[target] = result.comparison
        if getattr(result, "deciles", None) is not None:
            extras[f"{target}_deciles"] = result.deciles
        if getattr(result, "scores", None) is not None:
            extras[f"{target}_eval_scores"] = result.scores
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
    return Predictions(predictors, metrics, comparison, report, extras, fits, skipped,
                       skipped_targets)


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
            "fit_cutoffs": predictions.fit_cutoffs(),
        },
        activity_window_days=(
            None if data.mode == "attributes" or data.config is None
            else float(data.config.time.activity_window_days)),
        evaluated={t: f.evaluated for t, f in predictions.fits.items()
                   if f.evaluated is not f.predictor},
    )


def profile_with_predictions(
    segmentation: Segmentation, features: pd.DataFrame, scored: pd.DataFrame, config: SegmlConfig
) -> Segmentation:
    """Re-profile the segments with the predicted rates of the targets that give a KPI
    (expected churn, expected purchase).

    ``scored`` is the scorer's output indexed by customer id. A target scored only on its
    population (churn: active customers) leaves the others NaN, so each segment's expected rate
    is the mean over the customers the target applies to.
    """
    assignments = segmentation.assignments.reindex(features.index)
    for spec in TARGETS.values():
        if spec.profile_kpi is None or spec.output_column not in scored:
            continue
        column, _ = spec.profile_kpi
        expected = pd.Series(scored[spec.output_column].to_numpy(dtype=float), index=features.index)
        for level, profile in segmentation.profiles.items():
            # the rates only: the rest of the profile (effects, names) does not depend on them
            segments = assignments[f"segment_level_{level}"].astype(str).to_numpy()
            rate = expected.groupby(segments).mean().reindex(profile.index)
            rate[profile["suppressed"].to_numpy(dtype=bool)] = np.nan
            profile.drop(columns=[column], errors="ignore", inplace=True)
            at = (profile.columns.get_loc("top_features") if "top_features" in profile
                  else len(profile.columns))
            profile.insert(at, column, rate.to_numpy())
    return segmentation


def drift_inputs(scored: pd.DataFrame) -> dict[str, Any]:
    """The leaf and score columns of the scorer's output that drift is measured on.

    Both the stored reference and the retrain-time comparison read them from here, so they
    always compare the same columns.
    """
    score_columns = [t.output_column for t in TARGETS.values() if t.output_column in scored]
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
