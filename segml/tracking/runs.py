"""MLflow runs for pipeline executions: one parent run, one nested run per stage.

Only ``segml.tracking`` imports mlflow. Every helper here logs identifiers, counts, dates, metrics
and frames the caller hands over; none of them reads raw customer tables, so PII dropped at load
can never reach a param, a tag or an artifact through this module.

Example
-------
>>> import tempfile
>>> from segml.config import TrackingConfig
>>> folder = tempfile.mkdtemp()
>>> cfg = TrackingConfig(tracking_uri=f"sqlite:///{folder}/mlflow.db", experiment_name="doc")
>>> with pipeline_run(cfg, "doctest", tags={"segml.mode": "behavioural"}) as run:  # doctest: +SKIP
...     with run.stage("features"):
...         log_metrics({"n_features": 42})
>>> resolve_tracking_uri(cfg) == f"sqlite:///{folder}/mlflow.db"
True
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from segml.errors import redact
from segml.tracking.interrupts import RunInterrupted, interrupts_deferred, interrupts_raise
from segml.tracking.store import (
    client_for,
    default_artifact_location,
    get_or_create_experiment,
    resolve_tracking_uri,
    using_tracking_uri,
)

log = logging.getLogger(__name__)

STAGES = ("load", "features", "segments", "predictors", "evaluate", "explain", "register")
MAX_PARAMS_PER_CALL = 100
MAX_PARAM_LENGTH = 6000  # MLflow 3 accepts 6000 characters per param value
MAX_TAG_LENGTH = 5000


# ------------------------------------------------------------------------------- code version
def code_version_tags() -> dict[str, str]:
    """``segml.version`` and, when the package lives in a git checkout, ``segml.git_commit``."""
    tags: dict[str, str] = {}
    try:
        from importlib.metadata import version

        tags["segml.version"] = version("segml")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        import segml

        tags["segml.version"] = str(getattr(segml, "__version__", None) or "unknown")
    try:
        import segml

        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(segml.__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if out.returncode == 0 and out.stdout.strip():
            tags["segml.git_commit"] = out.stdout.strip()
            tags["mlflow.source.git.commit"] = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return tags


# ------------------------------------------------------------------------- logging primitives
def _truncate(value: Any, limit: int) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _run_id(run_id: str | None) -> str:
    if run_id is not None:
        return run_id
    active = mlflow.active_run()
    if active is None:
        raise RuntimeError("no active MLflow run: use pipeline_run(...) or pass run_id")
    return active.info.run_id


def log_params(params: Mapping[str, Any], run_id: str | None = None) -> None:
    """Log params in batches of <= 100, values truncated to MLflow's limit."""
    rid = _run_id(run_id)
    client = MlflowClient()
    items = [Param(str(k), _truncate(v, MAX_PARAM_LENGTH)) for k, v in params.items()]
    for start in range(0, len(items), MAX_PARAMS_PER_CALL):
        client.log_batch(rid, params=items[start : start + MAX_PARAMS_PER_CALL])


def set_tags(tags: Mapping[str, Any], run_id: str | None = None) -> None:
    """Set tags (values truncated), batched."""
    rid = _run_id(run_id)
    items = [RunTag(str(k), _truncate(v, MAX_TAG_LENGTH)) for k, v in tags.items()]
    for start in range(0, len(items), MAX_PARAMS_PER_CALL):
        MlflowClient().log_batch(rid, tags=items[start : start + MAX_PARAMS_PER_CALL])


def log_metrics(
    metrics: Mapping[str, Any], step: int | None = None, run_id: str | None = None
) -> dict[str, float]:
    """Log finite numeric metrics (NaN, inf and None dropped); returns what was logged.

    Examples
    --------
    >>> log_metrics({"auc": float("nan")}, run_id="unused")
    {}
    """
    clean = {}
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            clean[str(key)] = number
    if not clean:
        return clean
    rid = _run_id(run_id)
    stamp = int(time.time() * 1000)
    items = [Metric(k, v, stamp, step or 0) for k, v in clean.items()]
    for start in range(0, len(items), 1000):
        MlflowClient().log_batch(rid, metrics=items[start : start + 1000])
    return clean


def redact_uri(uri: str) -> str:
    """Hide the password of ``scheme://user:password@host`` URIs.

    Examples
    --------
    >>> redact_uri("postgresql://ml:secret@db:5432/mlflow")
    'postgresql://ml:***@db:5432/mlflow'
    """
    return redact(uri)


def log_config(config: Any, run_id: str | None = None) -> None:
    """Flattened config as params and the YAML as ``config/config.yaml``.

    The config holds column *names*, never data values. Even so, the names of the PII columns are
    replaced by their count (``data.customers.pii_count``) and credentials in the tracking URI are
    masked, so no PII column name or secret appears in MLflow.
    """
    from segml.config import dump_config, flatten_config

    rid = _run_id(run_id)
    safe = config.model_copy(deep=True)
    n_pii = len(safe.data.customers.pii)
    safe.data.customers.pii = []
    if safe.tracking.tracking_uri:
        safe.tracking.tracking_uri = redact_uri(safe.tracking.tracking_uri)
    params = flatten_config(safe)
    params["data.customers.pii"] = "<redacted>"
    params["data.customers.pii_count"] = str(n_pii)
    log_params(params, run_id=rid)
    header = f"# segml config as run; {n_pii} PII column name(s) redacted from data.customers.pii\n"
    MlflowClient().log_text(rid, header + dump_config(safe), "config/config.yaml")


def log_dict(obj: Any, name: str, run_id: str | None = None) -> None:
    """A JSON (``.json``) or YAML (``.yaml``) artifact from a dict or list."""
    MlflowClient().log_dict(_run_id(run_id), obj, name)


def log_data_fingerprints(fingerprints: Mapping[str, Any], run_id: str | None = None) -> None:
    """Row counts, date ranges, hashes: params ``fingerprint.<table>.<key>`` + ``data/fingerprints.json``."""
    rid = _run_id(run_id)
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}.{k}", v)
        else:
            flat[prefix] = value

    for key, value in fingerprints.items():
        walk(f"fingerprint.{key}", value)
    log_params(flat, run_id=rid)
    MlflowClient().log_dict(rid, json.loads(json.dumps(fingerprints, default=str)),
                            "data/fingerprints.json")


def log_frame(frame: pd.DataFrame, artifact_path: str, run_id: str | None = None) -> str:
    """A DataFrame as an artifact: ``.csv`` suffix gives CSV, anything else Parquet.

    Returns the artifact path inside the run.
    """
    rid = _run_id(run_id)
    name = Path(artifact_path).name
    if not name.endswith((".csv", ".parquet")):
        name += ".parquet"
    folder = str(Path(artifact_path).parent)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / name
        if name.endswith(".csv"):
            frame.to_csv(target)
        else:
            frame.to_parquet(target)
        MlflowClient().log_artifact(rid, str(target), None if folder == "." else folder)
    return name if folder == "." else f"{folder}/{name}"


def log_figure_file(path: str | os.PathLike[str], artifact_path: str = "figures",
                    run_id: str | None = None) -> None:
    """An image/HTML file already written to disk (the report's plots)."""
    MlflowClient().log_artifact(_run_id(run_id), str(path), artifact_path)


def log_problems(problems: Sequence[Any], name: str = "readiness/problems.json",
                 run_id: str | None = None) -> None:
    """Readiness/validation problems as JSON plus ``problems_errors``/``problems_warnings`` counts."""
    rows = [p.to_dict() if hasattr(p, "to_dict") else {"message": str(p)} for p in problems]
    rid = _run_id(run_id)
    MlflowClient().log_dict(rid, rows, name)
    errors = sum(1 for r in rows if r.get("severity") == "error")
    stem = Path(name).stem
    log_metrics({f"{stem}_errors": errors, f"{stem}_warnings": len(rows) - errors}, run_id=rid)


def log_artifacts(folder: str | os.PathLike[str], artifact_path: str | None = None,
                  run_id: str | None = None) -> None:
    """Every file under ``folder`` (report, profiles, plots), keeping the tree."""
    MlflowClient().log_artifacts(_run_id(run_id), str(folder), artifact_path)


def find_finished_run(tracking_cfg: Any, tags: Mapping[str, str],
                      experiment_name: str | None = None) -> dict[str, Any] | None:
    """The latest FINISHED run of the experiment carrying all ``tags`` (None if there is none).

    Returns ``{"run_id", "tags", "params", "metrics"}``; used to make re-runs idempotent.
    """
    uri = resolve_tracking_uri(tracking_cfg)
    section = getattr(tracking_cfg, "tracking", tracking_cfg)
    name = experiment_name or getattr(section, "experiment_name", None) or "segml"
    client = client_for(uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        return None
    clauses = ["attributes.status = 'FINISHED'"] + [
        f"tags.`{k}` = '{str(v).replace(chr(39), chr(92) + chr(39))}'" for k, v in tags.items()
    ]
    found = client.search_runs([experiment.experiment_id], " and ".join(clauses),
                               order_by=["attributes.start_time DESC"], max_results=1)
    if not found:
        return None
    run = found[0]
    return {"run_id": run.info.run_id, "tags": dict(run.data.tags),
            "params": dict(run.data.params), "metrics": dict(run.data.metrics)}


def _end_parent(run_id: str, status: str) -> bool:
    """End the parent run (and any stage left open) with ``status``; False when it had ended
    already (FINISHED, and a signal came after): then it stays as it is."""
    while (active := mlflow.active_run()) is not None:
        mlflow.end_run(status=status)
        if active.info.run_id == run_id:
            log.warning("run %s marked %s", run_id, status)
            return True
    return False


# ----------------------------------------------------------------------------------- the run
@dataclass
class RunHandle:
    """The parent run of one pipeline execution (what :func:`pipeline_run` yields)."""

    run_id: str
    experiment_id: str
    tracking_uri: str
    stage_runs: dict[str, str] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    _on_success: list[Any] = field(default_factory=list, repr=False)

    @contextmanager
    def stage(self, name: str, nested: bool = True) -> Iterator[str]:
        """A nested run for one stage; yields its run id and records ``stage_<name>_seconds``.

        ``nested=False`` only times the stage, which works in the parent run (whose id it
        yields): the ``register`` stage logs the model there, so a version's source run is the
        run that holds its metrics.
        """
        if name not in STAGES:
            log.debug("stage %r is not one of the standard stages %s", name, STAGES)
        start = time.perf_counter()
        if not nested:
            try:
                yield self.run_id
            finally:
                self.stage_seconds[name] = time.perf_counter() - start
                log_metrics({f"stage_{name}_seconds": self.stage_seconds[name]},
                            run_id=self.run_id)
            return
        with mlflow.start_run(run_name=name, nested=True, experiment_id=self.experiment_id,
                              tags={"segml.stage": name}) as child:
            self.stage_runs[name] = child.info.run_id
            try:
                yield child.info.run_id
            except KeyboardInterrupt:  # SIGINT/SIGTERM: KILLED (MLflow's default says FAILED)
                mlflow.end_run(status="KILLED")
                raise
            finally:
                seconds = time.perf_counter() - start
                self.stage_seconds[name] = seconds
                log_metrics({"duration_seconds": seconds}, run_id=child.info.run_id)
                log_metrics({f"stage_{name}_seconds": seconds}, run_id=self.run_id)

    def on_success(self, action: Any) -> None:
        """Run ``action()`` after the body succeeded, before the run is marked FINISHED.

        Use it for promotion: if anything in the run failed, the champion is never touched.
        """
        self._on_success.append(action)

    # parent-run logging shortcuts
    def log_metrics(self, metrics: Mapping[str, Any]) -> dict[str, float]:
        return log_metrics(metrics, run_id=self.run_id)

    def log_params(self, params: Mapping[str, Any]) -> None:
        log_params(params, run_id=self.run_id)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        set_tags(tags, run_id=self.run_id)


@contextmanager
def pipeline_run(
    tracking_cfg: Any,
    run_name: str,
    tags: Mapping[str, Any] | None = None,
    nested_stage: str | None = None,
    *,
    experiment_name: str | None = None,
    artifact_location: str | None = None,
    cutoff: Any = None,
    mode: str | None = None,
) -> Iterator[RunHandle]:
    """One parent run: FINISHED when the body returns, FAILED (and re-raised) on any exception,
    KILLED on SIGTERM or SIGINT (see :mod:`segml.tracking.interrupts`).

    The ``on_success`` actions (promotion) and the end of the run are one step that a signal
    cannot cut: a signal arriving then is raised once the run is FINISHED.

    Parameters
    ----------
    tracking_cfg : SegmlConfig, TrackingConfig, str or None
        Where to track (see :func:`resolve_tracking_uri`); the experiment comes from
        ``tracking.experiment_name`` unless ``experiment_name`` is given.
    run_name : str
        Shown in the MLflow UI.
    tags : mapping, optional
        Extra run tags; code version, ``segml.cutoff`` and ``segml.mode`` are added.
    nested_stage : str, optional
        Open this stage right away (the handle's ``stage`` still works for the others).
    artifact_location : str, optional
        For a new experiment; default: ``mlartifacts`` next to a SQLite store.

    Examples
    --------
    >>> with pipeline_run("sqlite:////tmp/x.db", "train") as run:  # doctest: +SKIP
    ...     with run.stage("load"):
    ...         pass
    """
    uri = resolve_tracking_uri(tracking_cfg)
    section = getattr(tracking_cfg, "tracking", tracking_cfg)
    experiment = experiment_name or getattr(section, "experiment_name", None) or "segml"
    with using_tracking_uri(uri), interrupts_raise():
        client = client_for(uri)
        experiment_id = get_or_create_experiment(
            client, experiment, artifact_location or default_artifact_location(uri)
        )
        all_tags = {**code_version_tags(), **{k: str(v) for k, v in (tags or {}).items()}}
        if cutoff is not None:
            all_tags["segml.cutoff"] = str(cutoff)
        if mode is not None:
            all_tags["segml.mode"] = mode
        active = mlflow.start_run(experiment_id=experiment_id, run_name=run_name,
                                  tags={k: _truncate(v, MAX_TAG_LENGTH) for k, v in all_tags.items()})
        handle = RunHandle(active.info.run_id, experiment_id, uri)
        try:
            if nested_stage is not None:
                with handle.stage(nested_stage):
                    yield handle
            else:
                yield handle
            with interrupts_deferred():
                for action in handle._on_success:
                    action()
                mlflow.end_run(status="FINISHED")
        except KeyboardInterrupt as exc:
            if _end_parent(handle.run_id, "KILLED") and isinstance(exc, RunInterrupted):
                exc.killed_run = handle.run_id
            raise
        except BaseException:
            _end_parent(handle.run_id, "FAILED")
            raise
