"""The population pass of a Spark train: every current customer placed, profiled and scored on
the executors; the driver gets a bounded sample, the models and per-segment aggregates.

A single-machine run holds every current customer's features (``current_X``) and reads them
whole to fit the segments, profile them, score every customer and learn what the model keeps of
its training population. On Spark the feature rows at the scoring cutoff stay a persisted
DataFrame, and :class:`SparkPopulation` offers what :class:`segml.workflow.stages.LocalPopulation`
offers, computed there:

* the discovery sample (``segments.discovery_max_rows`` customers with the smallest
  :func:`segml.sampling.hash_keys` in the ``discovery`` context, the customers one machine
  takes: :func:`segml.sampling.discovery_rows`) is collected; the rule edges and the hierarchy
  are fitted on it by the single-machine code;
* every customer is placed on the executors and the profiles are finished from additive
  statistics per finest segment (:class:`segml.segments.statistics.SegmentStatistics`, one per
  partition, summed on the driver: :func:`segml.segments.profiles.profile_hierarchy_from`);
  a retrain's segment match reads the customers per (previous leaf, new leaf) pair
  (:func:`segml.segments.stability.match_overlap`);
* every customer is scored by the fitted scorer, shipped to the executors in the closure (no
  registered model is needed); the scores stay a persisted DataFrame;
* the quantiles and order statistics the single-machine code takes with NumPy (the predictive
  grid's cut points, the registered thresholds of the audience curves, the drift bin edges of
  features and scores, the scorer's example medians) are Spark SQL ``percentile``, exact and
  with NumPy's linear interpolation;
* the mean predicted rate per segment, the drift reference's bin counts and segment shares, and
  a retrain's drift comparison are sums over partitions.

Checked against a local train by ``tests/scale/test_spark_training.py`` (docs/spark.md,
"Training on Spark").

Example
-------
>>> population = SparkPopulation.build(features, spec, config, cutoff,
...                                   text_ids=True)                    # doctest: +SKIP
>>> population.size, len(population.sample) <= config.segments.discovery_max_rows  # doctest: +SKIP
(1000000, True)
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segml.config import SegmentsConfig, SegmlConfig
from segml.sampling import hash_keys, sample_context
from segml.scale.spark_features import for_arrow
from segml.scale.spark_scoring import user_errors_from_executors

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

#: A customer's position in the customers table (file, then row): the single-machine order.
POSITION = "_segml_position"
_KEY = "_segml_key"
_PAYLOAD = "kind string, payload binary"
_MISSING = "__missing__"  # a missing categorical value's level in a drift reference
#: The drift reference's bins (segml.monitor.drift.DriftReference.fit, 10 bins): the deciles of
#: a feature or a score, or fixed tenths for a score within [0, 1].
_DECILES = np.linspace(0, 1, 11)[1:-1].tolist()
_UNIT_EDGES = np.linspace(0, 1, 11)[1:-1]


# ------------------------------------------------------------------------------ rows
def local_frame(rows: pd.DataFrame, spec: Any, text_ids: bool, *, order: bool = True
                ) -> pd.DataFrame:
    """Feature rows from Spark as :func:`segml.features.build_features` returns them: indexed
    by ``customer_id``, floats and the spec's categories; with ``order``, in the customers
    table's order (by position, else by id), else in the rows' own order."""
    if order:
        if POSITION in rows and rows[POSITION].notna().all():
            rows = rows.sort_values(POSITION, kind="stable")
        else:
            rows = rows.sort_values("customer_id", kind="stable")
    ids = rows["customer_id"].to_numpy()
    index = pd.Index(ids.astype(object), dtype="str", name="customer_id") if text_ids else \
        pd.Index(ids, name="customer_id")
    cats = set(spec.categorical_features)
    numeric = [n for n in spec.feature_names if n not in cats]
    X = pd.DataFrame(rows[numeric].to_numpy(dtype="float64", na_value=np.nan), index=index,
                     columns=numeric)
    for loc, name in enumerate(spec.feature_names):
        if name in cats:
            dtype = pd.CategoricalDtype(pd.Index(spec.attribute_levels[name], dtype="str"))
            values = pd.Series(rows[name].to_numpy(dtype=object), index=index)
            X.insert(loc, name, values.astype(dtype))
    return X


def _missing_as_null(name: str) -> Column:
    """A double column with NaN read as missing (null): Spark's aggregates skip nulls, while
    NaN sorts above every number."""
    from pyspark.sql import functions as F

    column = F.col(f"`{name}`")
    return F.when(F.isnan(column), F.lit(None)).otherwise(column)


def _finite(name: str) -> Column:
    """A double column with NaN and infinities as null (``np.isfinite``)."""
    from pyspark.sql import functions as F

    column = F.col(f"`{name}`")
    bad = F.isnan(column) | (F.abs(column) == float("inf"))
    return F.when(bad, F.lit(None)).otherwise(column)


def _quantiles(frame: DataFrame, columns: Mapping[str, Column], qs: list[float], *,
               per_job: int = 8) -> dict[str, np.ndarray | None]:
    """Per column, the exact quantiles ``qs`` of its non-null values with NumPy's default
    (linear) interpolation (Spark SQL ``percentile``), None for a column without values.

    An exact percentile holds every distinct value of its column in one task, so ``per_job``
    columns are aggregated per job: a handful of continuous features of millions of customers,
    never all of them at once."""
    from pyspark.sql import functions as F

    names = list(columns)
    out: dict[str, np.ndarray | None] = {}
    for start in range(0, len(names), per_job):
        chunk = names[start:start + per_job]
        row = frame.agg(*[F.percentile(columns[name], [float(q) for q in qs]).alias(f"q{i}")
                          for i, name in enumerate(chunk)]).first()
        out |= {name: None if row[f"q{i}"] is None else np.asarray(row[f"q{i}"],
                                                                    dtype=np.float64)
                for i, name in enumerate(chunk)}
    return out


def _payloads(frame: DataFrame, func: Callable[[pd.DataFrame], Iterator[tuple[str, Any]]]
              ) -> Iterator[tuple[str, Any]]:
    """Run ``func`` on each batch of rows (a pandas frame) and collect what it yields, (kind,
    picklable object) pairs: a few per batch of 10,000 customers, never rows."""

    def per_batch(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for rows in batches:  # Arrow batches of at most 10,000 rows: a worker holds one
            if not len(rows):
                continue
            found = [(kind, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
                     for kind, value in func(rows)]
            yield pd.DataFrame({"kind": [k for k, _ in found], "payload": [p for _, p in found]})

    with user_errors_from_executors():
        collected = frame.mapInPandas(per_batch, _PAYLOAD).collect()
    for row in collected:
        yield row["kind"], pickle.loads(row["payload"])


# ------------------------------------------------------------------------------ the population
@dataclass
class SparkPopulation:
    """Every current customer's feature rows, persisted on Spark, with the discovery
    ``sample`` on the driver (see the module docstring). ``size``: the customers counted."""

    features: DataFrame
    spec: Any
    text_ids: bool
    cutoff: pd.Timestamp
    size: int
    sample: pd.DataFrame
    #: The scored customers (features, segments and scores), persisted once :meth:`score` ran.
    scored: DataFrame | None = field(default=None, repr=False)
    #: Each numeric feature's deciles over every customer, once computed.
    deciles: dict[str, np.ndarray | None] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, features: DataFrame, spec: Any, config: SegmlConfig, cutoff: pd.Timestamp,
              *, text_ids: bool) -> SparkPopulation:
        """Persist ``features`` (``customer_id``, the features, the position), count them and
        collect the discovery sample (:func:`segml.sampling.discovery_rows`, on Spark)."""
        from pyspark import StorageLevel

        persisted = features.persist(StorageLevel.MEMORY_AND_DISK)
        with user_errors_from_executors():
            size = persisted.count()
            cap = config.segments.discovery_max_rows
            if cap is None or size <= cap:
                rows = persisted.toPandas()
            else:
                context = sample_context("discovery", cutoff)
                rows = (_keyed(persisted, config.seed, context).orderBy(_KEY).limit(cap)
                        .drop(_KEY).toPandas())
        return cls(persisted, spec, text_ids, cutoff, size, local_frame(rows, spec, text_ids))

    def frame_of(self) -> Callable[[pd.DataFrame], pd.DataFrame]:
        """A partition's rows -> a feature frame in the partition's order; the function holds
        the feature settings only (it is shipped to the executors, the DataFrames are not)."""
        return partial(local_frame, spec=self.spec, text_ids=self.text_ids, order=False)

    # -------------------------------------------------------------------------- the scorer
    def _deciles(self) -> dict[str, np.ndarray | None]:
        """Each numeric feature's deciles over every customer (NaN skipped), one exact Spark
        job kept for the medians and the drift reference's bin edges."""
        if self.deciles is None:
            cats = set(self.spec.categorical_features)
            numeric = [c for c in self.sample.columns if c not in cats]
            self.deciles = _quantiles(self.features, {c: _missing_as_null(c) for c in numeric},
                                      _DECILES)
        return self.deciles

    def medians(self) -> pd.Series:
        """Each numeric feature's median over every customer (``DataFrame.median``: NaN
        skipped), exact on Spark (the fifth decile)."""
        middle = _DECILES.index(0.5)
        return pd.Series({c: np.nan if v is None else float(v[middle])
                          for c, v in self._deciles().items()}, dtype="float64")

    # -------------------------------------------------------------------------- segments
    def discover(self, segments: SegmentsConfig, seed: int,
                 previous_hierarchy: Any = None) -> Any:
        """:meth:`segml.workflow.stages.LocalPopulation.discover` on Spark: the models fitted on
        the sample, every customer placed and profiled on the executors; ``assignments`` and
        ``rule_segments`` are the sample's."""
        from segml.segments import name_hierarchy
        from segml.segments.stability import match_overlap
        from segml.workflow.stages import Segmentation, fit_segment_models

        sample = self.sample
        rules, hierarchy = fit_segment_models(sample, segments, seed)
        profiles = self._profiles(rules, hierarchy, segments)
        names = name_hierarchy(profiles)  # a child's name refines its parent's
        hierarchy.set_names(names)
        rule_segments = rules.transform(sample)
        assignments = hierarchy.assign(sample, rule_segments=rule_segments)
        segmentation = Segmentation(hierarchy, rules, hierarchy.with_names(assignments),
                                    rule_segments, profiles, names, discovery_ids=sample.index)
        if previous_hierarchy is None:
            return segmentation
        match = match_overlap(previous_hierarchy, hierarchy,
                              self._overlap(previous_hierarchy, hierarchy))
        matched = match.hierarchy
        return replace(segmentation, hierarchy=matched,
                       assignments=matched.assign(sample, rule_segments=rule_segments),
                       profiles=self._profiles(rules, matched, segments),
                       names=dict(matched.names_), stability=match.stability,
                       migration=match.migration)

    def _profiles(self, rules: Any, hierarchy: Any, segments: SegmentsConfig
                  ) -> dict[int, pd.DataFrame]:
        """Every level's profile of every customer: statistics per finest segment on each
        partition, summed, then finished as one machine profiles
        (:func:`~segml.segments.profiles.profile_hierarchy_from`); near copies of features are
        found on the sample."""
        from segml.segments.profiles import near_copies, profile_hierarchy_from
        from segml.segments.statistics import SegmentStatistics, frame_means

        shift = frame_means(self.sample)  # one centre for every partition's sums
        frame_of = self.frame_of()

        def statistics(rows: pd.DataFrame) -> Iterator[tuple[str, Any]]:
            X = frame_of(rows)
            placed = hierarchy.assign(X, rule_segments=rules.transform(X))
            levels = sorted((c for c in placed.columns if c.startswith("segment_level_")),
                            key=lambda c: int(c.rsplit("_", 1)[1]))
            cells = placed[levels[-1]].astype(str).to_numpy()
            yield "statistics", SegmentStatistics.of(X, cells, shift)
            yield "levels", placed[levels].astype(str).drop_duplicates().set_index(
                levels[-1], drop=False).rename_axis("cell")

        stats, tables = [], []
        for kind, value in _payloads(self.features, statistics):
            (stats if kind == "statistics" else tables).append(value)
        cell_levels = pd.concat(tables)
        cell_levels = cell_levels[~cell_levels.index.duplicated()].sort_index()
        return profile_hierarchy_from(sum(stats), cell_levels, near_copies(self.sample),
                                      min_profile_size=segments.min_profile_size)

    def _overlap(self, previous: Any, new: Any) -> pd.DataFrame:
        """Customers per (previous leaf position, new leaf position), summed over partitions
        (:func:`segml.segments.stability.leaf_overlap` of every customer)."""
        from segml.segments.stability import leaf_overlap

        frame_of = self.frame_of()

        def overlap(rows: pd.DataFrame) -> Iterator[tuple[str, Any]]:
            yield "overlap", leaf_overlap(previous, new, frame_of(rows))

        parts = [value for _, value in _payloads(self.features, overlap)]
        return (pd.concat(parts).groupby(["previous", "new"], sort=True)["customers"].sum()
                .reset_index())

    # -------------------------------------------------------------------------- scores
    def score(self, scorer: Any, segmentation: Any, predictions: Any, config: SegmlConfig,
              stage: Callable[[str], AbstractContextManager[Any]]) -> Any:
        """:meth:`segml.workflow.stages.LocalPopulation.score` on Spark: every customer scored
        there; the grid's cut points and the registered thresholds are exact Spark quantiles;
        ``current_scores`` are the sample's scores (the report's grid reads them)."""
        from segml.workflow.stages import rate_columns, with_predicted_rates
        from segml.workflow.targeting import fit_targeting

        targets = scorer.targets()
        with stage("scoring"):
            before = set(self.features.columns)
            scored = self._score(scorer)
            kept = [c for c in scored.columns if c not in before]
            sample = scorer.score(self.sample, segments=segmentation.assignments
                                  ).set_index("customer_id")

            def quantile(column: str, qs: list[float]) -> np.ndarray | None:
                return _quantiles(scored, {column: _finite(column)}, qs)[column]

            def registered(curve: dict[str, Any], column: str) -> dict[str, Any]:
                return _with_registered_scores(scored, curve, column)

            sample = fit_targeting(scorer, sample, predictions, config, columns=kept,
                                   quantile=quantile, registered=registered)
        with stage("profiles"):
            segmentation = with_predicted_rates(segmentation, self._rates(
                rate_columns(kept, targets), list(segmentation.profiles)))
        with stage("drift_reference"):
            scorer.metadata["drift_reference"] = self._drift_reference(targets).to_dict()
        return replace(segmentation, current_scores=sample,
                       predictive_grid=scorer.predictive_grid,
                       audience_curves=scorer.audience_curves,
                       population_counts=self._counts(scorer.hierarchy.depth_))

    def _counts(self, depth: int) -> pd.DataFrame:
        """Customers per leaf, level paths and noise flag over every scored customer
        (:meth:`segml.workflow.stages.Segmentation.counts`)."""
        keys = ["segment_leaf", *[f"segment_level_{k}" for k in range(1, depth + 1)],
                "segment_is_noise"]
        counts = self.scored.groupBy(*keys).count().toPandas()
        counts = counts.rename(columns={"count": "customers"}).sort_values(keys, kind="stable")
        return counts.astype({"customers": "int64"}).reset_index(drop=True)

    def _score(self, scorer: Any) -> DataFrame:
        """Every customer's features with the scorer's segments (leaf and levels) and scores,
        computed on the executors and persisted (the features are then unpersisted)."""
        from pyspark import StorageLevel
        from pyspark.sql.types import (
            BooleanType,
            DoubleType,
            LongType,
            StringType,
            StructField,
            StructType,
        )

        score_columns = [spec.output_column for name, spec in scorer.targets().items()
                         if name in scorer.predictors]
        levels = [f"segment_level_{k}" for k in range(1, scorer.hierarchy.depth_ + 1)]
        schema = StructType([*self.features.schema.fields,
                             StructField("segment_leaf", LongType()),
                             StructField("segment_is_noise", BooleanType()),
                             *[StructField(c, StringType()) for c in levels],
                             *[StructField(c, DoubleType()) for c in score_columns]])
        frame_of = self.frame_of()

        def scores(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            for rows in batches:
                out = scorer.score(frame_of(rows))
                extra = {"segment_leaf": out["segment_leaf"].to_numpy(dtype=np.int64),
                         "segment_is_noise": out["segment_is_noise"].to_numpy(dtype=bool)}
                extra |= {c: out[c].astype(object).to_numpy() for c in levels}
                extra |= {c: out[c].to_numpy(dtype=np.float64) for c in score_columns}
                yield for_arrow(rows.reset_index(drop=True).assign(**extra))

        with user_errors_from_executors():
            self.scored = self.features.mapInPandas(scores, schema).persist(
                StorageLevel.MEMORY_AND_DISK)
            self.scored.count()
        self.features.unpersist()
        self.features = self.scored  # the features are kept beside the scores
        return self.scored

    def _rates(self, columns: list[tuple[str, str]], levels: list[int]
               ) -> list[tuple[str, dict[int, pd.Series]]]:
        """Per (profile KPI, score column), the mean score per segment at every level (NaN
        skipped, as pandas' mean)."""
        from pyspark.sql import functions as F

        out: list[tuple[str, dict[int, pd.Series]]] = [(kpi, {}) for kpi, _ in columns]
        if not columns:
            return out
        for level in levels:  # one job per level for every score
            name = f"segment_level_{level}"
            rows = self.scored.groupBy(name).agg(*[
                F.avg(_missing_as_null(score)).alias(f"m{i}")
                for i, (_, score) in enumerate(columns)]).toPandas()
            index = rows[name].astype(str).to_numpy()
            for i, (_, by_level) in enumerate(out):
                by_level[level] = pd.Series(
                    rows[f"m{i}"].to_numpy(dtype=np.float64, na_value=np.nan), index=index)
        return out

    # -------------------------------------------------------------------------- drift
    def _drift_reference(self, targets: Mapping[str, Any]) -> Any:
        """:meth:`segml.monitor.drift.DriftReference.fit` of every scored customer (features,
        leaf shares, scores): the bin edges are exact Spark quantiles, the shares summed bin
        counts (:meth:`~segml.monitor.drift.DriftReference.from_statistics`)."""
        from segml.monitor.drift import DriftReference

        edges = {c: np.unique(v) if v is not None else np.array([])
                 for c, v in self._deciles().items()}
        scores = self._score_columns(targets)
        within = self._within_unit(scores)
        moving = [c for c in scores if not within[c]]
        found = _quantiles(self.scored, {c: _missing_as_null(c) for c in moving}, _DECILES)
        score_edges = {c: _UNIT_EDGES if within[c] else
                       np.unique(found[c]) if found[c] is not None else np.array([])
                       for c in scores}
        stats = self._statistics(edges, score_edges)
        return DriftReference.from_statistics(stats, edges, score_edges,
                                              segments={c: c for c in stats.cells})

    def _score_columns(self, targets: Mapping[str, Any]) -> list[str]:
        """The score columns drift is measured on (:func:`segml.workflow.stages.drift_inputs`)."""
        return [t.output_column for t in targets.values() if t.output_column in self.scored.columns]

    def _within_unit(self, scores: list[str]) -> dict[str, bool]:
        """Whether every value of each score column lies in [0, 1] (a missing one does not),
        as ``Series.between(0, 1).all()``."""
        from pyspark.sql import functions as F

        if not scores:
            return {}
        row = self.scored.agg(*[
            F.min(F.when(F.col(f"`{c}`").between(0, 1) & ~F.isnan(F.col(f"`{c}`")), 1)
                  .otherwise(0)).alias(f"w{i}") for i, c in enumerate(scores)]).first()
        return {c: row[f"w{i}"] in (None, 1) for i, c in enumerate(scores)}

    def _statistics(self, edges: Mapping[str, np.ndarray],
                    score_edges: Mapping[str, np.ndarray]) -> Any:
        """:class:`~segml.segments.statistics.SegmentStatistics` of every scored customer per
        leaf (``segment_leaf`` as text), with the drift bin counts at ``edges`` and
        ``score_edges``, summed over partitions."""
        from segml.segments.statistics import SegmentStatistics

        shift = {c: 0.0 for c in self.sample.columns}  # only bins, levels and counts are read
        frame_of = self.frame_of()
        scores = list(score_edges)

        def statistics(rows: pd.DataFrame) -> Iterator[tuple[str, Any]]:
            yield "statistics", SegmentStatistics.of(
                frame_of(rows), rows["segment_leaf"].astype(str).to_numpy(), shift, edges=edges,
                scores=rows[scores].astype("float64").reset_index(drop=True),
                score_edges=score_edges)

        return sum(value for _, value in _payloads(self.scored, statistics))

    def drift(self, reference: Any, segmentation: Any, scorer: Any, psi_warn: float
              ) -> dict[str, Any]:
        """:func:`~segml.monitor.drift.drift_summary` of every scored customer against
        ``reference`` (a champion's), from bin and level counts at the reference's edges and
        levels summed over partitions."""
        scores = [c for c in self._score_columns(scorer.targets()) if c in reference.score_edges]
        edges = {c: np.asarray(e, dtype=float) for c, e in reference.numeric_edges.items()
                 if c in self.sample.columns and c not in set(self.spec.categorical_features)}
        stats = self._statistics(edges, {c: np.asarray(reference.score_edges[c], dtype=float)
                                         for c in scores})
        return drift_summary_of(reference, stats, psi_warn=psi_warn)

    def release(self) -> None:
        """Unpersist the customers' rows."""
        self.features.unpersist()
        if self.scored is not None:
            self.scored.unpersist()


def drift_summary_of(reference: Any, stats: Any, *, psi_warn: float = 0.25) -> dict[str, Any]:
    """:func:`segml.monitor.drift.drift_summary` from the new customers' statistics
    (:class:`~segml.segments.statistics.SegmentStatistics` per leaf as text, with bin counts at
    the reference's edges) instead of their rows: the same shares, PSIs and shifts."""
    from segml.monitor.drift import psi

    n = stats.customers
    found: dict[str, float] = {}
    for column in reference.numeric_edges:
        if column in stats.bins:
            found[column] = psi(reference.numeric_shares[column], stats.bins[column] / max(n, 1))
    for column, levels in reference.categorical_levels.items():
        if column in stats.levels:
            counts, missing = stats.level_totals(column)
            if missing:
                counts[_MISSING] = counts.get(_MISSING, 0) + missing
            known = np.array([counts.get(level, 0) for level in levels], dtype=float)
            shares = np.append(known, n - known.sum()) / max(n, 1)
            found[column] = psi(reference.categorical_shares[column], shares)
    feature_psi = pd.Series(found, dtype=float).sort_values(ascending=False)
    summary: dict[str, Any] = {
        "feature_psi": feature_psi.round(4).to_dict(),
        "drift_psi_max": float(feature_psi.max()) if len(feature_psi) else 0.0,
        "drifted_features": feature_psi[feature_psi > psi_warn].index.tolist(),
    }
    if reference.segment_shares:
        new = pd.Series(stats.count / max(n, 1), index=[str(c) for c in stats.cells])
        keys = sorted(set(reference.segment_shares) | set(new.index))
        shift = pd.DataFrame({"reference_share": [reference.segment_shares.get(k, 0.0)
                                                  for k in keys],
                              "new_share": [float(new.get(k, 0.0)) for k in keys]},
                             index=pd.Index(keys, name="segment"))
        shift["abs_change"] = (shift["new_share"] - shift["reference_share"]).abs()
        shift = shift.sort_values("abs_change", ascending=False)
        summary["segment_share_max_change"] = float(shift["abs_change"].max())
        summary["segment_psi"] = psi(shift["reference_share"], shift["new_share"])
    if reference.score_edges:
        summary["score_psi"] = pd.Series({
            column: psi(reference.score_shares[column], stats.score_bins[column] / max(n, 1))
            for column in reference.score_edges if column in stats.score_bins},
            dtype=float).round(4).to_dict()
    return summary


def _keyed(frame: DataFrame, seed: int, context: str) -> DataFrame:
    """``frame`` with ``_segml_key``: :func:`hash_keys` of each customer id in ``context``,
    computed by the single-machine function on the executors."""
    from pyspark.sql.types import LongType, StructField, StructType

    schema = StructType([*frame.schema.fields, StructField(_KEY, LongType(), False)])

    def add_keys(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            yield batch.assign(**{_KEY: hash_keys(batch["customer_id"].to_numpy(), seed,
                                                  context)})

    return frame.mapInPandas(add_keys, schema)


def _with_registered_scores(scored: DataFrame, curve: dict[str, Any], column: str
                            ) -> dict[str, Any]:
    """:func:`segml.predict.operating.with_registered_scores` of ``column``'s scores on Spark:
    the order statistics at :func:`~segml.predict.operating.registered_ranks` as exact
    quantiles (rank ``r`` of ``n`` from the top is the quantile ``(n - 1 - r) / (n - 1)``)."""
    from pyspark.sql import functions as F

    from segml.predict.operating import registered_ranks

    values = _missing_as_null(column)
    n = int(scored.agg(F.count(values)).first()[0])
    if n == 0:
        return dict(curve)
    ranks = registered_ranks(curve, n)
    qs = [float((n - 1 - r) / (n - 1)) if n > 1 else 0.0 for r in ranks]
    found = _quantiles(scored, {column: values}, sorted(set(qs)))[column]
    at = dict(zip(sorted(set(qs)), found.tolist(), strict=True))
    return {**curve, "registered_threshold": [float(at[q]) for q in qs]}


__all__ = ["POSITION", "SparkPopulation", "drift_summary_of", "local_frame"]
