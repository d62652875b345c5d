"""The model registry: versions, the ``champion``/``challenger`` aliases, promotion and rollback.

Every function takes the tracking URI explicitly (None: :func:`~segml.tracking.store.resolve_tracking_uri`)
and talks to the registry through its own client, so no global MLflow state is changed.

Promotion keeps a history of champions in the registered model's ``segml.champion_history`` tag and
points the ``previous_champion`` alias at the last one, so :func:`rollback` can restore it (and
repeated rollbacks walk further back). A version whose run (or parent run) FAILED or was KILLED is
never promoted.

Example
-------
>>> version = register(info.model_uri, "segml-customer", uri)  # doctest: +SKIP
>>> promote("segml-customer", version, uri)  # doctest: +SKIP
>>> alias_metrics("segml-customer", CHAMPION, uri)["churn_roc_auc"]  # doctest: +SKIP
0.83
>>> CHAMPION, CHALLENGER, PREVIOUS
('champion', 'challenger', 'previous_champion')
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from segml.errors import Problem, SegmlError
from segml.tracking.store import client_for, resolve_tracking_uri, using_tracking_uri

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS = "previous_champion"
HISTORY_TAG = "segml.champion_history"
MAX_HISTORY = 20
_BAD_STATUSES = {"FAILED", "KILLED"}
_NOT_FOUND = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"}


class RegistryError(SegmlError):
    """A registry operation that cannot be done (nothing to roll back, a failed run, ...)."""


def _uri(tracking_uri: str | None) -> str:
    return resolve_tracking_uri(tracking_uri)


def register(model_uri: str, name: str, tracking_uri: str | None = None,
             tags: dict[str, str] | None = None) -> str:
    """Register ``model_uri`` (``runs:/...`` or ``models:/m-...``) under ``name``; returns the version.

    No alias is set: a new version is neither champion nor challenger until told so.
    """
    uri = _uri(tracking_uri)
    with using_tracking_uri(uri):
        mv = mlflow.register_model(model_uri, name, tags=tags)
    log.info("registered %s version %s", name, mv.version)
    return str(mv.version)


def set_alias(name: str, alias: str, version: str | int, tracking_uri: str | None = None) -> None:
    """Point ``alias`` of model ``name`` at ``version``."""
    client_for(_uri(tracking_uri)).set_registered_model_alias(name, alias, str(version))


def get_alias_version(name: str, alias: str, tracking_uri: str | None = None) -> ModelVersion | None:
    """The version ``alias`` points at, or None (no such alias or no such model)."""
    try:
        return client_for(_uri(tracking_uri)).get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in _NOT_FOUND:
            return None
        raise


def _history(client: Any, name: str) -> list[str]:
    tags = client.get_registered_model(name).tags
    try:
        return [str(v) for v in json.loads(tags.get(HISTORY_TAG, "[]"))]
    except json.JSONDecodeError:
        return []


def _check_run_ok(client: Any, run_id: str | None, finishing_run: str | None = None) -> None:
    """Refuse versions whose run (or a parent of it) did not FINISH: FAILED and KILLED runs, and
    runs still RUNNING, which is what a retrain killed with ``kill -9`` leaves behind.

    ``finishing_run`` is the pipeline run promoting its own version just before it ends.
    """
    seen = set()
    while run_id and run_id not in seen:
        seen.add(run_id)
        run = client.get_run(run_id)
        status = run.info.status
        if status in _BAD_STATUSES:
            raise RegistryError([Problem(
                f"run {run_id} ended {status}: its model cannot become champion", key="version")])
        if status != "FINISHED" and run_id != finishing_run:
            raise RegistryError([Problem(
                f"run {run_id} has not finished ({status}; a job killed before it ended leaves "
                "its run so): its model cannot become champion", key="version")])
        run_id = run.data.tags.get("mlflow.parentRunId")


def _require_model(client: Any, name: str) -> None:
    """A clear problem when the store has no registered model ``name``."""
    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code in _NOT_FOUND:
            raise RegistryError([Problem(
                f"no registered model '{name}' in this tracking store (train one with segml "
                "train, or set tracking.registered_model_name / tracking.tracking_uri)",
                key="tracking.registered_model_name")]) from None
        raise


def _version_of(client: Any, name: str, version: str | int) -> ModelVersion:
    """Version ``version`` of ``name``; a number that is not a version is a RegistryError."""
    text = str(version).strip()
    if not re.fullmatch(r"[1-9][0-9]{0,9}", text):
        raise RegistryError([Problem(
            f"--version must be a version number (1, 2, ...), got {text[:40]!r}", key="version")])
    _require_model(client, name)
    try:
        return client.get_model_version(name, text)
    except MlflowException as exc:
        if exc.error_code not in _NOT_FOUND:
            raise
    versions = sorted(int(v.version) for v in client.search_model_versions(f"name = '{name}'"))
    known = f"versions {versions[0]}-{versions[-1]}" if versions else "no versions"
    raise RegistryError([Problem(f"model '{name}' has no version {text} ({known})",
                                 key="version")])


def promote(name: str, version: str | int, tracking_uri: str | None = None, *,
            finishing_run: str | None = None) -> ModelVersion:
    """Make ``version`` the champion; the previous champion becomes ``previous_champion``.

    Idempotent: promoting the current champion changes nothing. A ``challenger`` alias on the
    promoted version is removed. Only a version whose run FINISHED is promoted, except that
    ``finishing_run`` (the pipeline run calling this just before it ends; default: this
    process's active MLflow run) may still be running.
    """
    uri = _uri(tracking_uri)
    client = client_for(uri)
    version = str(version)
    mv = _version_of(client, name, version)
    version = str(mv.version)
    if finishing_run is None and (active := mlflow.active_run()) is not None:
        finishing_run = active.info.run_id  # promoting from inside the run, just before it ends
    _check_run_ok(client, mv.run_id, finishing_run)
    current = get_alias_version(name, CHAMPION, uri)
    if current is not None and str(current.version) == version:
        return mv
    if current is not None:
        history = [*_history(client, name), str(current.version)][-MAX_HISTORY:]
        client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history))
        client.set_registered_model_alias(name, PREVIOUS, str(current.version))
    client.set_model_version_tag(name, version, "segml.promoted_at",
                                 time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    client.set_registered_model_alias(name, CHAMPION, version)  # the commit point
    challenger = get_alias_version(name, CHALLENGER, uri)
    if challenger is not None and str(challenger.version) == version:
        client.delete_registered_model_alias(name, CHALLENGER)
    log.info("%s: champion %s -> %s", name, current.version if current else None, version)
    return client.get_model_version(name, version)


def rollback(name: str, tracking_uri: str | None = None) -> ModelVersion:
    """Restore the previous champion; the rolled-back version is tagged ``segml.rolled_back``."""
    uri = _uri(tracking_uri)
    client = client_for(uri)
    _require_model(client, name)
    history = _history(client, name)
    if not history:
        previous = get_alias_version(name, PREVIOUS, uri)
        history = [str(previous.version)] if previous is not None else []
    current = get_alias_version(name, CHAMPION, uri)
    while history:
        candidate = history.pop()
        try:
            client.get_model_version(name, candidate)
        except MlflowException:
            log.warning("%s: previous champion %s no longer exists; skipping", name, candidate)
            continue
        if current is not None:
            client.set_model_version_tag(name, str(current.version), "segml.rolled_back", "true")
        client.set_registered_model_alias(name, CHAMPION, candidate)
        client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history))
        if history:
            client.set_registered_model_alias(name, PREVIOUS, history[-1])
        elif get_alias_version(name, PREVIOUS, uri) is not None:
            client.delete_registered_model_alias(name, PREVIOUS)
        log.info("%s: rolled back champion %s -> %s", name,
                 current.version if current else None, candidate)
        return client.get_model_version(name, candidate)
    raise RegistryError([Problem(f"model '{name}' has no previous champion to roll back to")])


def alias_metrics(name: str, alias: str, tracking_uri: str | None = None) -> dict[str, float]:
    """Latest metrics of the pipeline run that produced ``name@alias`` (empty if no such alias).

    The version's run may be a nested stage run: metrics of the whole run tree are merged, the
    parent run's values winning over its stages'.
    """
    uri = _uri(tracking_uri)
    mv = get_alias_version(name, alias, uri)
    if mv is None or not mv.run_id:
        return {}
    client = client_for(uri)
    run = client.get_run(mv.run_id)
    seen = {run.info.run_id}
    while (parent := run.data.tags.get("mlflow.parentRunId")) and parent not in seen:
        seen.add(parent)
        run = client.get_run(parent)
    metrics: dict[str, float] = {}
    children = client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'",
        max_results=1000,
    )
    for child in children:
        metrics.update({k: v for k, v in child.data.metrics.items() if k != "duration_seconds"})
    metrics.update(run.data.metrics)
    return metrics


# ----------------------------------------------------------------------------------- serving
def free_port() -> int:
    """A TCP port nobody listens on right now (for tests and benchmarks)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_model(model_uri: str, tracking_uri: str | None = None, port: int | None = None,
                host: str = "127.0.0.1", workers: int = 1, timeout: float = 180.0,
                log_path: str | None = None) -> Iterator[str]:
    """Run ``mlflow models serve -m URI --env-manager local`` in this environment; yield its URL.

    The model's files are checked first (:func:`segml.tracking.model_files.check_servable`):
    MLflow's loader runs a model's code, so a model changed after registration is refused
    before the server starts. The server is started in its own process group and stopped
    (SIGTERM, then SIGKILL) on exit.

    Examples
    --------
    >>> with serve_model("models:/segml-customer@champion") as url:  # doctest: +SKIP
    ...     requests.get(f"{url}/ping").status_code
    200
    """
    import os
    import signal
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path

    from segml.tracking.model_files import check_servable
    from segml.tracking.store import using_tracking_uri

    uri = _uri(tracking_uri)
    with using_tracking_uri(uri):  # the server runs the model's code: checked before it starts
        check_servable(model_uri, uri)
    port = port or free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager",
           "local", "-h", host, "-p", str(port), "-w", str(workers)]
    sink = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"model server exited with code {proc.returncode}"
                                   + (f"; see {log_path}" if log_path else ""))
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"model server not ready after {timeout:.0f} s")
            time.sleep(0.5)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if log_path:
            sink.close()
