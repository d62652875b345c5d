"""The registered composite model as a Spark UDF (``mlflow.pyfunc.spark_udf``).

The UDF runs the same pyfunc as ``mlflow models serve`` and ``segml score``, one Arrow batch of
feature rows at a time, on every executor. Its result is a struct whose fields are the model's
output columns (docs/cli.md), typed from the model's signature.

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


def _signature(model_uri: str, tracking: Any = None) -> Any:
    with model_store(model_uri, tracking):
        signature = mlflow.models.get_model_info(model_uri).signature
    if signature is None or signature.outputs is None:
        raise SegmlError([Problem(f"model {model_uri} has no output signature", key="model")])
    return signature


def output_columns(signature: Any, *, reasons: bool = False) -> list[tuple[str, str]]:
    """``(column, spark type)`` of a model signature's outputs; ``*_reasons`` only with
    ``reasons``."""
    columns = []
    for spec in signature.outputs.inputs:
        if spec.name.endswith("_reasons") and not reasons:
            continue
        kind = getattr(spec.type, "name", str(spec.type))
        columns.append((spec.name, _SPARK_TYPES.get(kind, "string")))
    return columns


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
        Further predict parameters (e.g. ``as_of``); those the model's signature does not
        declare (models logged before the parameter existed) are left out.
    """
    signature = _signature(model_uri, tracking)
    declared = {p.name for p in signature.params.params} if signature.params else set()
    columns = output_columns(signature, reasons=reasons)
    result_type = ", ".join(f"`{name}` {kind}" for name, kind in columns)
    extra = {k: v for k, v in (params or {}).items() if k in declared}
    with model_store(model_uri, tracking):
        udf = mlflow.pyfunc.spark_udf(spark, model_uri, result_type=result_type,
                                      env_manager="local",
                                      params={"reasons": reasons} | extra)
    return udf, columns
