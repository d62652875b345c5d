"""Outcome labels on Apache Spark, equal to :func:`segml.features.make_labels` on one machine.

Churn, purchase and future spend depend on one customer's rows, so each bucket of customers runs
``make_labels`` unchanged (see :mod:`segml.scale.spark_features`). The high-CLV label does not: it
compares each customer's future spend with the ``high_clv_quantile`` of everyone's. That
threshold is computed once by Spark's exact ``percentile`` (the same linear interpolation as
``numpy.quantile``), collected as one number and applied as a column expression.

Example
-------
>>> Y = build_labels_spark(tables, cutoff, config)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from segml.config import SegmlConfig
from segml.features import make_labels
from segml.features.timeline import as_cutoff
from segml.scale.spark_features import (
    SparkTables,
    apply_by_bucket,
    default_buckets,
    for_arrow,
    require_utc,
)
from segml.targets import TARGETS, Target

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

_PER_CUSTOMER = ("is_active", "churn", "purchase", "future_spend")


def high_clv_threshold(labels: DataFrame, quantile: float) -> float:
    """The ``quantile`` of ``future_spend`` over all rows (0 without rows), as ``make_labels``."""
    from pyspark.sql import functions as F

    value = labels.agg(F.percentile(F.col("future_spend"), F.lit(quantile))).first()[0]
    return float(value) if value is not None else 0.0


def build_labels_spark(tables: SparkTables, cutoff: object, config: SegmlConfig, *,
                       n_buckets: int | None = None,
                       declared: Sequence[Target] = ()) -> DataFrame:
    """Labels at ``cutoff`` for every customer known then (behavioural mode).

    ``declared``: targets of the config's ``targets:`` section with a horizon
    (:func:`segml.targets.targets_of`) whose labels are wanted too (docs/targets.md); each is a
    per-customer label, computed in its bucket by the same label function as locally.

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id``, ``is_active`` (boolean), ``churn``, ``purchase``, ``future_spend``,
        ``high_clv``, then each declared target's label column (doubles; null outside a
        target's population, e.g. ``churn`` of a customer who was not active). The
        per-customer labels are cached (they feed the threshold and the result); call
        ``unpersist()`` on the result when done.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, DoubleType, StructField, StructType

    spark = tables.customers.sparkSession
    require_utc(spark)
    n_buckets = n_buckets or default_buckets(spark)
    at = as_cutoff(cutoff)
    id_type = tables.customers.schema[config.data.customers.customer_id].dataType
    per_customer = [*_PER_CUSTOMER, *(t.label_column for t in declared)]
    schema = StructType([StructField("customer_id", id_type, False),
                         StructField("is_active", BooleanType(), True)]
                        + [StructField(c, DoubleType(), True) for c in per_customer[1:]])
    columns = ["customer_id", *per_customer]
    targets = [*TARGETS.values(), *declared]

    def labels_of(part) -> pd.DataFrame:
        if part is None:
            return pd.DataFrame({name: [] for name in columns})
        labels = make_labels(part, at, config.time, targets).reset_index()
        return for_arrow(labels[columns])

    labels = apply_by_bucket(tables, config, n_buckets, labels_of, schema).persist()
    threshold = high_clv_threshold(labels, config.time.high_clv_quantile)
    spend = F.col("future_spend")
    return labels.withColumn("high_clv", ((spend > threshold) & (spend > 0)).cast("double"))


__all__ = ["build_labels_spark", "high_clv_threshold"]
