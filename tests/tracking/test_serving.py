"""Scoring-server hooks: errors keep the column and lose the request data; JSON tables take the
fast path to the composite model with MLflow's answers (issue 6)."""

from __future__ import annotations

import json
import sys
import types

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import scoring_server

from segml.tracking import log_segml_model, pipeline_run, serving
from segml.tracking.serving import clean_message, table_request
from segml.tracking.store import using_tracking_uri

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
    server.InvocationsResponse = scoring_server.InvocationsResponse
    monkeypatch.setitem(sys.modules, "mlflow.pyfunc.scoring_server", server)
    assert serving.install() and serving.install()
    assert server.invocations.__wrapped__ is invocations  # wrapped once, not twice
    server.predictions_to_json = None  # no fast path: the model (None) has not opted in
    # MLflow's error is answered, not raised: its status kept, the data dropped, no stack trace
    response = server.invocations("{}", "application/json", None, None)
    assert response.status == 400
    assert json.loads(response.response) == {"error_code": "INVALID_PARAMETER_VALUE",
                                             "message": "column 'age' is missing"}


def test_install_does_nothing_outside_the_server(monkeypatch):
    monkeypatch.delitem(sys.modules, "mlflow.pyfunc.scoring_server", raising=False)
    assert serving.install() is False


@pytest.mark.parametrize("payload", [
    {"dataframe_split": {"columns": ["a", "b"], "data": [[1.5, "x"], [None, "y"]]}},
    {"dataframe_records": [{"a": 1.5, "b": "x"}, {"a": None, "b": "y"}]},
    {"inputs": {"a": [1.5, None], "b": ["x", "y"]}},
])
def test_table_request_reads_the_three_table_formats(payload):
    frame, params = table_request(json.dumps({**payload, "params": {"reasons": True}}),
                                  "application/json; charset=utf-8")
    assert frame["b"].tolist() == ["x", "y"] and frame["a"].iloc[0] == 1.5
    assert params == {"reasons": True}


@pytest.mark.parametrize("payload, content_type", [
    ({"instances": [[1.5]]}, "application/json"),
    ({"inputs": [[1.5]]}, "application/json"),
    ({"dataframe_split": {"columns": ["a"], "data": [[1]]}, "inputs": {"a": [1]}},
     "application/json"),
    ({"dataframe_split": {"columns": ["a"], "data": [[1]]}}, "text/csv"),
    ({"dataframe_split": {"columns": ["a"], "data": [[1]]}, "params": [1]}, "application/json"),
])
def test_table_request_leaves_everything_else_to_mlflow(payload, content_type):
    assert table_request(json.dumps(payload), content_type) is None


@pytest.fixture(scope="module")
def logged(module_store, scorer):
    with pipeline_run(module_store, "serving-tests") as run, run.stage("register"):
        info = log_segml_model(scorer)
    with using_tracking_uri(module_store):
        return mlflow.pyfunc.load_model(info.model_uri)


def _answer(invocations, payload, model):
    response = invocations(json.dumps(payload), "application/json", model,
                           model.metadata.get_input_schema())
    return response.status, json.loads(response.response)


def test_fast_path_answers_as_mlflow_does_for_every_table_format(logged, scorer):
    mlflow_route = getattr(scoring_server.invocations, "__wrapped__", scoring_server.invocations)
    calls = []

    def counted(*args, **kwargs):
        calls.append(args)
        return mlflow_route(*args, **kwargs)

    fast = serving._wrap(counted, scoring_server)
    rows = scorer.sample_.head(3)
    split = json.loads(rows.to_json(orient="split", index=False))
    payloads = [
        {"dataframe_split": split},
        {"dataframe_split": split, "params": {"reasons": True}},
        {"dataframe_records": json.loads(rows.to_json(orient="records"))},
        {"inputs": {c: [r[i] for r in split["data"]] for i, c in enumerate(split["columns"])}},
    ]
    for payload in payloads:
        assert _answer(fast, payload, logged) == _answer(mlflow_route, payload, logged)
    assert not calls  # every table request took the fast path

    # a request the model refuses is answered on the fast path, naming the column, not the data
    at = split["columns"].index("monetary_sum")
    wrong = {**split, "data": [[*r[:at], "lots", *r[at + 1:]] for r in split["data"]]}
    status, body = _answer(fast, {"dataframe_split": wrong}, logged)
    assert not calls and status == 400 and "monetary_sum" in body["message"]
    assert "lots" not in json.dumps(body) and rows["customer_id"].iloc[0] not in json.dumps(body)
    # what the fast path does not take goes to MLflow's route, whose errors lose the data too
    status, body = _answer(fast, {"instances": [{"customer_id": "C-secret", "frequency": "x"}]},
                           logged)
    assert len(calls) == 1 and status == 400 and "C-secret" not in json.dumps(body)


@pytest.mark.parametrize("in_server", [True, False])
def test_the_server_scores_an_example_when_it_loads_the_model(monkeypatch, scorer, tmp_path,
                                                               in_server):
    import cloudpickle

    from segml.tracking import SegmlModel

    path = tmp_path / "scorer.pkl"
    path.write_bytes(cloudpickle.dumps(scorer))
    calls = []
    monkeypatch.setattr(serving, "install", lambda: in_server)
    monkeypatch.setattr(SegmlModel, "predict",
                        lambda self, context, frame, params=None: calls.append((frame, params)))
    SegmlModel().load_context(types.SimpleNamespace(artifacts={"scorer": str(path)}))
    if in_server:  # the tree walks compile and the SHAP tables build before the first request
        (frame, params), = calls
        assert params == {"reasons": True} and len(frame) == 1
    else:
        assert calls == []
