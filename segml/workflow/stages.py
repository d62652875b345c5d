"""The pipeline's stages, each a plain function usable from a notebook.

load -> validate -> features -> segments -> predictors -> evaluate -> explain. None of them talks to
MLflow: :mod:`segml.workflow.train` chains them inside a tracked run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segml.allocation import return_freed_memory
from segml.config import SegmentsConfig, SegmlConfig
from segml.data.contract import Purpose, Tables, load_tables, without_unread_columns
from segml.features.timeline import encode_customer_ids
from segml.targets import TARGETS, Target
from segml.workflow.datasets import Datasets, Progress, build_datasets, no_progress
from segml.workflow.fitting import Predictions, fit_and_evaluate

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------ stages
def load(config: SegmlConfig, data_dir: str | Path | None = None, *,
         purpose: Purpose = "train", attributes: dict[str, list[str]] | None = None) -> Tables:
    """Load and validate the tables (stage 1-2); ``purpose="score"`` reads no label column
    (:func:`~segml.data.contract.validate_tables`)."""
    return load_tables(config, data_dir=data_dir, purpose=purpose, attributes=attributes)


def held_tables(tables: Tables, config: SegmlConfig) -> Tables:
    """What a training run or a retrain holds of its tables once it has fingerprinted them:
    without the columns nothing in ``config`` reads
    (:func:`~segml.data.contract.without_unread_columns`), the customer ids as codes
    (:func:`~segml.features.timeline.encode_customer_ids`), and the pages glibc kept of what
    was let go returned (it would keep the text ids' to the end of the run). Tables that are
    not local (Spark) are returned as they are.
    """
    if not isinstance(tables, Tables):
        return tables
    held = encode_customer_ids(without_unread_columns(tables, config))
    return_freed_memory()
    return held


@dataclass
class Segmentation:
    """The fitted segment models and what they say about the customers they were fitted on.

    The fields after ``names`` are filled by later stages: ``stability`` and ``migration`` by
    :func:`keep_segment_ids` (a retrain), the rest by :func:`fit_all` once the scorer exists.
    """

    hierarchy: Any
    rules: Any
    assignments: pd.DataFrame
    rule_segments: pd.DataFrame
    profiles: dict[int, pd.DataFrame]
    names: dict[int, dict[Any, str]]
    #: Share of customers whose leaf id is unchanged from the previous hierarchy.
    stability: float | None = None
    #: Customers from each previous leaf (rows) to each new leaf (columns).
    migration: pd.DataFrame | None = None
    #: The scorer's output for the customers the segments were fitted on (index: customer id),
    #: with their predictive segment; the report's grid and retrain's drift read it.
    current_scores: pd.DataFrame | None = None
    #: The value x risk grid and the operating curves the scorer holds (plain data).
    predictive_grid: dict[str, Any] | None = None
    audience_curves: dict[str, Any] | None = None
    #: The customers the rule edges and the hierarchy were fitted on (the discovery sample).
    discovery_ids: pd.Index | None = None
    #: Customers per segment over every current customer when ``assignments`` holds only a
    #: sample of them (a Spark train), as :meth:`counts` gives them; None: count ``assignments``.
    population_counts: pd.DataFrame | None = None

    @property
    def depth(self) -> int:
        return len(self.profiles)

    def counts(self) -> pd.DataFrame:
        """Customers (``customers``) per ``segment_leaf``, ``segment_level_<k>`` and
        ``segment_is_noise`` over every current customer: the sizes the report, the metrics and
        the CLI show, whether the assignments are every customer's or a sample's."""
        if self.population_counts is not None:
            return self.population_counts
        a = self.assignments
        keys = ["segment_leaf", *[c for c in a.columns if c.startswith("segment_level_")],
                "segment_is_noise"]
        return (a.groupby(keys, observed=True, sort=True, dropna=False).size()
                .rename("customers").reset_index())

    def sizes(self, column: str) -> pd.Series:
        """Customers per value of ``column`` of :meth:`counts` (``segment_leaf``,
        ``segment_level_<k>``), largest first (ties in the column's order)."""
        counts = self.counts().groupby(column, sort=True)["customers"].sum()
        return counts.iloc[np.argsort(-counts.to_numpy(), kind="stable")]

    def noise_share(self) -> float:
        """The share of every current customer flagged noise."""
        counts = self.counts()
        total = int(counts["customers"].sum())
        noise = int(counts.loc[counts["segment_is_noise"].to_numpy(dtype=bool), "customers"].sum())
        return noise / total if total else float("nan")


def fit_segment_models(sample: pd.DataFrame, segments: SegmentsConfig, seed: int,
                       ) -> tuple[Any, Any]:
    """The fitted :class:`~segml.segments.rules.RuleSegmenter` (its RFM and engagement edges)
    and :class:`~segml.segments.hierarchy.SegmentHierarchy` of the discovery ``sample``
    (:func:`discovery_sample`): what both engines learn before placing every customer."""
    from segml.segments import RuleSegmenter, SegmentHierarchy

    nps = next((c for c in sample.columns if c == "nps_score"), None)
    rules = RuleSegmenter(lifecycle=segments.lifecycle, nps_column=nps).fit(sample)
    hierarchy = SegmentHierarchy.from_config(segments, seed=seed)
    hierarchy.fit(sample, rule_segments=rules.transform(sample))
    return rules, hierarchy


def discovery_sample(features: pd.DataFrame, segments: SegmentsConfig, seed: int,
                     cutoff: object = None) -> pd.DataFrame:
    """The customers segment discovery is fitted on, in ``features``' order: every one up to
    ``segments.discovery_max_rows``, above it a seeded sample of that many keyed by customer id
    at ``cutoff`` (:func:`segml.sampling.discovery_rows`; docs/segments.md, "Discovery on a
    sample")."""
    from segml.sampling import discovery_rows

    rows = discovery_rows(features.index, segments.discovery_max_rows, seed, cutoff)
    return features if rows.size == len(features) else features.iloc[rows]


def discover_segments(
    features: pd.DataFrame, segments: SegmentsConfig, seed: int,
    labels: pd.DataFrame | None = None, *, cutoff: object = None,
) -> Segmentation:
    """Rule segments + the discovered hierarchy, profiled and named at every level
    (``segments``: the config's section, ``seed``: its seed).

    The rule edges and the hierarchy are fitted on the discovery sample
    (:func:`discovery_sample`, keyed at ``cutoff``: every customer up to
    ``segments.discovery_max_rows``); every customer of ``features`` is then placed and
    profiled.
    """
    from segml.segments import name_hierarchy, profile_hierarchy

    sample = discovery_sample(features, segments, seed, cutoff)
    rules, hierarchy = fit_segment_models(sample, segments, seed)
    rule_segments = rules.transform(features)
    assignments = hierarchy.assign(features, rule_segments=rule_segments)
    profiles = profile_hierarchy(
        features,
        assignments,
        labels=labels,
        min_profile_size=segments.min_profile_size,
    )
    names = name_hierarchy(profiles)  # a child's name refines its parent's
    hierarchy.set_names(names)
    return Segmentation(hierarchy, rules, hierarchy.with_names(assignments),
                        rule_segments, profiles, names, discovery_ids=sample.index)


def keep_segment_ids(
    segmentation: Segmentation, previous_hierarchy: Any, features: pd.DataFrame,
    segments: SegmentsConfig,
) -> Segmentation:
    """Relabel a new hierarchy so segments matching the previous version keep ids and names.

    The result carries ``stability`` (share of customers whose leaf id is unchanged) and
    ``migration`` (customers from each previous leaf to each new leaf).
    """
    from segml.segments import match_hierarchies, profile_hierarchy

    match = match_hierarchies(previous_hierarchy, segmentation.hierarchy, features)
    hierarchy = match.hierarchy
    assignments = hierarchy.assign(features, rule_segments=segmentation.rule_segments)
    profiles = profile_hierarchy(
        features, assignments, min_profile_size=segments.min_profile_size
    )
    # what the earlier stages left (e.g. the predictive grid) is kept beside the match
    return replace(
        segmentation, hierarchy=hierarchy, assignments=assignments, profiles=profiles,
        names=dict(hierarchy.names_), stability=match.stability, migration=match.migration,
    )  # fmt: skip


# ------------------------------------------------------------------------------ all stages
def fit_all(
    tables: Tables,
    config: SegmlConfig,
    progress: Progress = no_progress,
    timer: Callable[[str], AbstractContextManager[Any]] | None = None,
    previous_hierarchy: Any = None,
    check_input: Callable[[list[tuple[str, str]]], None] | None = None,
) -> tuple[Datasets, Segmentation, Predictions, Any]:
    """Features -> segments -> predictors -> the composite scorer, each stage inside
    ``timer(name)`` when given (a tracked run's ``stage``: this function knows no MLflow).

    With ``previous_hierarchy`` (the champion's), matched segments keep their ids and names and
    ``segmentation`` carries the stability score and the migration matrix.
    ``check_input`` receives the future model's input schema as soon as the features are built
    (before any model is fitted): the registry's schema guard fails there, not minutes later.
    """
    from segml.features import build_features
    from segml.features.timeline import release
    from segml.scoring.encoding import input_schema_of

    def stage(name: str) -> AbstractContextManager[Any]:
        return timer(name) if timer is not None else nullcontext()

    with stage("features"):
        progress("building point-in-time features")
        # loaded tables, or a source whose rows stay on another engine and that builds the
        # same datasets there (segml.scale.spark_training.SparkSource)
        data = (build_datasets(tables, config) if isinstance(tables, Tables)
                else tables.build_datasets(config))
    if check_input is not None:
        check_input(input_schema_of(data.current_X))
    # every current customer's features here, or a pass over them on another engine that
    # keeps them there (segml.scale.spark_population.SparkPopulation)
    population = data.population if data.population is not None else LocalPopulation(data)
    with stage("segments"):
        progress("discovering segments")
        segmentation = population.discover(config.segments, config.seed, previous_hierarchy)
    with stage("predictors"):
        aside = _set_current_aside(data, population)
        predictions = fit_and_evaluate(data, config, progress)  # "training <target>" each
        if aside:
            data.current_X = population.X = build_features(data.tables, data.data_end, data.spec)
        if isinstance(tables, Tables):  # every matrix is built: the scoring reads current_X
            release(tables.customers)
    progress("scoring and profiling the customers")
    with stage("scorer"):
        scorer = build_scorer(data, segmentation, predictions, medians=population.medians())
    segmentation = population.score(scorer, segmentation, predictions, config, stage)
    return data, segmentation, predictions, scorer


def _set_current_aside(data: Datasets, population: Any) -> bool:
    """Let the current matrix go while the models are fitted, when nothing then reads it (no
    target cross-validated on it); :func:`fit_all` builds it again afterwards, the same bits
    (the same tables, cutoff and settings; 2-3 s at a million customers). At that size it is
    0.45 GiB the predictors stage, the run's peak, would otherwise hold."""
    if not (isinstance(data.tables, Tables) and isinstance(population, LocalPopulation)
            and data.mode == "behavioural"):
        return False
    if any(data.cross_validated(target) for target in data.targets()):
        return False
    data.current_X = population.X = None
    return True


class LocalPopulation:
    """The population pass of a single-machine run: every current customer's features are in
    memory (``data.current_X``), and each step reads them whole.

    Another engine gives :attr:`Datasets.population` an object with the same methods that keeps
    the rows where they are (:class:`segml.scale.spark_population.SparkPopulation`): ``size``,
    ``medians``, ``discover``, ``score`` and ``drift``; :func:`fit_all` and a retrain call only
    those.
    """

    def __init__(self, data: Datasets):
        self.X = data.current_X
        self.cutoff = data.data_end

    @property
    def size(self) -> int:
        """How many current customers there are."""
        return len(self.X)

    def medians(self) -> pd.Series:
        """The median of each numeric feature (the scorer's example row)."""
        from segml.scoring.encoding import categorical_levels_of

        return self.X.drop(columns=list(categorical_levels_of(self.X))).median(numeric_only=True)

    def discover(self, segments: SegmentsConfig, seed: int,
                 previous_hierarchy: Any = None) -> Segmentation:
        """:func:`discover_segments`, then :func:`keep_segment_ids` against
        ``previous_hierarchy`` (a retrain's champion) when given."""
        segmentation = discover_segments(self.X, segments, seed, cutoff=self.cutoff)
        if previous_hierarchy is not None:
            segmentation = keep_segment_ids(segmentation, previous_hierarchy, self.X, segments)
        return segmentation

    def score(self, scorer: Any, segmentation: Segmentation, predictions: Predictions,
              config: SegmlConfig,
              stage: Callable[[str], AbstractContextManager[Any]]) -> Segmentation:
        """Score every customer, learn the targeting (grid, curves) into ``scorer``, put the
        predicted rates into the profiles and store the drift reference in the scorer."""
        from segml.workflow.targeting import fit_targeting

        with stage("scoring"):
            # the segments stage placed these customers with this hierarchy already
            scored = scorer.score(self.X, segments=segmentation.assignments
                                  ).set_index("customer_id")
            # the value x risk cut points and the operating curves, learned here, kept in the
            # scorer
            scored = fit_targeting(scorer, scored, predictions, config)
        with stage("profiles"):
            segmentation = profile_with_predictions(segmentation, self.X, scored,
                                                    scorer.targets())
        with stage("drift_reference"):
            scorer.metadata["drift_reference"] = drift_reference(self.X, scored,
                                                                 scorer.targets())
        return replace(segmentation, current_scores=scored,  # retrain's drift reads them
                       predictive_grid=scorer.predictive_grid,
                       audience_curves=scorer.audience_curves)

    def drift(self, reference: Any, segmentation: Segmentation, scorer: Any,
              psi_warn: float) -> dict[str, Any]:
        """:func:`~segml.monitor.drift.drift_summary` of these customers against
        ``reference`` (a champion's drift reference)."""
        from segml.monitor.drift import drift_summary

        return drift_summary(reference, self.X,
                             **drift_inputs(segmentation.current_scores, scorer.targets()),
                             psi_warn=psi_warn)


# ------------------------------------------------------------------------------ the scorer
def build_scorer(data: Datasets, segmentation: Segmentation, predictions: Predictions, *,
                 medians: pd.Series | None = None) -> Any:
    """The composite :class:`~segml.scoring.scorer.CustomerScorer` of a fitted run
    (``medians``: each numeric feature's over every current customer, when ``data.current_X``
    does not hold them all)."""
    from segml.scoring.encoding import categorical_levels_of, id_kind_of
    from segml.scoring.scorer import CustomerScorer

    X = data.current_X
    categorical = categorical_levels_of(X)  # the scorer's schema is then input_schema_of(X)
    numeric = (X.drop(columns=list(categorical)).median(numeric_only=True) if medians is None
               else medians)
    id_kind = id_kind_of(X.index)
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
            None if data.mode == "attributes" else float(data.time.activity_window_days)),
        evaluated={t: f.evaluated for t, f in predictions.fits.items()
                   if f.evaluated is not f.predictor},
        # the run's declared targets it predicts, stored with the model (docs/dev/targets.md)
        declared_targets={name: dict(spec.definition) for name, spec in data.registry.items()
                          if spec.definition is not None and name in predictions.predictors},
    )


def profile_with_predictions(
    segmentation: Segmentation, features: pd.DataFrame, scored: pd.DataFrame,
    targets: Mapping[str, Target] | None = None,
) -> Segmentation:
    """Put the predicted rates of the targets that give a KPI (expected churn, expected
    purchase) into every level's profile, in place of the rate columns it had (the rest of a
    profile does not depend on them, so nothing else is recomputed).

    ``scored`` is the scorer's output indexed by customer id. A target scored only on its
    population (churn: active customers) leaves the others NaN, so each segment's expected rate
    is the mean over the customers the target applies to. ``targets``: the scorer's targets
    (:meth:`~segml.scoring.scorer.CustomerScorer.targets`); None: the built-in ones.
    """
    assignments = segmentation.assignments.reindex(features.index)
    rates = []
    for column, score in rate_columns(scored, targets):
        expected = pd.Series(scored[score].to_numpy(dtype=float), index=features.index)
        rates.append((column, {
            level: expected.groupby(
                assignments[f"segment_level_{level}"].astype(str).to_numpy()).mean()
            for level in segmentation.profiles}))
    return with_predicted_rates(segmentation, rates)


def rate_columns(scored: Any, targets: Mapping[str, Target] | None = None,
                 ) -> list[tuple[str, str]]:
    """(profile KPI column, score column) of each target giving a KPI whose score ``scored``
    holds (a frame, or the names of its columns), in the targets' order."""
    return [(spec.profile_kpi[0], spec.output_column)
            for spec in (TARGETS if targets is None else targets).values()
            if spec.profile_kpi is not None and spec.output_column in scored]


def with_predicted_rates(segmentation: Segmentation,
                         rates: list[tuple[str, dict[int, pd.Series]]]) -> Segmentation:
    """Each level's profile with its KPI columns replaced by ``rates``: (column, level -> mean
    score per segment id as text), computed here (:func:`profile_with_predictions`) or summed
    where the scores are; a suppressed segment's rate is NaN."""
    for column, by_level in rates:
        for level, profile in segmentation.profiles.items():
            rate = by_level[level].reindex(profile.index)
            rate[profile["suppressed"].to_numpy(dtype=bool)] = np.nan
            profile = profile.drop(columns=[column], errors="ignore")
            at = (profile.columns.get_loc("top_features") if "top_features" in profile
                  else len(profile.columns))
            profile.insert(at, column, rate.to_numpy())
            segmentation.profiles[level] = profile
    return segmentation


def drift_inputs(scored: pd.DataFrame, targets: Mapping[str, Target] | None = None,
                 ) -> dict[str, Any]:
    """The leaf and score columns of the scorer's output that drift is measured on
    (``targets``: the scorer's targets, whose output columns are the scores; None: the
    built-in ones).

    Both the stored reference and the retrain-time comparison read them from here, so they
    always compare the same columns.
    """
    registry = TARGETS if targets is None else targets
    score_columns = [t.output_column for t in registry.values() if t.output_column in scored]
    segments = scored["segment_leaf"] if "segment_leaf" in scored else None
    return {"segments": segments, "scores": scored[score_columns]}


def drift_reference(features: pd.DataFrame, scored: pd.DataFrame,
                    targets: Mapping[str, Target] | None = None) -> dict[str, Any]:
    """What the model remembers of its training population to measure drift at retrain time
    (``targets`` as in :func:`drift_inputs`)."""
    from segml.monitor.drift import DriftReference

    return DriftReference.fit(features, **drift_inputs(scored, targets)).to_dict()
