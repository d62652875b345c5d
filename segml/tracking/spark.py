"""The registered composite model as a Spark UDF (``mlflow.pyfunc.spark_udf``).

The UDF runs the same pyfunc as ``mlflow models serve`` and ``segml score``, one Arrow batch of
feature rows at a time, on every executor. Its result is a struct whose fields are the model's
output columns (SPEC section 6), typed from the model's signature.

Example
-------
>>> predict, output = model_udf(spark, "models:/segml-customer@champion")  # doctest: +SKIP
>>> features.select(predict(*features.columns).alias("s")).select("s.*")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import mlflow

from segml.errors import Problem, SegmlError
from segml.tracking.store import model_store

#: MLflow column types -> Spark SQL types.
_SPARK_TYPES = {"double": "double", "float": "float", "long": "bigint", "integer": "int",
                "boolean": "boolean", "string": "string", "datetime": "timestamp"}


def output_columns(model_uri: str, *, reasons: bool = False,
                   tracking: Any = None) -> list[tuple[str, str]]:
    """``(column, spark type)`` of the model's output; ``*_reasons`` only when ``reasons``."""
    with model_store(model_uri, tracking):
        info = mlflow.models.get_model_info(model_uri)
    signature = info.signature
    if signature is None or signature.outputs is None:
        raise SegmlError([Problem(f"model {model_uri} has no output signature", key="model")])
    columns = []
    for spec in signature.outputs.inputs:
        if spec.name.endswith("_reasons") and not reasons:
            continue
        kind = getattr(spec.type, "name", str(spec.type))
        columns.append((spec.name, _SPARK_TYPES.get(kind, "string")))
    return columns


def model_params(model_uri: str, tracking: Any = None) -> set[str]:
    """Names of the predict parameters the model's signature accepts."""
    with model_store(model_uri, tracking):
        signature = mlflow.models.get_model_info(model_uri).signature
    return {p.name for p in signature.params.params} if signature and signature.params else set()


def model_udf(spark: Any, model_uri: str, *, reasons: bool = False, tracking: Any = None,
              params: dict[str, Any] | None = None) -> tuple[Any, list[tuple[str, str]]]:
    """A Spark UDF scoring feature rows with the model at ``model_uri``, and its output columns.

    Parameters
    ----------
    spark : SparkSession
    model_uri : str
        e.g. ``models:/segml-customer@champion``; resolved on the driver with ``tracking``.
    reasons : bool
        Add the ``*_reasons`` columns (JSON strings), about 100x the cost of the scores.
    params : dict, optional
        Further predict parameters the model's signature declares (e.g. ``as_of``).
    """
    columns = output_columns(model_uri, reasons=reasons, tracking=tracking)
    result_type = ", ".join(f"`{name}` {kind}" for name, kind in columns)
    with model_store(model_uri, tracking):
        udf = mlflow.pyfunc.spark_udf(spark, model_uri, result_type=result_type,
                                      env_manager="local",
                                      params={"reasons": reasons} | (params or {}))
    return udf, columns
