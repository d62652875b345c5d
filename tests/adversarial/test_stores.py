"""Tracking stores that cannot work (family 15, issue 31): a database URI whose driver is not
installed, a database or server that does not answer, a SQLite store that is full. Each is one
line naming ``tracking.tracking_uri`` (or ``MLFLOW_TRACKING_URI``), in seconds, no traceback and
no password, ``--quiet`` or not."""

from __future__ import annotations

import shutil
import socket
import time

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from segml.tracking import store

from .helpers import SECRET, assert_handled, invoke

DRIVERLESS = [
    pytest.param(f"postgresql://ml:{SECRET}@127.0.0.1:9/mlflow", "psycopg[binary]", id="f15-postgresql-without-psycopg"),
    pytest.param(f"postgresql+psycopg2://ml:{SECRET}@127.0.0.1:9/mlflow", "psycopg2-binary", id="f15-psycopg2-missing"),
    pytest.param(f"postgresql+psycopg://ml:{SECRET}@db.internal/mlflow", "psycopg[binary]", id="f15-psycopg3-missing"),
    pytest.param(f"mysql://ml:{SECRET}@127.0.0.1:9/mlflow", "mysqlclient", id="f15-mysql-without-mysqlclient"),
    pytest.param(f"mysql+pymysql://ml:{SECRET}@127.0.0.1:9/mlflow", "PyMySQL", id="f15-pymysql-missing"),
    pytest.param(f"mssql+pyodbc://ml:{SECRET}@127.0.0.1:9/mlflow", "pyodbc", id="f15-pyodbc-missing"),
    pytest.param(f"postgresql+nosuchdriver://ml:{SECRET}@127.0.0.1:9/mlflow", "not a database URI", id="f15-unknown-driver"),
]


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.mark.parametrize(("uri", "package"), DRIVERLESS)
@pytest.mark.parametrize("command", [pytest.param(["promote", "--version", "1"], id="promote"),
                                     pytest.param(["train", "--data", "{data}", "--quiet"], id="train-quiet")])
def test_a_store_whose_driver_is_missing(source, uri, package, command):
    module = {"psycopg[binary]": "psycopg", "psycopg2-binary": "psycopg2", "mysqlclient": "MySQLdb",
              "PyMySQL": "pymysql", "pyodbc": "pyodbc"}.get(package)
    if module and _installed(module):
        pytest.skip(f"{module} is installed here")
    args = [a.format(data=source) for a in command]
    start = time.perf_counter()
    output = assert_handled(invoke(*args, env={"MLFLOW_TRACKING_URI": uri}), 1, package, SECRET)
    assert "MLFLOW_TRACKING_URI" in output and time.perf_counter() - start < 15


def _refusing_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("scheme", [pytest.param(s, id=f"f15-refused-{s}")
                                    for s in ("postgresql+psycopg2", "mysql+pymysql", "postgresql")])
@pytest.mark.parametrize("via", ["env", "config"])
def test_an_unreachable_database_fails_in_seconds(source, tmp_path, monkeypatch, scheme, via):
    """With the driver present (stubbed here), a database that refuses the connection is one
    line at once, not MLflow's minutes of connection retries."""
    monkeypatch.setattr(store, "_check_driver", lambda uri, key: None)
    uri = f"{scheme}://ml:{SECRET}@127.0.0.1:{_refusing_port()}/mlflow"
    env, args = {}, ["train", "--data", str(source), "--quiet"]
    if via == "env":
        env["MLFLOW_TRACKING_URI"] = uri
    else:
        (tmp_path / "c.yaml").write_text(f"tracking:\n  tracking_uri: '{uri}'\n")
        args += ["--config", str(tmp_path / "c.yaml")]
    start = time.perf_counter()
    output = assert_handled(invoke(*args, env=env), 1, "cannot reach the tracking database",
                            SECRET)
    assert "ml:***@127.0.0.1" in output and time.perf_counter() - start < 15


def test_f15_a_database_that_never_answers_times_out(monkeypatch):
    """A host that drops the packets: the probe gives up after its timeout."""
    from segml.errors import ConfigError

    monkeypatch.setattr(store, "_check_driver", lambda uri, key: None)

    def silent(address, timeout=None):
        time.sleep(min(timeout or 0, 0.2))
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", silent)
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="no answer within 0.2 s"):
        store.check_store(f"postgresql+psycopg2://ml:{SECRET}@10.255.255.1/mlflow", timeout=0.2)
    assert time.perf_counter() - start < 5


def test_f15_http_store_gets_bounded_retries(monkeypatch):
    """MLflow's HTTP retries are bounded (unless the user set them) once the server answers."""
    for name in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.setenv(name, "x")  # recorded, so the test's values are undone after it
        monkeypatch.delenv(name)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        store.check_store(f"http://127.0.0.1:{server.getsockname()[1]}")
    import os

    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "3"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "60"


@pytest.fixture
def full_store(trained, tmp_path):
    """A copy of the trained store whose SQLite file cannot grow (``max_page_count``)."""
    db = tmp_path / "full" / "mlflow.db"
    db.parent.mkdir()
    shutil.copy(f"{trained['folder']}/mlflow.db", db)

    def no_room(connection, record):
        if str(db) in str(connection.execute("PRAGMA database_list").fetchall()):
            pages = connection.execute("PRAGMA page_count").fetchone()[0]
            connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(Engine, "connect", no_room)
    yield f"sqlite:///{db}"
    event.remove(Engine, "connect", no_room)


@pytest.mark.parametrize("args", [
    pytest.param(["train", "--quiet"], id="f15-full-sqlite-train-quiet"),
    pytest.param(["train"], id="f15-full-sqlite-train"),
    pytest.param(["retrain", "--force", "--quiet"], id="f15-full-sqlite-retrain-quiet"),
])
def test_a_full_sqlite_store_is_one_line(full_store, source, tmp_path, args):
    result = invoke(args[0], "--data", source, *args[1:],
                    env={"MLFLOW_TRACKING_URI": full_store,
                         "SEGML_LOCK_DIR": str(tmp_path / "locks")})
    output = assert_handled(result, 1, "the tracking store is full")
    assert "[SQL:" not in output and "[parameters:" not in output
