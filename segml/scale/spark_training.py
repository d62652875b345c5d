"""Training on Apache Spark: the rows stay on Spark, the models are fitted on the driver.

``segml train --engine spark`` and ``segml retrain --engine spark`` run the single-machine
tracked run (:func:`segml.workflow.train.train`, :func:`segml.workflow.retrain.retrain`) on a
:class:`SparkSource` instead of loaded tables. The source builds the same
:class:`~segml.workflow.datasets.Datasets` the stages consume, with Spark doing what grows with
the customers:

* the data's first and last timestamps (the time plan) and the feature settings
  (:func:`~segml.scale.spark_features.fit_feature_spec_spark`) are Spark aggregates;
* the labels at every cutoff of every target's plan are built on Spark
  (:func:`~segml.scale.spark_labels.build_labels_spark`);
* the seeded stratified samples (``models.candidate_max_rows``, ``max_train_rows``,
  ``max_eval_rows``) are drawn on Spark: the strata are counted there, the quotas computed on the
  driver with the single-machine formula (:func:`segml.sampling.quotas`), and in each stratum
  the customers with the smallest :func:`segml.sampling.hash_keys` are kept, the keys the
  single-machine draw uses, computed by the same function on the executors;
* the features of the sampled customers only are built on Spark
  (:func:`~segml.scale.spark_features.build_features_spark` on the tables cut to those
  customers) and collected;
* the features of every customer at the scoring cutoff stay on Spark: a
  :class:`~segml.scale.spark_population.SparkPopulation` (the datasets' ``population``) collects
  the discovery sample (``segments.discovery_max_rows`` customers, keyed as on one machine),
  which is the datasets' ``current_X``, and places, profiles and scores every customer on the
  executors for the segments, the scorer, the targeting and the drift reference.

The collected rows are put in the order of the customers table (file, then row), the order the
single-machine run reads them in, so the driver's fit, calibration and evaluation see the same
rows in the same order and give the same models. The driver holds samples, models and
per-segment aggregates, nothing with one row per customer. What differs from one machine: the
run's current scores, segment assignments and report explanations cover the discovery sample;
the validation warnings that need a whole table are not computed (each partition is validated,
an error fails the job); the tables' content hashes are Spark aggregates (docs/spark.md,
"Training on Spark").

Example
-------
>>> source = SparkSource.read(spark, "lake/customers_2026_11", config)  # doctest: +SKIP
>>> result = train(config, tables=source)                               # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segml.config import SegmlConfig
from segml.errors import DataError, Problem, SegmlError
from segml.features.timeline import as_cutoff
from segml.sampling import hash_keys, quotas, sample_context
from segml.scale.spark_features import (
    SparkTables,
    build_features_spark,
    data_end_spark,
    data_start_spark,
    default_buckets,
    fit_feature_spec_spark,
    used_columns,
)
from segml.scale.spark_population import POSITION, SparkPopulation, local_frame
from segml.targets import targets_of
from segml.workflow.datasets import Datasets

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

ENGINE = "spark"
_FILE_BITS = 40  # rows per file below 2**40: the position is (file, row) in one long


# ------------------------------------------------------------------------------ the session
def spark_session(master: str | None = None) -> SparkSession:
    """The active Spark session (under ``spark-submit``), else a new one on ``master``
    (default ``local[2]``); a missing pyspark or a master Spark cannot start is a user error."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SegmlError([Problem("--engine spark needs pyspark: install the scale extra "
                                  "(make install-scale, or pip install 'segml[scale]')",
                                  key="engine")]) from None
    from segml.scale.spark_features import local_spark

    if master is not None and not _MASTER.fullmatch(master):
        # refused before a JVM starts: Spark's launcher would print a Java stack trace
        raise SegmlError([Problem(f"--spark-master {master!r} is not a Spark master URL (local, "
                                  "local[N], local[*], spark://HOST:PORT, yarn, k8s://URL)",
                                  key="spark-master")])
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    try:
        return local_spark(master=master)
    except Exception as exc:  # the JVM's reason, on one line
        text = str(exc).strip()
        found = re.search(r"(?:Exception|Error): (.+)", text)
        reason = (found.group(1) if found else text.splitlines()[0] if text
                  else type(exc).__name__)[:300]
        raise SegmlError([Problem(f"could not start Spark on master {master or 'local[2]'!r}: "
                                  f"{reason}", key="spark-master")]) from None


_MASTER = re.compile(r"local(\[(\d+|\*)(,\s*\d+)?\])?|local-cluster\[\d+,\s*\d+,\s*\d+\]"
                     r"|spark://[^\s]+|yarn|k8s://[^\s]+|mesos://[^\s]+")


# ------------------------------------------------------------------------------ the source
def customer_positions(spark: SparkSession, customers: DataFrame, path: Path | None,
                       id_column: str) -> DataFrame:
    """``customer_id`` and its position in the customers table as one machine reads it: the
    Parquet file (in name order) then the row in the file. Without a file (a catalog table
    handed in) the position is null and the rows are put in id order."""
    from pyspark.sql import functions as F

    ident = F.col(f"`{id_column}`").alias("customer_id")
    if path is None:
        return customers.select(ident, F.lit(None).cast("long").alias(POSITION))
    meta = spark.read.parquet(str(path)).select(
        ident, F.col("_metadata.file_path").alias("_file"),
        F.col("_metadata.row_index").alias("_row"))
    files = sorted(row[0] for row in meta.select("_file").distinct().collect())
    number = F.create_map(*[F.lit(v) for i, name in enumerate(files) for v in (name, i)])
    return meta.select("customer_id", (number[F.col("_file")].cast("long") * (1 << _FILE_BITS)
                                       + F.col("_row")).alias(POSITION))


def spark_fingerprint(frame: DataFrame | None, columns: list[str],
                      timestamp: str | None = None) -> dict[str, Any]:
    """Row count, date range and a content hash of a Spark table, like
    :func:`segml.data.io.fingerprint` (the hash is another one: the sum of Spark's per-row
    ``xxhash64`` of the used columns, which no row order changes)."""
    from pyspark.sql import functions as F

    if frame is None:
        return {"rows": 0}
    cols = [F.col(f"`{c}`") for c in columns]
    aggs = [F.count(F.lit(1)).alias("rows"),
            F.sum(F.xxhash64(*cols).cast("decimal(38,0)")).alias("hash")]
    if timestamp is not None:
        stamp = F.col(f"`{timestamp}`").cast("timestamp")
        aggs += [F.min(stamp).alias("first"), F.max(stamp).alias("last")]
    row = frame.agg(*aggs).first()
    digest = hashlib.sha256(f"{row['hash']}|{'|'.join(columns)}".encode()).hexdigest()[:16]
    out: dict[str, Any] = {"rows": int(row["rows"]), "columns": len(columns), "sha256": digest,
                           "hash": "spark xxhash64 row sum"}
    if timestamp is not None and row["rows"]:
        out["min_timestamp"] = str(pd.Timestamp(row["first"]))
        out["max_timestamp"] = str(pd.Timestamp(row["last"]))
    return out


@dataclass
class SparkSource:
    """The training tables on Spark, standing where the tracked run takes loaded
    :class:`~segml.data.contract.Tables`: it gives the run its fingerprints
    (:meth:`fingerprints`) and its datasets (:meth:`build_datasets`), and says where the data
    came from (``sources``). Behavioural mode only (a transactions table)."""

    tables: SparkTables
    config: SegmlConfig
    positions: DataFrame
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    n_buckets: int | None = None
    engine: str = ENGINE

    @classmethod
    def read(cls, spark: SparkSession, data_dir: str | Path, config: SegmlConfig, *,
             n_buckets: int | None = None) -> SparkSource:
        """The tables of ``data_dir`` (or the config's paths), as ``score --engine spark`` reads
        them."""
        from segml.scale.spark_features import require_utc, table_path

        require_utc(spark)
        tables = SparkTables.read(spark, data_dir, config)
        sources = {table: str(table_path(data_dir, config, table))
                   for table in tables.present()}
        customers_path = Path(sources["customers"]) if "customers" in sources else None
        return cls.of(tables, config, path=customers_path, sources=sources, n_buckets=n_buckets)

    @classmethod
    def of(cls, tables: SparkTables, config: SegmlConfig, *, path: Path | None = None,
           sources: dict[str, str] | None = None, n_buckets: int | None = None) -> SparkSource:
        """Tables already on Spark; ``path``: the customers' Parquet (their row order)."""
        if tables.transactions is None:
            raise DataError([Problem("training on Spark needs a transactions table "
                                     "(behavioural mode); train attributes-mode data on one "
                                     "machine", table="transactions")])
        spark = tables.customers.sparkSession
        positions = customer_positions(spark, tables.customers, path,
                                       config.data.customers.customer_id)
        return cls(tables, config, positions, dict(sources or {}), [], n_buckets)

    # what the tracked run reads of loaded tables
    @property
    def mode(self) -> str:
        return "behavioural"

    @property
    def attribute_roles(self) -> dict[str, list[str]]:
        present = set(self.tables.customers.columns) - set(self.config.data.customers.pii)
        return {role: [c for c in cols if c in present]
                for role, cols in self.config.data.customers.attributes.items()}

    @property
    def attribute_columns(self) -> list[str]:
        return [c for cols in self.attribute_roles.values() for c in cols]

    def fingerprints(self) -> dict[str, Any]:
        """Each table's rows, date range and content hash (Spark aggregates)."""
        prints = {}
        for table, frame in self.tables.present().items():
            spec = getattr(self.config.data, table)
            columns = used_columns(table, frame.columns, self.config)
            prints[table] = spark_fingerprint(
                frame, columns, None if table == "customers" else spec.timestamp)
        return prints

    def build_datasets(self, config: SegmlConfig) -> SparkDatasets:
        """The time plan, the feature settings, the current customers (kept on Spark, their
        discovery sample collected) and every target's sampled training, evaluation and refit
        rows (what :func:`~segml.workflow.datasets.build_datasets` gives on one machine)."""
        return build_datasets_spark(self, config)


# ------------------------------------------------------------------------------ collected rows
def _ids_frame(spark: SparkSession, ids: pd.Index, text_ids: bool) -> DataFrame:
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    values = [str(v) for v in ids] if text_ids else [int(v) for v in ids]
    schema = StructType([StructField("_segml_id", StringType() if text_ids else LongType(), False)])
    return spark.createDataFrame(pd.DataFrame({"_segml_id": values}), schema=schema)


def _only(tables: SparkTables, config: SegmlConfig, ids: DataFrame) -> SparkTables:
    """The tables cut to the customers of ``ids`` (a broadcast semi-join): features depend on one
    customer's rows once the settings are fixed, so theirs are what the whole tables give."""
    from pyspark.sql import functions as F

    kind = dict(ids.dtypes)["_segml_id"]
    wanted = F.broadcast(ids)
    out = {}
    for table, frame in tables.present().items():
        column = getattr(config.data, table).customer_id
        out[table] = frame.join(wanted, F.col(f"`{column}`").cast(kind)
                                == wanted["_segml_id"], "left_semi")
    return SparkTables(**out)


# ------------------------------------------------------------------------------ samples
def _keyed(frame: DataFrame, seed: int, contexts: dict[int, str]) -> DataFrame:
    """``frame`` (``customer_id``, ``_block``, ...) with ``_key``: :func:`hash_keys` of the id in
    its block's context, computed by the single-machine function on the executors."""
    from pyspark.sql.types import LongType, StructField, StructType

    schema = StructType([*frame.schema.fields, StructField("_key", LongType(), False)])

    def add_keys(batches):
        for batch in batches:
            keys = np.empty(len(batch), dtype=np.int64)
            blocks = batch["_block"].to_numpy()
            for block in np.unique(blocks):
                rows = blocks == block
                keys[rows] = hash_keys(batch["customer_id"].to_numpy()[rows], seed,
                                       contexts[int(block)])
            yield batch.assign(_key=keys)

    return frame.mapInPandas(add_keys, schema)


def draw_on_spark(frame: DataFrame, max_rows: int | None, seed: int,
                  contexts: dict[int, str], *, labelled: bool = False) -> pd.DataFrame:
    """Collect the rows of ``frame`` (``customer_id``, ``_block``, ``_y``, ...) a
    single-machine stratified draw keeps: the labelled rows (every row when ``max_rows`` is None
    and not ``labelled``, as an unsampled stack), and above ``max_rows`` of them a sample
    stratified by block and label (``2 * block + (y > 0)``) with the single-machine quotas, the
    smallest keys of each stratum. Only those rows are collected.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if max_rows is None and not labelled:  # every row, labelled or not (the unsampled stack)
        return frame.toPandas()
    known = frame.filter(F.col("_y").isNotNull()).withColumn(
        "_stratum", F.col("_block") * 2 + (F.col("_y") > 0).cast("int"))
    counts = known.groupBy("_stratum").count().toPandas().sort_values("_stratum")
    if max_rows is None or int(counts["count"].sum()) <= max_rows:
        return known.drop("_stratum").toPandas()
    quota = quotas(counts["count"].to_numpy(), max_rows)
    spark = frame.sparkSession
    limits = spark.createDataFrame(pd.DataFrame({"_stratum": counts["_stratum"].astype("int32"),
                                                 "_quota": quota.astype("int64")}))
    rank = F.row_number().over(Window.partitionBy("_stratum").orderBy("_key"))
    chosen = (_keyed(known, seed, contexts).join(F.broadcast(limits), "_stratum")
              .withColumn("_rank", rank).filter(F.col("_rank") <= F.col("_quota")))
    return chosen.drop("_stratum", "_key", "_quota", "_rank").toPandas()


# ------------------------------------------------------------------------------ datasets
@dataclass
class SparkDatasets(Datasets):
    """:class:`~segml.workflow.datasets.Datasets` whose sets were drawn and built on Spark.

    Every target's sampled labels and the sampled customers' features at each cutoff are held
    on the driver (only those rows); :meth:`training_set`, :meth:`evaluation_set` and
    :meth:`refit_set` assemble them in the single-machine order. The current customers stay on
    Spark (``population``, a :class:`~segml.scale.spark_population.SparkPopulation`);
    ``current_X`` is their discovery sample.
    """

    engine: str = ENGINE
    source: SparkSource | None = None
    drawn: dict[tuple[str, str], list[pd.DataFrame]] = field(default_factory=dict, repr=False)
    text_ids: bool = True
    #: Per cutoff, the customers each planned use (target, role) takes: a cutoff's matrix is
    #: built once for all of them, cut to what the later uses take after each use, and dropped
    #: after its last one (the driver never holds every cutoff's rows at once).
    planned: dict[pd.Timestamp, dict[tuple[str, str], pd.Index]] = field(default_factory=dict,
                                                                          repr=False)
    _matrices: dict[pd.Timestamp, pd.DataFrame] = field(default_factory=dict, repr=False)

    def _matrix(self, cutoff: object, use: tuple[str, str]) -> pd.DataFrame:
        """The feature rows at ``cutoff`` of the customers ``use`` takes (and of later uses)."""
        at = as_cutoff(cutoff)
        uses = self.planned.get(at, {})
        matrix = self._matrices.get(at)
        if matrix is None or use not in uses:  # not built yet, or asked again after its use
            ids = _union([*uses.values(), self.drawn_ids(use, at)])
            source = self.source
            matrix = _collect_features(
                _only(source.tables, source.config, _ids_frame(
                    source.tables.customers.sparkSession, ids, self.text_ids)),
                source, at, self.spec)
        uses.pop(use, None)
        if uses:  # keep the rows the later uses take, in the table's order
            found = matrix.index.get_indexer(_union(list(uses.values())))
            self._matrices[at] = matrix.iloc[np.sort(found[found >= 0])]
        else:
            self._matrices.pop(at, None)
        return matrix

    def drawn_ids(self, use: tuple[str, str], cutoff: pd.Timestamp) -> pd.Index:
        """The customers ``use`` (target, role) drew at ``cutoff``."""
        target, role = use
        plan = self.plan.targets[target]
        cutoffs = [plan.evaluation] if role == "evaluation" else getattr(plan, role)
        position = [as_cutoff(c) for c in cutoffs].index(cutoff)
        return self.drawn[use][position].index

    def _assemble(self, target: str, role: str):
        from segml.features.labels import TrainingSet

        column = self.target(target).label_column
        cutoffs = getattr(self.plan.targets[target], role)
        xs, ys, cs = [], [], []
        for c, labels in zip(cutoffs, self.drawn[(target, role)], strict=True):
            matrix = self._matrix(c, (target, role))
            found = matrix.index.get_indexer(labels.index)
            X = matrix.iloc[np.sort(found[found >= 0])]
            del matrix
            xs.append(X)
            ys.append(labels[["is_active", column]].reindex(X.index))
            cs.append(pd.Series(as_cutoff(c), index=X.index, name="cutoff",
                                dtype="datetime64[ns]"))
        return TrainingSet(X=pd.concat(xs), Y=pd.concat(ys), cutoff=pd.concat(cs))

    def training_set(self, target: str):
        return self._assemble(target, "train")

    def refit_set(self, target: str):
        return self._assemble(target, "refit")

    def evaluation_set(self, target: str) -> tuple[pd.DataFrame, pd.Series]:
        cutoff = self.plan.targets[target].evaluation
        label = self.drawn[(target, "evaluation")][0][self.target(target).label_column]
        matrix = self._matrix(cutoff, (target, "evaluation"))
        found = matrix.index.get_indexer(label.index)
        X = matrix.iloc[np.sort(found[found >= 0])]
        return X, label.reindex(X.index)

    def features_at(self, cutoff: object, spec: Any, ids: pd.Index | None = None) -> pd.DataFrame:
        """Features at ``cutoff`` with ``spec`` (e.g. the champion's) of ``ids``, on Spark."""
        source = self.source
        tables = source.tables
        if ids is not None:
            tables = _only(tables, source.config, _ids_frame(
                tables.customers.sparkSession, ids, self.text_ids))
        return _collect_features(tables, source, as_cutoff(cutoff), spec)


def _collect_features(tables: SparkTables, source: SparkSource, cutoff: pd.Timestamp,
                      spec: Any) -> pd.DataFrame:
    from segml.scale.spark_scoring import user_errors_from_executors

    rows = build_features_spark(tables, cutoff, spec, source.config, n_buckets=source.n_buckets)
    with user_errors_from_executors():
        collected = rows.join(source.positions, "customer_id", "left").toPandas()
    text_ids = dict(tables.customers.dtypes)[source.config.data.customers.customer_id] == "string"
    return local_frame(collected, spec, text_ids)


def _union(indexes: list[pd.Index]) -> pd.Index:
    return indexes[0].append(indexes[1:]).unique() if len(indexes) > 1 else indexes[0]


def _labelled(labels: DataFrame, column: str, block: int) -> DataFrame:
    from pyspark.sql import functions as F

    return labels.select("customer_id", "is_active", F.col(column).alias(column),
                         F.col(column).alias("_y"), F.lit(block).alias("_block"))


def _split(rows: pd.DataFrame, n_blocks: int, column: str, text_ids: bool) -> list[pd.DataFrame]:
    out = []
    for block in range(n_blocks):
        part = rows[rows["_block"] == block]
        ids = part["customer_id"].to_numpy()
        index = (pd.Index(ids.astype(object), dtype="str", name="customer_id") if text_ids
                 else pd.Index(ids, name="customer_id"))
        out.append(pd.DataFrame({"is_active": part["is_active"].to_numpy(dtype=bool),
                                 column: part[column].to_numpy(dtype="float64")}, index=index))
    return out


def build_datasets_spark(source: SparkSource, config: SegmlConfig) -> SparkDatasets:
    """What :func:`segml.workflow.datasets.build_datasets` gives, computed on Spark (see the
    module docstring); every Spark error naming a table or column is a ``DataError``."""
    from segml.features.plan import plan_targets
    from segml.scale.spark_labels import build_labels_spark
    from segml.scale.spark_scoring import user_errors_from_executors

    tables = source.tables
    spark = tables.customers.sparkSession
    source.n_buckets = source.n_buckets or default_buckets(spark)
    text_ids = dict(tables.customers.dtypes)[config.data.customers.customer_id] == "string"
    registry = targets_of(config)
    unplanned = [t for t in config.models.targets if not registry[t].has_horizon]
    if unplanned:
        raise SegmlError([Problem(
            f"targets.{unplanned[0]}: a column label is not trained on Spark yet; train it "
            "with --engine local, or leave it out of models.targets", key=f"targets.{unplanned[0]}")])
    with user_errors_from_executors():
        start = data_start_spark(tables, config)
        plan = plan_targets(data_end_spark(tables, config), config.time,
                            [registry[t] for t in config.models.targets], start=start,
                            min_history_days=config.readiness.min_history_days)
        spec = fit_feature_spec_spark(tables, plan.spec_cutoff, config, n_buckets=source.n_buckets)
    # every current customer's features stay on Spark; the driver holds the discovery sample
    with user_errors_from_executors():
        current = build_features_spark(tables, plan.scoring, spec, config,
                                       n_buckets=source.n_buckets)
        population = SparkPopulation.build(current.join(source.positions, "customer_id", "left"),
                                           spec, config, plan.scoring, text_ids=text_ids)
    data = SparkDatasets("behavioural", spec, plan.scoring, population.sample, source,
                         config.time, config.models, config.seed, plan=plan,
                         cutoffs=plan.to_dict(), registry=registry, population=population,
                         source=source, text_ids=text_ids)
    declared = [registry[t] for t in plan.targets if registry[t].definition is not None]
    # the labels at every planned cutoff (one Spark job each, all targets at once)
    labels: dict[pd.Timestamp, DataFrame] = {}
    try:
        with user_errors_from_executors():
            for target_plan in plan.targets.values():
                for c in [*target_plan.train, target_plan.evaluation, *target_plan.refit]:
                    at = as_cutoff(c)
                    if at not in labels:
                        labels[at] = build_labels_spark(tables, at, config,
                                                        n_buckets=source.n_buckets,
                                                        declared=declared)
            for target, target_plan in plan.targets.items():
                column = data.target(target).label_column
                for role in ("train", "refit"):
                    cutoffs = [as_cutoff(c) for c in getattr(target_plan, role)]
                    stacked = reduce(lambda a, b: a.unionByName(b), [
                        _labelled(labels[c], column, b) for b, c in enumerate(cutoffs)])
                    contexts = {b: sample_context("stack", c) for b, c in enumerate(cutoffs)}
                    rows = draw_on_spark(stacked, data.max_rows(role), config.seed, contexts)
                    data.drawn[(target, role)] = _split(rows, len(cutoffs), column, text_ids)
                at = as_cutoff(target_plan.evaluation)
                rows = draw_on_spark(_labelled(labels[at], column, 0), config.models.max_eval_rows,
                                     config.seed, {0: sample_context("evaluation", at)},
                                     labelled=True)
                data.drawn[(target, "evaluation")] = _split(rows, 1, column, text_ids)
    finally:
        for frame in labels.values():
            frame.unpersist()
    # the features of the drawn customers are built when a target asks for them, one Spark job
    # per cutoff for every use planned there
    for (target, role), blocks in data.drawn.items():
        target_plan = plan.targets[target]
        cutoffs = [target_plan.evaluation] if role == "evaluation" else getattr(target_plan, role)
        for c, block in zip(cutoffs, blocks, strict=True):
            data.planned.setdefault(as_cutoff(c), {})[(target, role)] = block.index
    return data


__all__ = ["ENGINE", "SparkDatasets", "SparkSource", "build_datasets_spark",
           "customer_positions", "draw_on_spark", "spark_fingerprint", "spark_session"]
