"""Error answers of ``mlflow models serve`` that name the column but never echo the request's data.

MLflow's scoring server puts the whole parsed request into its error messages
(``Failed to predict data '<the input>' ...``, ``Failed to enforce schema of data '<the input>'
with schema ...``) and a type-conversion error quotes the offending value. Those messages go back
to the caller and into the server log, so a bad request would copy customer data into places it
must not reach. :func:`install` wraps the server's ``invocations`` function (looked up at request
time) so that its MLflow errors keep their status code and the part that names the column, and
lose the data. The composite model calls it when it is loaded inside the scoring server.

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
import re
import sys
from typing import Any

from mlflow.exceptions import MlflowException

_SERVER_MODULE = "mlflow.pyfunc.scoring_server"
_PREDICT_DUMP = re.compile(r"^Failed to predict data '.*?'\. \nError: ", re.S)
_SCHEMA_DUMP = re.compile(r"^Failed to enforce schema of data '.*?' with schema '.*?'\. Error: ",
                          re.S)
_CONVERSION_VALUE = re.compile(r"(Failed to convert column .*? to type '[^']*')\. Error: .*$", re.S)
_PARSED_VALUE = re.compile(r"(could not convert string to \w+): .*$", re.S)


def clean_message(message: str) -> str:
    """``message`` without the request data MLflow's scoring server writes into it."""
    message = _PREDICT_DUMP.sub("", message)
    message = _SCHEMA_DUMP.sub("Input does not match the model signature: ", message)
    message = _CONVERSION_VALUE.sub(r"\1.", message)
    return _PARSED_VALUE.sub(r"\1", message)


def _quiet(invocations: Any) -> Any:
    @functools.wraps(invocations)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return invocations(*args, **kwargs)
        except MlflowException as exc:
            exc.message = clean_message(exc.message)
            raise

    wrapper.segml_quiet = True  # type: ignore[attr-defined]
    return wrapper


def install() -> bool:
    """Wrap the scoring server's ``invocations`` when the server module is loaded (idempotent).

    Returns True when the server is (now) wrapped, False outside the server.
    """
    server = sys.modules.get(_SERVER_MODULE)
    if server is None or not hasattr(server, "invocations"):
        return False
    if not getattr(server.invocations, "segml_quiet", False):
        server.invocations = _quiet(server.invocations)
    return True
