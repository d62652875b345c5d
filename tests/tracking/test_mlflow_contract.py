"""What segml relies on in MLflow, checked against the installed version (issue 20).

The serving fast path (``segml.tracking.serving``) wraps the scoring server's module-level
``invocations`` and builds answers with its ``InvocationsResponse`` and
``predictions_to_json``. Those are internals: if an MLflow release inside the declared range
changed them, the fast path would silently stop applying (every request would take MLflow's
slower route). These tests drive MLflow's own FastAPI app in process and fail when that happens.
"""

from __future__ import annotations

import asyncio
import json
import tomllib
import warnings
from importlib.metadata import version
from pathlib import Path

import mlflow
import pytest
from mlflow.pyfunc import scoring_server
from packaging.requirements import Requirement

from segml.tracking import log_segml_model, pipeline_run, serving
from segml.tracking.store import using_tracking_uri

ROOT = Path(__file__).resolve().parents[2]


def _declared(name: str) -> Requirement:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (found,) = [Requirement(r) for r in project["dependencies"] if Requirement(r).name == name]
    return found


def test_the_installed_mlflow_is_inside_the_declared_range_which_stops_before_4():
    requirement = _declared("mlflow")
    assert requirement.specifier.contains(version("mlflow")), (requirement, version("mlflow"))
    assert not requirement.specifier.contains("4.0.0")  # a major release is checked, not assumed
    assert not requirement.specifier.contains("2.22.0")  # log_model(name=...) needs MLflow 3


@pytest.fixture(scope="module")
def served(module_store, scorer):
    """The fake composite logged and loaded as ``mlflow models serve`` loads it."""
    with pipeline_run(module_store, "contract") as run, run.stage("register"):
        info = log_segml_model(scorer)
    with using_tracking_uri(module_store):
        model = mlflow.pyfunc.load_model(info.model_uri)
    return model


async def _post(app, body: bytes) -> tuple[int, bytes]:
    """One POST /invocations through the ASGI app (what uvicorn does for a request)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/invocations", "raw_path": b"/invocations",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 5001),
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
    }
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive():
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent
                                     if m["type"] == "http.response.body")


def test_the_fast_path_answers_requests_inside_mlflows_own_scoring_app(served, scorer,
                                                                       monkeypatch):
    assert serving.install()  # the scoring server module is imported: the hook is in place
    answered = []
    fast = serving._fast_answer

    def counted(*args, **kwargs):
        answer = fast(*args, **kwargs)
        answered.append(answer is not None)
        return answer

    monkeypatch.setattr(serving, "_fast_answer", counted)
    app = scoring_server.init(served)
    rows = scorer.sample_.head(2)
    split = json.loads(rows.to_json(orient="split", index=False))
    status, body = asyncio.run(_post(app, json.dumps({"dataframe_split": split}).encode()))
    assert status == 200, body
    predictions = json.loads(body)["predictions"]
    assert [p["customer_id"] for p in predictions] == rows["customer_id"].tolist()
    assert answered == [True], "MLflow's scoring app no longer goes through segml's fast path"

    # a bad column is answered there too: a 400 naming it, never the data
    at = split["columns"].index("monetary_sum")
    wrong = {**split, "data": [[*r[:at], "lots", *r[at + 1:]] for r in split["data"]]}
    status, body = asyncio.run(_post(app, json.dumps({"dataframe_split": wrong}).encode()))
    assert status == 400 and b"monetary_sum" in body and b"lots" not in body
    assert answered == [True, True]


def test_logging_the_composite_warns_about_nothing(store, scorer, caplog):
    """Models from code: MLflow pickles no Python object, so it has no CloudPickle warning."""
    with warnings.catch_warnings(record=True) as caught, caplog.at_level("WARNING"):
        warnings.simplefilter("always")
        with pipeline_run(store, "quiet") as run, run.stage("register"):
            log_segml_model(scorer)
    messages = [r.getMessage() for r in caplog.records] + [str(w.message) for w in caught]
    assert not [m for m in messages if "CloudPickle" in m or "python_model" in m], messages
