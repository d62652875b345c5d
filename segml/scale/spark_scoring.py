"""Batch scoring on Apache Spark with the registered model (``mlflow.pyfunc.spark_udf``).

The flow is the local ``segml score`` one, distributed: the model's own feature settings are read
on the driver, :func:`~segml.scale.spark_features.build_features_spark` computes the feature rows
on the executors, and the registered pyfunc scores them there through ``spark_udf``. The scores
equal the local ones (same model, same features, same code).

Example
-------
>>> spark = local_spark()  # doctest: +SKIP
>>> scores = score_spark(spark, "models:/segml-customer@champion", data_dir="data/")  # doctest: +SKIP
>>> write_scores_spark(scores, "scores.parquet")  # doctest: +SKIP
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segml.config import SegmlConfig
from segml.errors import DataError, Problem
from segml.features.plan import resolve_cutoff
from segml.scale.spark_features import (
    SparkTables,
    build_features_spark,
    data_end_spark,
    data_start_spark,
    require_utc,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@contextmanager
def user_errors_from_executors() -> Iterator[None]:
    """Re-raise a segml data error raised on an executor as the ``DataError`` it was.

    Spark wraps a Python worker's exception in its own (with a JVM stack trace); the user should
    see the same message naming the table and column as on one machine.
    """
    try:
        yield
    except Exception as exc:
        if not type(exc).__module__.startswith(("pyspark", "py4j")):
            raise
        found = re.findall(r"segml\.errors\.(?:DataError|ReadinessError|SegmlError): (.+)", str(exc))
        if not found:
            raise
        raise DataError([Problem(message=line.strip()) for line in dict.fromkeys(found)]) from None


def score_features_spark(features: DataFrame, model_uri: str, *, reasons: bool = False,
                         as_of: Any = None, tracking: Any = None) -> DataFrame:
    """Score feature rows (``customer_id`` + the model's feature columns) with the model's UDF.

    Returns one row per input row with the model's output columns (docs/cli.md).
    """
    from pyspark.sql import functions as F

    from segml.tracking.spark import model_udf

    params = {"as_of": str(as_of)} if as_of is not None else {}
    predict, columns = model_udf(features.sparkSession, model_uri, reasons=reasons,
                                 tracking=tracking, params=params)
    scored = features.select(predict(F.struct(*[F.col(f"`{c}`") for c in features.columns]))
                             .alias("_segml_scores"))
    return scored.select(*[restore_nulls(F.col(f"_segml_scores.`{name}`"), kind).alias(name)
                           for name, kind in columns])


def restore_nulls(column: Any, kind: str) -> Any:
    """``column`` with the nulls MLflow's ``spark_udf`` turned into text put back.

    For a string field, ``spark_udf`` casts the pandas column with ``astype(np.str_)`` whenever it
    holds one non-null value, so a missing reason (an inactive customer's churn) or date arrives as
    ``"None"`` or ``"nan"``; segml never writes those words as values.
    """
    from pyspark.sql import functions as F

    if kind != "string":
        return column
    return F.when(column.isin("None", "nan"), F.lit(None).cast("string")).otherwise(column)


def score_spark(spark: SparkSession, model_uri: str, *, tables: SparkTables | None = None,
                data_dir: str | Path | None = None, config: SegmlConfig | None = None,
                cutoff: Any = None, reasons: bool = False,
                n_buckets: int | None = None) -> DataFrame:
    """Features with the model's own settings, then scores, all on Spark (lazy DataFrame).

    Parameters
    ----------
    spark : SparkSession
        Any session with ``spark.sql.session.timeZone=UTC`` (see ``local_spark``).
    model_uri : str
        e.g. ``models:/segml-customer@champion``, resolved with ``config.tracking``.
    tables, data_dir :
        The raw tables as Spark DataFrames, or a folder of ``customers``/``transactions``/
        ``events`` Parquet files or folders.
    cutoff : date, optional
        Features as of this date; it replaces the configured ``time.cutoff``, and without
        either the end of the data is used: the rule of one machine
        (:func:`segml.features.plan.resolve_cutoff`), checks included.
    reasons : bool
        Add the top 3 signed SHAP reasons per score.
    """
    from segml.tracking.model import load_scorer

    config = config or SegmlConfig()
    require_utc(spark)
    if tables is None:
        if data_dir is None:
            raise DataError([Problem("give the tables or a data folder", key="data")])
        tables = SparkTables.read(spark, data_dir, config)
    scorer = load_scorer(model_uri, tracking=config.tracking)
    spec = scorer.feature_spec
    if spec is None:
        raise DataError([Problem(f"model {model_uri} carries no feature settings", key="model")])
    if spec.mode == "behavioural":
        at = resolve_cutoff(config.time, data_end_spark(tables, config), cutoff,
                            data_start=data_start_spark(tables, config))
    else:  # attributes mode has no timeline to check against
        at = resolve_cutoff(config.time, None, cutoff)
    features = build_features_spark(tables, at, spec, config, n_buckets=n_buckets)
    scored = score_features_spark(features, model_uri, reasons=reasons,
                                  as_of=at.isoformat() if at is not None else None,
                                  tracking=config.tracking)
    return with_every_customer(scored, tables.customers, config.data.customers.customer_id)


def with_every_customer(scored: DataFrame, customers: DataFrame, id_column: str) -> DataFrame:
    """``scored`` plus one row per customer of ``customers`` it lacks (unknown at the cutoff),
    as on one machine (:func:`segml.data.population.every_customer`): null segments and scores,
    ``lifecycle_stage = "no history"`` and the ``No history`` predictive segment."""
    from pyspark.sql import functions as F

    from segml.data.population import NO_HISTORY_FILLS

    id_type = dict(scored.dtypes)["customer_id"]
    ids = customers.select(F.col(f"`{id_column}`").cast(id_type).alias("customer_id"))
    missing = ids.dropna().distinct().join(scored.select("customer_id"), "customer_id", "left_anti")
    rows = missing.select(*[
        F.col("customer_id") if field.name == "customer_id"
        else F.lit(NO_HISTORY_FILLS.get(field.name)).cast(field.dataType).alias(field.name)
        for field in scored.schema.fields])
    return scored.unionByName(rows)


def write_scores_spark(scores: DataFrame, out: str | Path) -> Path:
    """Write ``scores`` as a Parquet folder at ``out``, atomically: a failed job leaves nothing.

    Spark writes into a hidden sibling folder that replaces ``out`` only once complete.
    """
    target = Path(out)
    if target.suffix.lower() not in (".parquet", ".pq", ""):
        raise DataError([Problem("Spark writes Parquet: give an output path ending in .parquet "
                                 "or a folder", file=str(target))])
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        scores.write.mode("error").parquet(str(staging))
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def score_to_parquet_spark(model_uri: str, data_dir: str | Path, out: str | Path, *,
                           config: SegmlConfig | None = None, cutoff: Any = None,
                           reasons: bool = False, master: str | None = None) -> int:
    """``segml score --engine spark``: read Parquet, score, write Parquet; returns the row count.

    Uses the active Spark session when there is one (``spark-submit``), else a new one on
    ``master`` (default ``local[2]``).
    """
    from pyspark.sql import SparkSession

    from segml.scale.spark_features import local_spark

    spark = SparkSession.getActiveSession() or local_spark(master=master)
    scores = score_spark(spark, model_uri, data_dir=data_dir, config=config, cutoff=cutoff,
                         reasons=reasons)
    with user_errors_from_executors():
        written = write_scores_spark(scores, out)
    return spark.read.parquet(str(written)).count()
