"""Where the predictors' matrices come from: the time plan, the feature settings, the current
matrix and each target's training, evaluation and refit sets (stage 3, no MLflow).

Example
-------
>>> from segml.config import SegmlConfig
>>> data = build_datasets(tables, SegmlConfig())        # doctest: +SKIP
>>> data.training_set("churn").X.shape                    # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from segml.config import ModelsConfig, SegmlConfig, TimeConfig
from segml.data.contract import Tables
from segml.features.timeline import is_among
from segml.targets import TARGETS, Target, targets_of

Progress = Callable[[str], None]


def no_progress(_: str) -> None:
    """The default progress callback: says nothing."""
    return None


#: One planned use of a matrix: (target, "train" | "evaluation" | "refit").
Use = tuple[str, str]


class FeatureFrames:
    """Feature matrices by cutoff, each built once and kept only for what its later uses need.

    Several targets share cutoffs (90-day churn evaluates where 30-day purchase trains; CLV and
    spend share all theirs), so a matrix is kept while a later use is planned. A use needs only
    the rows its sample drew (``rows_of``: the customer ids, or None for the whole matrix; a
    stack's sample, an evaluation's customers), so a matrix is built for the rows of its
    planned uses only, and between uses the cache keeps just the rows the later ones will take:
    at a million customers that is a few hundred thousand rows instead of a million per cutoff.
    """

    def __init__(self, tables: Tables, spec: Any, uses: dict[pd.Timestamp, list[Use]] | None = None,
                 rows_of: Callable[[Use, pd.Timestamp], pd.Index | None] | None = None):
        self.tables, self.spec = tables, spec
        self._uses = {cutoff: list(planned) for cutoff, planned in (uses or {}).items()}
        self._rows_of = rows_of or (lambda use, cutoff: None)
        self._frames: dict[pd.Timestamp, tuple[pd.DataFrame, bool]] = {}  # matrix, whole?
        self.seconds = 0.0  # spent building matrices (timed apart from the models)

    def __call__(self, cutoff: pd.Timestamp, use: Use | None = None) -> pd.DataFrame:
        from segml.features import build_features

        frame, whole = self._frames.get(cutoff, (None, False))
        planned = self._uses.get(cutoff, [])
        if frame is None or not (whole or use in planned):
            start = time.perf_counter()
            ids = self._rows_wanted(cutoff, use, planned)
            frame, whole = build_features(self.tables, cutoff, self.spec, ids=ids), ids is None
            self.seconds += time.perf_counter() - start
        if use in planned:
            planned.remove(use)
        elif planned:
            planned.pop(0)  # an unnamed use counts as the next planned one
        self._keep(cutoff, frame, whole, planned)
        return frame

    def _rows_wanted(self, cutoff: pd.Timestamp, use: Use | None,
                     planned: list[Use]) -> pd.Index | None:
        """The customers this use and the later planned ones take from the matrix at
        ``cutoff`` (None: every customer known then). A matrix is built for those alone: at a
        million customers a stack's sample or an evaluation's is a few hundred thousand rows."""
        if use is None or use not in planned:
            return None
        wanted = [self._rows_of(u, cutoff) for u in planned]
        if any(ids is None for ids in wanted):
            return None
        return wanted[0] if len(wanted) == 1 else wanted[0].append(wanted[1:]).unique()

    def _keep(self, cutoff: pd.Timestamp, frame: pd.DataFrame, whole: bool,
              later: list[Use]) -> None:
        if not later:
            self._frames.pop(cutoff, None)
            return
        rows = [self._rows_of(use, cutoff) for use in later]
        if any(r is None for r in rows):
            self._frames[cutoff] = (frame, whole)
            return
        # each use's ids looked up by hash (Arrow's for Arrow text: pandas makes a Python
        # string of every id) and the rows found marked: no union of the ids, no sort
        ids = pd.Series(frame.index, copy=False)
        keep = np.zeros(len(frame), dtype=bool)
        for wanted in rows:
            keep |= is_among(ids, wanted)
        self._frames[cutoff] = (frame.iloc[np.flatnonzero(keep)], False)


@dataclass
class Datasets:
    """Where the predictors' matrices come from, and the current ("now") feature matrix.

    Behavioural mode: the time plan (each target's cutoffs) and the feature matrices at them,
    built on demand (:meth:`training_set`, :meth:`evaluation_set`, :meth:`refit_set`). Attributes
    mode: the explicit labels of the customers in ``current_X``.

    Of the config it keeps the sections the sets are built with: ``time`` (label windows, the
    activity window), ``models`` (the targets and the row budgets) and the ``seed`` of the samples,
    and its targets: ``registry`` (:func:`segml.targets.targets_of`, name -> Target; the
    built-in ones by default), which :meth:`target` reads.
    """

    mode: str
    spec: Any
    data_end: pd.Timestamp | None
    current_X: pd.DataFrame
    tables: Tables | None = None
    time: TimeConfig = field(default_factory=TimeConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    seed: int = SegmlConfig.model_fields["seed"].default
    plan: Any = None
    labels: pd.DataFrame | None = None
    frames: FeatureFrames | None = None
    cutoffs: dict[str, Any] = field(default_factory=dict)
    registry: dict[str, Target] = field(default_factory=lambda: dict(TARGETS))
    #: Where the rows were processed: ``local`` (pandas) or ``spark`` (recorded on the run).
    engine: str = "local"
    #: The pass over every current customer on another engine, whose ``current_X`` then holds
    #: a bounded sample (:class:`segml.scale.spark_population.SparkPopulation`); None: the
    #: customers are ``current_X`` (:class:`segml.workflow.stages.LocalPopulation`).
    population: Any = None
    _samples: dict[Use, Any] = field(default_factory=dict, repr=False)
    _eval_labels: dict[str, pd.Series] = field(default_factory=dict, repr=False)

    @property
    def n_customers(self) -> int:
        """How many current customers the run scored (the rows of ``current_X``, or those
        counted where the population is)."""
        return len(self.current_X) if self.population is None else self.population.size

    def target(self, name: str) -> Target:
        """The :class:`~segml.targets.Target` called ``name`` in this run's registry (a
        ValueError naming the run's targets otherwise)."""
        try:
            return self.registry[name]
        except KeyError:
            raise ValueError(f"unknown target {name!r}; this run's targets: "
                             f"{list(self.registry)}") from None

    def targets(self) -> list[str]:
        """The configured targets this data can train, in config order."""
        configured = self.models.targets
        available = set(self.labels.columns) if self.labels is not None else set()
        if self.mode == "attributes":
            return [t for t in configured if self.target(t).label_column in available]
        # a column label (no horizon) is read as it stands, beside the planned targets
        return [t for t in configured if t in self.plan.targets
                or (not self.target(t).has_horizon and self.target(t).label_column in available)]

    def cross_validated(self, target: str) -> bool:
        """Whether ``target`` is cross-validated on the current matrix (attributes mode, or a
        column label without horizon) rather than planned over cutoffs."""
        return self.mode == "attributes" or not self.target(target).has_horizon

    def _sample(self, target: str, role: str):
        """The labels and sampled rows of ``target``'s ``role`` stack ("train" or "refit"),
        drawn once: the matrix cache asks for them before the stack is built."""
        from segml.features import stack_sample

        key = (target, role)
        if key not in self._samples:
            self._samples[key] = stack_sample(
                self.tables, getattr(self.plan.targets[target], role), self.time,
                self.target(target), self.max_rows(role), self.seed, self.plan.horizons)
        return self._samples[key]

    def max_rows(self, role: str) -> int | None:
        """The most rows a ``role`` stack holds: the evaluation fit (``"train"``) learns at most
        ``models.candidate_max_rows`` and its baselines learn the same rows, so stacking more
        would only be sampled away; the refit takes up to ``models.max_train_rows``."""
        models = self.models
        limits = [models.max_train_rows]
        if role == "train":
            limits.append(models.candidate_max_rows)
        given = [v for v in limits if v is not None]
        return min(given) if given else None

    def rows_of(self, use: Use, cutoff: pd.Timestamp) -> pd.Index | None:
        """The customers a planned use takes from the matrix at ``cutoff`` (None: all)."""
        target, role = use
        if role == "evaluation":  # drawn from the labels alone: a kept matrix holds those rows
            return self._evaluation_sample(target).index
        labels, picks = self._sample(target, role)
        position = list(getattr(self.plan.targets[target], role)).index(cutoff)
        return labels[position].index[picks[position]]

    def _stack(self, target: str, role: str):
        from segml.features import stack_training_set

        sample = self._sample(target, role)
        try:  # the matrix cache reads the sample's rows while the stack is built
            return stack_training_set(self.tables, getattr(self.plan.targets[target], role),
                                      self.spec, self.time, [self.target(target)],
                                      features=lambda cutoff: self.frames(cutoff, (target, role)),
                                      max_rows=self.max_rows(role), seed=self.seed,
                                      sample=sample, horizons=self.plan.horizons)
        finally:
            self._samples.pop((target, role), None)

    def training_set(self, target: str):
        """The stacked training cutoffs of ``target`` (features, labels, cutoff per row)."""
        return self._stack(target, "train")

    def refit_set(self, target: str):
        """The stacked refit cutoffs of ``target``: the freshest complete label windows."""
        return self._stack(target, "refit")

    def evaluation_set(self, target: str) -> tuple[pd.DataFrame, pd.Series]:
        """Features and labels of the customers ``target``'s out-of-time evaluation scores: the
        labelled customers at its evaluation cutoff, above ``models.max_eval_rows`` a seeded
        sample of them stratified by label (:func:`evaluation_rows`), in the matrix's order."""
        cutoff = self.plan.targets[target].evaluation
        X = self.frames(cutoff, (target, "evaluation"))
        label = self._evaluation_sample(target)
        del self._eval_labels[target]
        if X.index.equals(label.index):  # a matrix built for these customers alone
            return X.iloc[:], label  # a frame of its own, as below (the cache may hold X)
        found = X.index.get_indexer(label.index)
        X = X.iloc[np.sort(found[found >= 0])]
        return X, label.reindex(X.index)

    def features_at(self, cutoff: Any, spec: Any, ids: pd.Index | None = None) -> pd.DataFrame:
        """Features at ``cutoff`` with other settings (``spec``: e.g. the champion's), of at least
        the customers ``ids`` (None: everyone known then); a retrain scores its champion on them."""
        from segml.features import build_features

        return build_features(self.tables, cutoff, spec)

    def _evaluation_sample(self, target: str) -> pd.Series:
        """The labels of the customers ``target``'s evaluation scores, drawn once: the matrix
        cache asks for them before the evaluation matrix is built."""
        from segml.features import make_labels

        if target not in self._eval_labels:
            cutoff = self.plan.targets[target].evaluation
            spec = self.target(target)
            label = make_labels(self.tables, cutoff, self.time, [spec],
                                self.plan.horizons)[spec.label_column]
            self._eval_labels[target] = label.iloc[evaluation_rows(
                label, self.models.max_eval_rows, self.seed, cutoff)]
        return self._eval_labels[target]


def evaluation_rows(label: pd.Series, max_rows: int | None, seed: int,
                    cutoff: object = None) -> np.ndarray:
    """Positions of the labelled evaluation rows the model and its baselines are scored on:
    all of them, or above ``max_rows`` a seeded sample stratified by label (positive or not),
    so the label rate is kept and a million customers do not cost a million predictions per
    baseline for a metric whose standard error is already about 0.001. The random keys are
    hashes of the customer ids (``label``'s index) at ``cutoff``
    (:func:`segml.sampling.hash_keys`): Spark draws the same customers.

    Example
    -------
    >>> y = pd.Series([1.0, None, 0.0, 0.0] * 1000)
    >>> rows = evaluation_rows(y, 1500, seed=0)
    >>> rows.size, float(y.iloc[rows].mean()), bool(y.iloc[rows].notna().all())
    (1500, 0.3333333333333333, True)
    """
    from segml.sampling import sample_context, stratified_sample

    known = np.flatnonzero(label.notna().to_numpy())
    if max_rows is None or known.size <= max_rows:
        return known
    strata = (label.to_numpy(dtype=float)[known] > 0).astype(np.int64)
    return known[stratified_sample(max_rows, strata, seed, ids=label.index[known],
                                   context=sample_context("evaluation", cutoff))]


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
    from segml.features.events import sort_events
    from segml.features.plan import TimePlan, plan_targets, resolve_cutoff
    from segml.features.threads import beside
    from segml.features.timeline import data_end as end_of_data

    registry = targets_of(config)  # the run's targets, handed to every stage that needs one
    if tables.mode == "attributes":
        spec = FeatureSpec.fit(tables, None, config)
        X = build_features(tables, None, spec)
        Y = make_labels(tables, None, config.time,
                        [t for n, t in registry.items() if n in tables.label_columns] or None)
        return Datasets("attributes", spec, None, X, tables, config.time, config.models,
                        config.seed, labels=Y, registry=registry)
    start = data_start(tables)
    timed = [registry[t] for t in config.models.targets if registry[t].has_horizon]
    read = [registry[t] for t in config.models.targets if not registry[t].has_horizon]
    if timed:
        plan = plan_targets(end_of_data(tables), config.time, timed, start=start,
                            min_history_days=config.readiness.min_history_days)
    else:  # only column labels: nothing to plan, the features are those of the data end
        plan = TimePlan(resolve_cutoff(config.time, end_of_data(tables), data_start=start),
                        start, {})
    sort = (None if tables.events is None
            else partial(sort_events, tables.customers, tables.events))
    with beside(sort, len(tables.events) if tables.events is not None else 0):
        spec = FeatureSpec.fit(tables, plan.spec_cutoff, config)
    uses: dict[pd.Timestamp, list[Use]] = {}
    for target, target_plan in plan.targets.items():
        for role, cutoffs in (("train", target_plan.train), ("evaluation", [target_plan.evaluation]),
                              ("refit", target_plan.refit)):
            for cutoff in cutoffs:
                uses.setdefault(cutoff, []).append((target, role))
    current_X = build_features(tables, plan.scoring, spec)
    labels = make_labels(tables, None, config.time, read) if read else None
    data = Datasets("behavioural", spec, plan.scoring, current_X, tables, config.time,
                    config.models, config.seed, plan=plan, labels=labels,
                    cutoffs=plan.to_dict(), registry=registry)
    data.frames = FeatureFrames(tables, spec, uses, rows_of=data.rows_of)
    return data


__all__ = ["Datasets", "FeatureFrames", "Progress", "Use", "build_datasets", "evaluation_rows",
           "no_progress"]
