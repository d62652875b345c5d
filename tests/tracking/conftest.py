"""A fresh SQLite tracking store per test, copied from one migrated template (migrations are slow)."""

from __future__ import annotations

import os
import shutil

import pytest
from fake_scorer import FakeScorer, pii_free, raw_customers
from mlflow.tracking import MlflowClient

from segml.tracking.store import using_tracking_uri


@pytest.fixture(scope="module", autouse=True)
def pickled_fakes_allowed():
    """These tests log fake scorers, which only a pickle can hold: loading them is opted in
    here, per module (segml refuses a pickled scorer by default; docs/mlflow.md)."""
    saved = os.environ.get("SEGML_ALLOW_PICKLED_SCORER")
    os.environ["SEGML_ALLOW_PICKLED_SCORER"] = "true"
    yield
    if saved is None:
        os.environ.pop("SEGML_ALLOW_PICKLED_SCORER", None)
    else:
        os.environ["SEGML_ALLOW_PICKLED_SCORER"] = saved


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow-template")
    uri = f"sqlite:///{folder}/mlflow.db"
    with using_tracking_uri(uri):
        MlflowClient(uri).search_experiments()  # creates and migrates the tables
    return folder / "mlflow.db"


def fresh_store(folder, template_db) -> str:
    shutil.copy(template_db, folder / "mlflow.db")
    return f"sqlite:///{folder}/mlflow.db"


@pytest.fixture
def store(tmp_path, template_db) -> str:
    return fresh_store(tmp_path, template_db)


@pytest.fixture(scope="module")
def module_store(tmp_path_factory, template_db) -> str:
    return fresh_store(tmp_path_factory.mktemp("store"), template_db)


@pytest.fixture(scope="session")
def scorer() -> FakeScorer:
    return FakeScorer(pii_free(raw_customers(2000, seed=1)))
