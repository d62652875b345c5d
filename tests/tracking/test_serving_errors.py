"""Scoring-server errors keep the column and lose the request data (issue 6)."""

from __future__ import annotations

import sys
import types

import pytest
from mlflow.exceptions import MlflowException

from segml.tracking import serving_errors
from segml.tracking.serving_errors import clean_message

DUMP = "  customer_id  monetary_sum\n0   C0000042        1003.7"


@pytest.mark.parametrize(
    "message, kept",
    [
        (f"Failed to predict data '{DUMP}'. \nError: Failed to enforce schema of data '{DUMP}' "
         "with schema '['customer_id': string (required), 'frequency': double (required)]'. "
         "Error: Model is missing inputs ['frequency'].",
         "Input does not match the model signature: Model is missing inputs ['frequency']."),
        ("Data is not compatible with model signature. Failed to convert column monetary_sum to "
         "type 'float64'. Error: 'ValueError(\"could not convert string to float: 'C0000042'\")'",
         "Data is not compatible with model signature. Failed to convert column monetary_sum to "
         "type 'float64'."),
        ("Invalid input. could not convert string to float: 'C0000042'",
         "Invalid input. could not convert string to float"),
        ("input has no rows: send at least one customer",
         "input has no rows: send at least one customer"),
    ],
)
def test_clean_message_keeps_the_column_and_drops_the_data(message, kept):
    cleaned = clean_message(message)
    assert cleaned == kept
    assert "C0000042" not in cleaned and "1003.7" not in cleaned


def test_install_wraps_the_server_once_and_keeps_the_status(monkeypatch):
    def invocations(data, content_type, model, input_schema):
        raise MlflowException.invalid_parameter_value(f"Failed to predict data '{DUMP}'. \nError: "
                                                      "column 'age' is missing")

    server = types.ModuleType("mlflow.pyfunc.scoring_server")
    server.invocations = invocations
    monkeypatch.setitem(sys.modules, "mlflow.pyfunc.scoring_server", server)
    assert serving_errors.install() and serving_errors.install()
    assert server.invocations.__wrapped__ is invocations  # wrapped once, not twice
    with pytest.raises(MlflowException) as info:
        server.invocations("{}", "application/json", None, None)
    assert info.value.message == "column 'age' is missing"
    assert info.value.get_http_status_code() == 400


def test_install_does_nothing_outside_the_server(monkeypatch):
    monkeypatch.delitem(sys.modules, "mlflow.pyfunc.scoring_server", raising=False)
    assert serving_errors.install() is False
