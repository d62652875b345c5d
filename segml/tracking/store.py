"""Which MLflow tracking store to talk to, and pointing the fluent API at it.

Every segml entry point resolves the store once (config, then ``$MLFLOW_TRACKING_URI``, then
``sqlite:///mlflow.db`` in the working directory) and scopes MLflow's global URIs to it with
:func:`using_tracking_uri`, so a notebook that trains against two stores never mixes them.

Example
-------
>>> resolve_tracking_uri("sqlite:////tmp/x.db")
'sqlite:////tmp/x.db'
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

DEFAULT_URI = "sqlite:///mlflow.db"


# ------------------------------------------------------------------------------ tracking URIs
def resolve_tracking_uri(tracking_cfg: Any = None) -> str:
    """The tracking URI a run should use.

    Parameters
    ----------
    tracking_cfg : SegmlConfig, TrackingConfig, str or None
        A full config (its ``resolved_tracking_uri()`` is used), its ``tracking`` section, an URI,
        or None. Unset: ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` in the cwd.

    Examples
    --------
    >>> resolve_tracking_uri("sqlite:////tmp/x.db")
    'sqlite:////tmp/x.db'
    """
    if isinstance(tracking_cfg, str):
        return tracking_cfg
    for method in ("resolved_tracking_uri", "resolved_uri"):
        if hasattr(tracking_cfg, method):
            return str(getattr(tracking_cfg, method)())
    explicit = getattr(tracking_cfg, "tracking_uri", None)
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI


def default_artifact_location(tracking_uri: str) -> str | None:
    """Local artifacts next to a SQLite store (``<db folder>/mlartifacts``); None otherwise.

    Examples
    --------
    >>> default_artifact_location("sqlite:////data/ml/mlflow.db")
    'file:///data/ml/mlartifacts'
    >>> default_artifact_location("http://mlflow:5000") is None
    True
    """
    if not tracking_uri.startswith("sqlite:///"):
        return None
    db = Path(tracking_uri.removeprefix("sqlite:///"))
    return (db.absolute().parent / "mlartifacts").as_uri()


@contextmanager
def using_tracking_uri(uri: str) -> Iterator[str]:
    """Point the fluent MLflow API (tracking and registry) at ``uri``; restore everything after."""
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    saved = (
        getattr(tracking_utils, "_tracking_uri", None),
        getattr(registry_utils, "_registry_uri", None),
        os.environ.get("MLFLOW_TRACKING_URI"),
        os.environ.get("MLFLOW_REGISTRY_URI"),
    )
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield uri
    finally:
        tracking_utils._tracking_uri = saved[0]
        registry_utils._registry_uri = saved[1]
        for name, value in (("MLFLOW_TRACKING_URI", saved[2]), ("MLFLOW_REGISTRY_URI", saved[3])):
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def model_store(model_uri: str, tracking: Any = None) -> Iterator[str]:
    """:func:`using_tracking_uri` for reading ``model_uri``; MLflow's errors become a SegmlError
    naming the model (exit code 1, no traceback)."""
    from mlflow.exceptions import MlflowException

    from segml.errors import Problem, SegmlError

    with using_tracking_uri(resolve_tracking_uri(tracking)) as uri:
        try:
            yield uri
        except MlflowException as exc:
            raise SegmlError([Problem(f"cannot load model {model_uri}: {exc.message}",
                                      key="model")]) from None


def check_store(uri: str, key: str = "tracking.tracking_uri", timeout: float = 5.0) -> None:
    """Refuse a tracking URI that cannot work before any work starts, naming ``key``.

    An unknown scheme, a server that does not answer (MLflow would retry it for minutes, then
    fail with a traceback holding the URI and its password) or a sqlite store whose folder does
    not exist is a :class:`~segml.errors.ConfigError`; credentials never appear in it.

    Examples
    --------
    >>> check_store("http://alice:pw@127.0.0.1:9", timeout=1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    segml.errors.ConfigError: error: tracking.tracking_uri: cannot reach the tracking server http://alice:***@127.0.0.1:9 (...)
    """

    from segml.config.checks import check_tracking_uri
    from segml.errors import ConfigError, Problem, redact

    try:
        check_tracking_uri(uri)
    except ValueError as exc:
        raise ConfigError([Problem(f"{key}: {exc}", key=key)]) from None
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme in ("http", "https"):
        # A server that accepts the connection but answers slowly: MLflow's defaults (7 retries
        # with backoff, 120 s a request) make that minutes of retry warnings; a few tries do.
        for name, value in (("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3"),
                            ("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")):
            os.environ.setdefault(name, value)
        _probe(uri, 443 if scheme == "https" else 80, "the tracking server", key, timeout)
    elif scheme.split("+")[0] in _DB_PORTS:
        _check_driver(uri, key)
        _probe(uri, _DB_PORTS[scheme.split("+")[0]], "the tracking database", key, timeout)
    elif scheme == "sqlite":
        path = uri.removeprefix("sqlite:///").split("?", 1)[0]
        folder = Path(path).absolute().parent
        if path and not folder.is_dir():
            raise ConfigError([Problem(
                f"{key}: the folder of the sqlite store {redact(uri)} does not exist", key=key)])


#: SQLAlchemy store schemes and their default ports (probed before MLflow connects: its own
#: connection retries take minutes against a database that does not answer).
_DB_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433, "oracle": 1521}
#: The package to install for a DB-API module SQLAlchemy looks for.
_DRIVER_PACKAGES = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary",
                    "MySQLdb": "mysqlclient", "pymysql": "PyMySQL", "pyodbc": "pyodbc",
                    "pg8000": "pg8000", "oracledb": "oracledb", "asyncpg": "asyncpg"}


def _probe(uri: str, default_port: int, what: str, key: str, timeout: float) -> None:
    """Open (and close) a TCP connection to the store's host and port within ``timeout``."""
    import socket
    from urllib.parse import urlsplit

    from segml.errors import ConfigError, Problem, redact

    try:
        parts = urlsplit(uri)
        port = parts.port or default_port
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            pass
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        if isinstance(exc, TimeoutError | socket.timeout):
            reason = f"no answer within {timeout:g} s"
        raise ConfigError([Problem(f"{key}: cannot reach {what} {redact(uri)} ({reason})",
                                   key=key)]) from None


def _check_driver(uri: str, key: str) -> None:
    """The DB-API module SQLAlchemy needs for ``uri`` must be importable: a missing one is one
    line naming the package (``postgresql://`` means psycopg 3 to SQLAlchemy 2.1)."""
    from sqlalchemy.engine import make_url

    from segml.errors import ConfigError, Problem, redact

    try:
        dialect = make_url(uri).get_dialect()
        dialect.import_dbapi()
    except ImportError as exc:
        module = (getattr(exc, "name", None) or str(exc)).split(".")[0]
        package = _DRIVER_PACKAGES.get(module, module)
        hint = (" (or write postgresql+psycopg2:// to use psycopg2, which the scale extra "
                "installs)" if module == "psycopg" else "")
        raise ConfigError([Problem(
            f"{key}: the store {redact(uri)} needs the Python package '{package}', which is not "
            f"installed: pip install '{package}'{hint}", key=key)]) from None
    except Exception as exc:  # noqa: BLE001 - an URI SQLAlchemy cannot read at all
        raise ConfigError([Problem(f"{key}: not a database URI SQLAlchemy reads: {redact(uri)} "
                                   f"({type(exc).__name__})", key=key)]) from None


def client_for(tracking_uri: str) -> MlflowClient:
    """A client bound to one store for tracking and registry alike."""
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def get_or_create_experiment(
    client: MlflowClient, name: str, artifact_location: str | None = None
) -> str:
    """The id of experiment ``name``, created (with ``artifact_location``) when missing."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_location)
    except mlflow.exceptions.MlflowException:  # created concurrently by another process
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def user_problem(exc: BaseException) -> Any:
    """A one-line :class:`~segml.errors.Problem` for an error from MLflow or its store, or None.

    The CLI shows this instead of a traceback: the first line of MLflow's message, credentials
    redacted, naming the tracking URI key when the store could not be reached.
    """
    from segml.errors import Problem, redact

    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    first = redact(text[0] if text else type(exc).__name__)[:400]
    if "disk is full" in first or "No space left" in first:
        return Problem(f"tracking.tracking_uri: the tracking store is full ({first}); free space "
                       "for it, or point the tracking URI at another store",
                       key="tracking.tracking_uri")
    if isinstance(exc, mlflow.exceptions.MlflowException):
        unreachable = "Max retries exceeded" in first or "Connection" in first
        if unreachable:
            return Problem(f"tracking.tracking_uri: cannot reach the tracking server: {first}",
                           key="tracking.tracking_uri")
        return Problem(f"MLflow: {first}")
    module = type(exc).__module__.split(".")[0]
    if module in ("requests", "urllib3", "sqlalchemy", "alembic"):
        return Problem(f"tracking.tracking_uri: the tracking store failed: "
                       f"{type(exc).__name__}: {first}", key="tracking.tracking_uri")
    return None
