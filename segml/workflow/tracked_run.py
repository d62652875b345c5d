"""The tracked-run recipe: what a training records in its MLflow run (docs/mlflow.md).

:func:`segml.workflow.train.train` and :func:`segml.workflow.retrain.retrain` both fit with
:func:`~segml.workflow.stages.fit_all` and record the fit here, so a retrain run holds
everything a train run does, plus its own comparison with the champion (docs/retraining.md):

* :func:`record_config` (first, so a run that fails on its data still says how it was
  configured): the config as params and ``config/config.yaml``;
* :func:`record_data` (the ``load`` stage): the tables' fingerprints (params and
  ``data/fingerprints.json``) and ``validation_warnings.json``;
* :func:`record_training` (the ``logging`` and ``explain`` stages): the run tags,
  ``cutoffs.json``, ``skipped_targets.json``, ``readiness.json``, one dataset input per target
  and window, the targets' and the segments' metrics, the artifacts and ``report.html``.

The MLflow calls stay behind :mod:`segml.tracking`; this module only says what is recorded.

Example
-------
>>> Addition().metrics, Addition().frames
({}, {})
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from segml.config import SegmlConfig
from segml.data.contract import Tables
from segml.data.io import fingerprint
from segml.workflow.datasets import Datasets, Progress, no_progress
from segml.workflow.fitting import Predictions
from segml.workflow.stages import Segmentation


@dataclass
class Addition:
    """What a run records beyond a training's (a retrain: its comparison with the champion).

    ``metrics`` are shown in the report beside the run's own (the caller logs them);
    ``documents`` are JSON artifacts the report shows (path -> document); ``frames`` are tables
    written as CSV artifacts (path -> table).
    """

    metrics: dict[str, float] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)


def data_fingerprints(tables: Tables) -> dict[str, Any]:
    """Row counts, date ranges and content hashes of the loaded tables (logged with every run);
    a source on another engine computes its own (``SparkSource.fingerprints``)."""
    if not isinstance(tables, Tables):
        return tables.fingerprints()
    prints: dict[str, Any] = {"customers": fingerprint(tables.customers)}
    if tables.transactions is not None:
        prints["transactions"] = fingerprint(tables.transactions, timestamp="timestamp")
    if tables.events is not None:
        prints["events"] = fingerprint(tables.events, timestamp="timestamp")
    return prints


def record_config(run: Any, config: SegmlConfig) -> None:
    """Log the config in ``run`` (a :class:`~segml.tracking.runs.RunHandle`), secrets masked."""
    from segml.tracking import runs

    runs.log_config(config, run_id=run.run_id)


def record_data(run: Any, tables: Tables,
                fingerprints: dict[str, Any] | None = None) -> dict[str, Any]:
    """Log the tables' fingerprints (``fingerprints`` when the caller took them already, else
    taken here) and their validation warnings in ``run``; returns the fingerprints (the dataset
    inputs' digests are made from them)."""
    from segml.tracking import runs

    prints = fingerprints if fingerprints is not None else data_fingerprints(tables)
    runs.log_data_fingerprints(prints, run_id=run.run_id)
    runs.log_problems(tables.warnings, name="validation_warnings.json", run_id=run.run_id)
    return prints


def record_training(
    run: Any,
    run_name: str,
    tables: Tables,
    fingerprints: dict[str, Any],
    data: Datasets,
    segmentation: Segmentation,
    predictions: Predictions,
    config: SegmlConfig,
    *,
    progress: Progress = no_progress,
    addition: Addition | None = None,
) -> None:
    """Record a fitted training in ``run``: tags, windows, readiness, skipped targets, dataset
    inputs and metrics (stage ``logging``), then the artifacts and the report (stage
    ``explain``), with what ``addition`` adds (a retrain's gates and drift).

    ``fingerprints`` are :func:`record_data`'s. Nothing is registered here: the caller
    registers the model (:func:`segml.workflow.train.register_version`) once the run holds
    everything it describes.
    """
    from segml.report.artifacts import write_artifacts, write_run_report
    from segml.tracking import runs
    from segml.workflow import lineage
    from segml.workflow.run_record import run_tags, segment_metrics

    addition = addition or Addition()
    with run.stage("logging"):
        run.set_tags({"mode": data.mode, "engine": data.engine, **run_tags(data, predictions)})
        runs.log_dict(data.cutoffs, "cutoffs.json", run_id=run.run_id)
        runs.log_problems(predictions.skipped, name="skipped_targets.json", run_id=run.run_id)
        runs.log_dict(predictions.readiness.to_dict(), "readiness.json", run_id=run.run_id)
        lineage.record_inputs(run.run_id, data, predictions, config, fingerprints, tables.sources,
                              run.tracking_uri)  # each window's data as a dataset input
        runs.log_metrics(predictions.metrics, run_id=run.run_id)
        runs.log_metrics(segment_metrics(segmentation), run_id=run.run_id)
    with run.stage("explain"), tempfile.TemporaryDirectory() as tmp:
        progress("explaining and writing artifacts")
        folder = Path(tmp)
        write_artifacts(folder, data, segmentation, predictions, config)
        write_frames(folder, addition.frames)
        write_run_report(folder, run.run_id, run_name, data, predictions, segmentation,
                         addition.metrics, documents=addition.documents)
        runs.log_artifacts(tmp, run_id=run.run_id)


def write_frames(folder: Path, frames: dict[str, pd.DataFrame]) -> None:
    """Each table as a CSV at its path under ``folder`` (written atomically)."""
    from segml.data.io import write_frame_atomic

    for path, frame in frames.items():
        write_frame_atomic(frame, folder / path)


__all__ = ["Addition", "data_fingerprints", "record_config", "record_data", "record_training", "write_frames"]
