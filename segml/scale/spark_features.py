"""Features on Apache Spark with the single-machine feature code, partition by partition.

Every customer is put in one of ``n_buckets`` buckets by a hash of their id; the tables are
shuffled so that all rows of a bucket (its customers, their transactions and events) meet in one
pandas group (a cogroup of the customers with their activity), and
:func:`segml.features.build_features` runs on it unchanged (``applyInPandas``).
Features are per customer once the spec is known, so the result equals the single-machine
features. What needs the whole population, the :class:`~segml.features.FeatureSpec` (kept
categories, channels, event types and attribute levels, the BG/NBD parameters), is either taken
from a registered model (scoring) or learned by :func:`fit_feature_spec_spark`: each bucket
computes its :class:`~segml.features.statistics.FitStatistics`, Spark sums the counts and keeps
the BG/NBD sample, and the driver learns the spec from those few rows; the spec then travels to
the executors inside the task closure (a broadcast of a few kilobytes).

Nothing here collects the data to the driver: only counts per value, at most ``btyd_sample_size``
purchaser summaries, the data's last timestamp and the output schema cross it.

Example
-------
>>> from segml.scale.spark_features import SparkTables, build_features_spark  # doctest: +SKIP
>>> spark = local_spark()  # doctest: +SKIP
>>> tables = SparkTables.read(spark, "data/", SegmlConfig())  # doctest: +SKIP
>>> X = build_features_spark(tables, cutoff, spec, SegmlConfig())  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segml.config import SegmlConfig
from segml.data.contract import validate_tables
from segml.data.io import find_table_file
from segml.errors import DataError, Problem
from segml.features import FeatureSpec, build_features
from segml.features.statistics import ATTRIBUTE, FitStatistics, fit_statistics
from segml.features.timeline import as_cutoff, end_of_day

if TYPE_CHECKING:  # pyspark is an optional dependency (the ``scale`` extra)
    from pyspark.sql import DataFrame, SparkSession

TABLES = ("customers", "transactions", "events")
_TAG = "_segml_table"
_BUCKET = "_segml_bucket"


def local_spark(cores: int = 2, memory: str = "4g", app_name: str = "segml",
                master: str | None = None) -> SparkSession:
    """A Spark session set up for segml: UTC, Arrow transfers, two shuffle partitions per core.

    ``master`` defaults to ``local[<cores>]``; an existing session is reused (``getOrCreate``).
    Naive timestamps are read as the same wall-clock times on both engines only when the session
    time zone is UTC, so every segml session sets it.
    """
    from pyspark.sql import SparkSession

    # Executors run this interpreter (its segml, pandas, lightgbm), not whatever python3 is first.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    return (SparkSession.builder.master(master or f"local[{cores}]").appName(app_name)
            .config("spark.driver.memory", memory)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.shuffle.partitions", str(max(cores * 2, 2)))
            .config("spark.ui.enabled", "false")
            .getOrCreate())


def require_utc(spark: SparkSession) -> None:
    """Refuse a session whose time zone would shift naive timestamps."""
    zone = spark.conf.get("spark.sql.session.timeZone")
    if zone not in ("UTC", "Etc/UTC", "GMT", "+00:00", "Z"):
        raise DataError([Problem(f"Spark session time zone is {zone!r}; set "
                                 "spark.sql.session.timeZone=UTC so that timestamps match",
                                 key="spark.sql.session.timeZone")])


@dataclass
class SparkTables:
    """The user's tables as Spark DataFrames, with the config's column names (before validation)."""

    customers: DataFrame
    transactions: DataFrame | None = None
    events: DataFrame | None = None

    @classmethod
    def read(cls, spark: SparkSession, data_dir: str | Path, config: SegmlConfig) -> SparkTables:
        """Read ``customers``, ``transactions`` and ``events`` Parquet files (or folders).

        Each table is the config's ``path`` when set, else ``<data_dir>/<table>.parquet`` (a
        file, or a folder of part files as Spark writes them).
        """
        frames: dict[str, Any] = {}
        for table in TABLES:
            spec = getattr(config.data, table)
            if spec is None:
                frames[table] = None
                continue
            path = spec.path or _parquet_path(Path(data_dir), table)
            if path is None:
                if table == "customers":
                    raise DataError([Problem("no customers table found (customers.parquet)",
                                             file=str(data_dir), table="customers")])
                frames[table] = None
            else:
                frames[table] = _read_parquet(spark, Path(path))
        return cls(**frames)

    def present(self) -> dict[str, DataFrame]:
        return {t: getattr(self, t) for t in TABLES if getattr(self, t) is not None}


def _nanosecond_columns(path: Path) -> list[str]:
    """Columns stored as nanosecond timestamps (pandas' default), which Spark cannot read as such."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = path if path.is_file() else next(iter(sorted(path.rglob("*.parquet"))), None)
    if file is None:
        return []
    schema = pq.read_schema(file)
    return [f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.unit == "ns"]


def _read_parquet(spark: SparkSession, path: Path) -> DataFrame:
    from pyspark.sql import functions as F

    nanos = _nanosecond_columns(path)
    if not nanos:
        return spark.read.parquet(str(path))
    # Spark reads nanosecond timestamps only as longs; microseconds are all it keeps anyway.
    spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    frame = spark.read.parquet(str(path))
    return frame.select(*[
        F.timestamp_micros(F.floor(F.col(f"`{c}`") / 1000)).alias(c) if c in nanos
        else F.col(f"`{c}`") for c in frame.columns])


def _parquet_path(folder: Path, table: str) -> Path | None:
    found = find_table_file(folder, table)
    if found is not None and (found.suffix in (".parquet", ".pq") or found.is_dir()):
        return found
    candidate = folder / f"{table}.parquet"
    return candidate if candidate.is_dir() else None


def table_path(data_dir: str | Path, config: SegmlConfig, table: str) -> Path | None:
    """Where :meth:`SparkTables.read` reads ``table``: the config's ``path``, else the Parquet
    file or folder of that name in ``data_dir`` (None: not there)."""
    spec = getattr(config.data, table)
    if spec is None:
        return None
    return Path(spec.path) if spec.path else _parquet_path(Path(data_dir), table)


def _id_column(config: SegmlConfig, table: str) -> str:
    return getattr(config.data, table).customer_id


def used_columns(table: str, columns: list[str], config: SegmlConfig,
                 scoring: dict[str, list[str]] | None = None) -> list[str]:
    """The columns of ``table`` the config gives a role to; PII columns never leave the source.
    ``scoring``: a model's attribute roles, read instead of the config's and no label column.

    Examples
    --------
    >>> cfg = SegmlConfig(data={"customers": {"pii": ["email"],
    ...                                       "attributes": {"geographic": ["region"]}}})
    >>> used_columns("customers", ["customer_id", "email", "region", "notes"], cfg)
    ['customer_id', 'region']
    """
    spec = getattr(config.data, table)
    if table == "customers":
        labels, roles = (spec.labels, spec.attributes) if scoring is None else ({}, scoring)
        wanted = {spec.customer_id, spec.signup_date, *labels.values()}
        wanted |= {c for cols in roles.values() for c in cols}
        wanted -= set(spec.pii)
    else:
        wanted = {v for v in spec.model_dump().values() if isinstance(v, str)} - {spec.path}
    return [c for c in columns if c in wanted]


_TAGS = {"customers": 0, "transactions": 1, "events": 2}


def _tagged(frame: DataFrame, table: str, config: SegmlConfig, n_buckets: int) -> DataFrame:
    """The used columns of one table, prefixed by its name, with its tag and the bucket column."""
    from pyspark.sql import functions as F

    key = F.col(f"`{_id_column(config, table)}`").cast("string")
    return frame.select(
        *[F.col(f"`{c}`").alias(f"{table}__{c}") for c in used_columns(table, frame.columns, config)],
        F.lit(_TAGS[table]).cast("byte").alias(_TAG),
        F.pmod(F.xxhash64(key), F.lit(n_buckets)).cast("int").alias(_BUCKET))


def _unpacked(group: pd.DataFrame, layout: dict[str, list[str]]) -> dict[str, pd.DataFrame]:
    """Split one bucket's rows back into the tables of ``layout`` (original column names)."""
    tags = group[_TAG].to_numpy() if _TAG in group.columns else np.zeros(0)
    out = {}
    for table, columns in layout.items():
        prefixed = [f"{table}__{c}" for c in columns]
        if set(prefixed) <= set(group.columns):
            rows = group.loc[tags == _TAGS[table], prefixed]
        else:  # an empty side of the cogroup
            rows = pd.DataFrame({c: [] for c in prefixed})
        rows.columns = columns
        out[table] = rows.reset_index(drop=True)
    return out


def _partition_tables(frames: dict[str, pd.DataFrame], config: SegmlConfig, scoring=None):
    if frames["customers"].empty:  # rows of unknown customers only: nothing to compute
        return None
    tables, problems = validate_tables(config, frames["customers"], frames.get("transactions"),
                                       frames.get("events"), partition=True, attributes=scoring,
                                       purpose="train" if scoring is None else "score")
    if tables is None:
        raise DataError([p for p in problems if p.severity == "error"] or problems)
    return tables


def apply_by_bucket(tables: SparkTables, config: SegmlConfig, n_buckets: int, func,
                    schema: Any, scoring: dict[str, list[str]] | None = None) -> DataFrame:
    """``func(tables_of_one_bucket) -> pandas.DataFrame`` on every bucket of customers.

    Customers are cogrouped with their activity (transactions and events, tagged and unioned):
    the wide customer rows are not repeated over the long activity rows, which made a single
    union three times slower to hand to Python. ``func`` gets validated
    :class:`~segml.data.contract.Tables` (``partition=True``), or None for a bucket with rows of
    unknown customers only. ``scoring``: as for :func:`used_columns` (validated for scoring).
    """
    layout = {table: used_columns(table, frame.columns, config, scoring)
              for table, frame in tables.present().items()}
    customers_layout = {"customers": layout["customers"]}
    activity_layout = {t: c for t, c in layout.items() if t != "customers"}
    customers = _tagged(tables.customers, "customers", config, n_buckets).groupBy(_BUCKET)
    if not activity_layout:
        return customers.applyInPandas(
            lambda group: func(_partition_tables(_unpacked(group, customers_layout), config,
                                                scoring)),
            schema)
    activity = None
    for table in activity_layout:
        tagged = _tagged(getattr(tables, table), table, config, n_buckets)
        activity = tagged if activity is None else activity.unionByName(
            tagged, allowMissingColumns=True)

    def both(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
        frames = _unpacked(left, customers_layout) | _unpacked(right, activity_layout)
        return func(_partition_tables(frames, config, scoring))

    return customers.cogroup(activity.groupBy(_BUCKET)).applyInPandas(both, schema)


def for_arrow(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Python objects: PySpark's Arrow writer does not take pandas 3 strings."""
    text = [c for c in frame.columns if isinstance(frame[c].dtype, pd.StringDtype)
            or isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if not text:
        return frame
    out = frame.copy(deep=False)
    for column in text:
        values = out[column].astype(object)
        out[column] = values.where(values.notna(), None)
    return out


def default_buckets(spark: SparkSession) -> int:
    """Four buckets per core: groups small enough to balance, large enough to vectorise."""
    return 4 * spark.sparkContext.defaultParallelism


# ------------------------------------------------------------------------------ features
def feature_schema(spec: FeatureSpec, id_type: Any) -> Any:
    """Spark schema of the feature rows: the id, then doubles, categorical features as strings."""
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    fields = [StructField("customer_id", id_type, False)]
    cats = set(spec.categorical_features)
    fields += [StructField(name, StringType() if name in cats else DoubleType(), True)
               for name in spec.feature_names]
    return StructType(fields)


def build_features_spark(tables: SparkTables, cutoff: object, spec: FeatureSpec,
                         config: SegmlConfig, *, n_buckets: int | None = None) -> DataFrame:
    """The feature rows at ``cutoff`` computed on Spark: one row per customer known then.

    Parameters
    ----------
    tables : SparkTables
        The raw tables (config column names); each partition is validated as the data contract
        says, so a bad value fails the job naming the table and column.
    cutoff : date or Timestamp or None
        As for :func:`segml.features.build_features` (None in attributes mode).
    spec : FeatureSpec
        Learned settings: from a model (``scorer.feature_spec``) or :func:`fit_feature_spec_spark`.
    n_buckets : int, optional
        Customer buckets (default :func:`default_buckets`).

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id`` then ``spec.feature_names``: the same rows and values as the local
        function (categorical features as strings).
    """
    spark = tables.customers.sparkSession
    require_utc(spark)
    n_buckets = n_buckets or default_buckets(spark)
    id_type = tables.customers.schema[_id_column(config, "customers")].dataType
    schema = feature_schema(spec, id_type)
    at = as_cutoff(cutoff) if cutoff is not None else None
    columns = ["customer_id", *spec.feature_names]
    config = config.model_copy(update={"data": config.data.model_copy(update={"mode": spec.mode})})

    def features_of(part) -> pd.DataFrame:
        if part is None:
            return pd.DataFrame({name: [] for name in columns})
        return for_arrow(build_features(part, at, spec).reset_index())[columns]

    # fitted settings: the spec's attribute columns are read, never a label column
    return apply_by_bucket(tables, config, n_buckets, features_of, schema, spec.attributes)


# ------------------------------------------------------------------------------ spec
_STAT_SCHEMA = ("kind string, key string, value string, n long, order_key long, "
                "x double, t_x double, T double")


def _statistics_rows(stats: FitStatistics) -> pd.DataFrame:
    rows: list[tuple] = [("mode", stats.mode, None, 0), ("events", str(stats.has_events), None, 0)]
    # n orders the roles and their columns as the config does (every partition agrees).
    ordered = [(role, column) for role, cols in stats.roles.items() for column in cols]
    rows += [("role", role, column, i) for i, (role, column) in enumerate(ordered)]
    for key, counts in stats.counts.items():
        rows.append(("count", key, None, 0))  # the column exists, even with no values here
        rows += [("count", key, value, n) for value, n in counts.items()]
    frame = pd.DataFrame(rows, columns=["kind", "key", "value", "n"])
    if stats.btyd is not None:
        btyd = pd.DataFrame({"kind": "btyd", "order_key": stats.btyd["order"],
                             "x": stats.btyd["x"], "t_x": stats.btyd["t_x"], "T": stats.btyd["T"]})
        frame = pd.concat([frame, btyd], ignore_index=True)
    return for_arrow(frame.reindex(columns=["kind", "key", "value", "n", "order_key", "x", "t_x",
                                            "T"]))


def _statistics_from_rows(summary: pd.DataFrame, btyd: pd.DataFrame | None) -> FitStatistics:
    modes = set(summary.loc[summary["kind"] == "mode", "key"])
    if len(modes) != 1:
        raise DataError([Problem(f"partitions disagree on the data mode: {sorted(modes)}")])
    roles: dict[str, list[str]] = {}
    for row in summary[summary["kind"] == "role"].sort_values("first").itertuples():
        roles.setdefault(row.key, []).append(row.value)
    counts: dict[str, dict[str, int]] = {}
    for row in summary[summary["kind"] == "count"].itertuples():
        values = counts.setdefault(row.key, {})
        if row.value is not None and not pd.isna(row.value):
            values[row.value] = int(row.n)
    has_events = "True" in set(summary.loc[summary["kind"] == "events", "key"])
    stats = FitStatistics(mode=modes.pop(), roles=roles, counts=counts, has_events=has_events)
    if btyd is not None and len(btyd):
        stats.btyd = {"order": btyd["order_key"].to_numpy(dtype=np.int64)} | {
            name: btyd[name].to_numpy(dtype=np.float64) for name in ("x", "t_x", "T")}
    return stats


def fit_feature_spec_spark(tables: SparkTables, cutoff: object, config: SegmlConfig, *,
                           n_buckets: int | None = None, btyd_penalizer: float = 0.001,
                           btyd_sample_size: int = 50_000,
                           max_attribute_levels: int = 50) -> FeatureSpec:
    """Learn the :class:`FeatureSpec` at ``cutoff`` on Spark; equal to ``FeatureSpec.fit`` locally.

    Each bucket's statistics are summed by Spark; the driver receives one row per distinct value
    and at most ``btyd_sample_size`` purchaser summaries (the same seeded sample as locally).
    """
    from pyspark.sql import functions as F

    spark = tables.customers.sparkSession
    require_utc(spark)
    n_buckets = n_buckets or default_buckets(spark)
    at = as_cutoff(cutoff) if cutoff is not None else None

    def statistics_of(part) -> pd.DataFrame:
        if part is None:
            return _statistics_rows(FitStatistics(mode="?")).iloc[:0]
        return _statistics_rows(fit_statistics(part, at, config))

    rows = apply_by_bucket(tables, config, n_buckets, statistics_of, _STAT_SCHEMA).persist()
    try:
        summary = (rows.filter(F.col("kind") != "btyd").groupBy("kind", "key", "value")
                   .agg(F.sum("n").alias("n"), F.min("n").alias("first")).toPandas())
        btyd = (rows.filter(F.col("kind") == "btyd").orderBy("order_key")
                .limit(btyd_sample_size).select("order_key", "x", "t_x", "T").toPandas())
    finally:
        rows.unpersist()
    stats = _statistics_from_rows(summary, btyd)
    return FeatureSpec.from_statistics(stats, at, config, btyd_penalizer=btyd_penalizer,
                                       btyd_sample_size=btyd_sample_size,
                                       max_attribute_levels=max_attribute_levels)


def _table_times(tables: SparkTables, config: SegmlConfig, aggregate: str,
                 ) -> Iterator[pd.Timestamp | None]:
    """``aggregate`` ("min" or "max") of the timestamp of transactions, then events: one Spark
    aggregate per table present, run when asked for (None where a table has no row)."""
    from pyspark.sql import functions as F

    for table in ("transactions", "events"):
        frame = getattr(tables, table)
        if frame is not None:
            column = F.col(f"`{getattr(config.data, table).timestamp}`").cast("timestamp")
            value = frame.agg(getattr(F, aggregate)(column)).first()[0]
            yield None if value is None else pd.Timestamp(value)


def data_end_spark(tables: SparkTables, config: SegmlConfig) -> pd.Timestamp:
    """End of the day of the last transaction (else event): one aggregate, like ``data_end``."""
    last = next((t for t in _table_times(tables, config, "max") if t is not None), None)
    if last is None:
        raise DataError([Problem("no transactions or events: the data end is undefined",
                                 table="transactions")])
    return end_of_day(last)


def data_start_spark(tables: SparkTables, config: SegmlConfig) -> pd.Timestamp | None:
    """The first transaction (or event) timestamp, None without any, like ``data_start``."""
    starts = [t for t in _table_times(tables, config, "min") if t is not None]
    return min(starts) if starts else None


__all__ = ["ATTRIBUTE", "SparkTables", "build_features_spark", "data_end_spark",
           "data_start_spark", "default_buckets", "feature_schema", "fit_feature_spec_spark", "local_spark"]
