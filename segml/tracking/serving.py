"""segml's hooks into ``mlflow models serve``: errors that never echo the request, and a fast path
for JSON tables.

**Errors.** MLflow's scoring server puts the whole parsed request into its error messages
(``Failed to predict data '<the input>' ...``, ``Failed to enforce schema of data '<the input>'
with schema ...``), and a type-conversion error quotes the offending value. Those messages go
back to the caller and into the server log, so a bad request would copy customer data into
places it must not reach. Wrapped, its MLflow errors keep their status code and the part that
names the column, and lose the data.

**Fast path.** For a JSON ``dataframe_split``, ``dataframe_records`` or columnar ``inputs``
request to a model that declares ``serves_tables`` (the composite :class:`SegmlModel`), the table
is built with one ``pandas.DataFrame`` call and handed straight to the model. The model checks it
against its own schema (``validate_input``: a missing or mistyped column is a 400 naming it).
MLflow's own route casts every column when it parses the request, then again when it enforces
the signature: about 0.2 ms per column, 10-15 ms for segml's 67 columns. Anything else (CSV,
Parquet, other payloads, a model that does not opt in) goes through MLflow unchanged. So does
any request the fast path cannot answer (a bad column, a bad parameter), which also lets MLflow
word the error.

:func:`install` wraps the server's ``invocations`` function (looked up at request time). The
composite model calls it when it is loaded inside the scoring server.

Example
-------
>>> clean_message("Failed to predict data '  customer_id  age\\n0  C1  44'. \\nError: "
...               "Failed to enforce schema of data '...' with schema '['age': double]'. "
...               "Error: The input column 'age' is required by the model signature but "
...               "missing from the input data.")
"Input does not match the model signature: The input column 'age' is required by the model signature but missing from the input data."
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from io import StringIO
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException

log = logging.getLogger(__name__)

_SERVER_MODULE = "mlflow.pyfunc.scoring_server"
_PREDICT_DUMP = re.compile(r"^Failed to predict data '.*?'\. \nError: ", re.S)
_SCHEMA_DUMP = re.compile(r"^Failed to enforce schema of data '.*?' with schema '.*?'\. Error: ",
                          re.S)
_CONVERSION_VALUE = re.compile(r"(Failed to convert column .*? to type '[^']*')\. Error: .*$", re.S)
_PARSED_VALUE = re.compile(r"(could not convert string to \w+): .*$", re.S)
_JSON_TYPES = {"application/json", "application/json;charset=utf-8"}
_TABLE_KEYS = ("dataframe_split", "dataframe_records", "inputs")


def clean_message(message: str) -> str:
    """``message`` without the request data MLflow's scoring server writes into it."""
    message = _PREDICT_DUMP.sub("", message)
    message = _SCHEMA_DUMP.sub("Input does not match the model signature: ", message)
    message = _CONVERSION_VALUE.sub(r"\1.", message)
    return _PARSED_VALUE.sub(r"\1", message)


def table_request(data: str | bytes, content_type: str) -> tuple[pd.DataFrame, dict] | None:
    """The table and params of a JSON request in one of the table formats, else None.

    Examples
    --------
    >>> frame, params = table_request('{"dataframe_split": {"columns": ["a"], "data": [[1.5]]},'
    ...                               ' "params": {"reasons": true}}', "application/json")
    >>> frame["a"].tolist(), params
    ([1.5], {'reasons': True})
    >>> table_request('{"instances": [[1.5]]}', "application/json") is None
    True
    """
    if content_type.replace(" ", "").lower() not in _JSON_TYPES:
        return None
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    keys = [key for key in payload if key != "params"]
    params = payload.get("params") or {}
    if len(keys) != 1 or keys[0] not in _TABLE_KEYS or not isinstance(params, dict):
        return None
    table = payload[keys[0]]
    if keys[0] == "dataframe_split":
        if not (isinstance(table, dict) and set(table) <= {"columns", "data", "index"}
                and isinstance(table.get("columns"), list) and isinstance(table.get("data"), list)):
            return None
        return pd.DataFrame(table["data"], columns=table["columns"]), params
    if keys[0] == "dataframe_records":
        if not (isinstance(table, list) and all(isinstance(row, dict) for row in table)):
            return None
        return pd.DataFrame(table), params
    if not (isinstance(table, dict) and all(isinstance(v, list) for v in table.values())):
        return None  # ``inputs`` as a tensor or scalars: MLflow's own parsing
    return pd.DataFrame(table), params


def _fast_answer(server: Any, data: Any, content_type: str, model: Any) -> Any:
    """The server's response for a table request to an opted-in model, or None."""
    try:
        python_model = model.unwrap_python_model()
    except Exception:  # noqa: BLE001 - not a custom pyfunc model
        return None
    if not getattr(python_model, "serves_tables", False):
        return None
    try:
        request = table_request(data, content_type)
        if request is None:
            return None
        predictions = python_model.predict(None, request[0], params=request[1])
        out = StringIO()
        server.predictions_to_json(predictions, out)
        return server.InvocationsResponse(response=out.getvalue(), status=200,
                                          mimetype="application/json")
    except Exception:  # noqa: BLE001 - MLflow's own route answers, and words the error
        log.debug("segml fast path declined a request", exc_info=True)
        return None


def _wrap(invocations: Any, server: Any) -> Any:
    @functools.wraps(invocations)
    def wrapper(data: Any, content_type: Any, model: Any, *args: Any, **kwargs: Any) -> Any:
        answer = _fast_answer(server, data, content_type, model)
        if answer is not None:
            return answer
        try:
            return invocations(data, content_type, model, *args, **kwargs)
        except MlflowException as exc:
            exc.message = clean_message(exc.message)
            raise

    wrapper.segml_wrapped = True  # type: ignore[attr-defined]
    return wrapper


def install() -> bool:
    """Wrap the scoring server's ``invocations`` when the server module is loaded (idempotent).

    Returns True when the server is (now) wrapped, False outside the server.
    """
    server = sys.modules.get(_SERVER_MODULE)
    if server is None or not hasattr(server, "invocations"):
        return False
    if not getattr(server.invocations, "segml_wrapped", False):
        server.invocations = _wrap(server.invocations, server)
    return True
