"""Read back what a run logged (for the report and for champion-vs-challenger comparisons).

Example
-------
>>> from segml.config import TrackingConfig
>>> summary = run_summary("0" * 32, TrackingConfig(tracking_uri="sqlite:////nonexistent/x.db"))  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from segml.config import TrackingConfig
from segml.errors import Problem, SegmlError


def _client(tracking: TrackingConfig) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking.resolved_uri())


def run_summary(run_id: str, tracking: TrackingConfig) -> dict[str, Any]:
    """Status, params, metrics and tags of one run; a clear error when it does not exist."""
    try:
        run = _client(tracking).get_run(run_id)
    except MlflowException:
        raise SegmlError(
            [Problem(f"no MLflow run {run_id!r} in {tracking.resolved_uri()}", key="run-id")]
        ) from None
    return {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "status": run.info.status,
        "start_time": run.info.start_time,
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
    }


def artifact_location(run_id: str, path: str, tracking_uri: str) -> str:
    """Where artifact ``path`` of a run is: a local file path for a local artifact store, else
    its URI (open it with ``segml report --run-id``).

    Example
    -------
    >>> artifact_location("0" * 32, "report.html", "sqlite:////nonexistent/x.db")  # doctest: +SKIP
    '/nonexistent/mlartifacts/1/000.../artifacts/report.html'
    """
    from urllib.parse import unquote, urlparse

    root = MlflowClient(tracking_uri=tracking_uri).get_run(run_id).info.artifact_uri
    uri = f"{root.rstrip('/')}/{path}"
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    return uri if parsed.scheme else str(Path(uri))


def download_run_artifacts(run_id: str, tracking: TrackingConfig, destination: str | Path) -> Path:
    """Copy every artifact of a run (not a model) into ``destination``, in one download (MLflow
    shows one progress bar at most, none from the CLI) unless a model sits among them (runs
    logged before MLflow 3 kept it there), which is skipped."""
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    client = _client(tracking)
    items = [item.path for item in client.list_artifacts(run_id)]
    legacy = {"model", "segml_model"}
    for path in [p for p in items if p not in legacy] if legacy & set(items) else [None]:
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=path, dst_path=str(destination),
            tracking_uri=tracking.resolved_uri(),
        )  # fmt: skip
    return destination
