"""Lineage: what a registered version says about where it came from (docs/mlflow.md).

An MLflow user who opens a version of ``segml-customer`` finds, with MLflow's own client or UI:

* **its source run**: the pipeline run that logged the model and holds every metric (the
  logged model carries them too);
* **dataset inputs** of that run, one per target and window: ``churn-train`` (the stacked
  training cutoffs), ``churn-evaluation`` (the out-of-time window whose metrics are reported),
  ``churn-refit`` (the freshest windows the registered predictor learned); in attributes mode
  ``churn-cross-validation``. Each has the data's source, a digest, the schema of its rows and
  its row count, never a row;
* **a description** of the version (targets, windows, headline metrics beside the best baseline)
  and of the registered model;
* **tags**: ``fit_cutoff_<target>``, the data window (``segml.data_start``, ``segml.data_end``),
  ``segml.config_hash``, the code version (``segml.version``, ``segml.git_commit``).

A window's digest hashes the tables' content hashes, the config hash and the window's cutoffs
and horizon: the rows of a window are a function of exactly these, so the digest changes when
(and only when) they could. Computing it costs nothing at any size.

Example
-------
>>> from segml.config import SegmlConfig
>>> len(config_hash(SegmlConfig()))
16
>>> config_hash(SegmlConfig(data={"dir": "a"})) == config_hash(SegmlConfig(data={"dir": "b"}))
True
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

import pandas as pd

from segml.config import SegmlConfig
from segml.scoring.encoding import input_schema_of
from segml.targets import TARGETS, Target

WINDOW_CONTEXT = {"train": "training", "refit": "training", "evaluation": "evaluation",
                  "cross-validation": "training"}


@dataclass(frozen=True)
class WindowData:
    """One window's data as an MLflow dataset input (metadata only: never a row).

    Example
    -------
    >>> w = WindowData("churn-train", "churn", "train", ["2025-05-04"], 90, 812, "ab12", [], None)
    >>> w.context, w.tags()["segml.cutoffs"]
    ('training', '2025-05-04')
    """

    name: str
    target: str
    window: str
    cutoffs: list[str]
    horizon_days: int | None
    rows: int | None
    digest: str
    schema: list[tuple[str, str]]
    source: str | None

    @property
    def context(self) -> str:
        return WINDOW_CONTEXT[self.window]

    def tags(self) -> dict[str, str]:
        tags = {"segml.target": self.target, "segml.window": self.window,
                "segml.cutoffs": ", ".join(self.cutoffs)}
        if self.horizon_days is not None:
            tags["segml.label_horizon_days"] = str(self.horizon_days)
        if self.rows is not None:
            tags["segml.rows"] = str(self.rows)
        return tags


def config_hash(config: SegmlConfig) -> str:
    """A hash of the settings that shape a model (data locations and tracking left out)."""
    dump = config.model_dump(mode="json", exclude={"tracking"})
    data = dump.get("data", {})
    data.pop("dir", None)
    for table in ("customers", "transactions", "events"):
        if isinstance(data.get(table), dict):
            data[table].pop("path", None)
    text = json.dumps(dump, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def data_source(sources: dict[str, str]) -> str | None:
    """Where the tables were read: their common folder, else the customers file; None for
    DataFrames handed over in Python.

    Example
    -------
    >>> data_source({"customers": "/d/customers.parquet", "transactions": "/d/transactions.parquet"})
    '/d'
    >>> data_source({}) is None
    True
    """
    paths = [str(p) for p in sources.values() if p]
    if not paths:
        return None
    folders = {os.path.dirname(os.path.abspath(p)) if "://" not in p else p.rsplit("/", 1)[0]
               for p in paths}
    if len(folders) == 1:
        return folders.pop()
    return sources.get("customers") or paths[0]


def _digest(fingerprints: dict[str, Any], settings: str, *parts: Any) -> str:
    tables = {name: {k: v for k, v in fp.items() if k in ("rows", "sha256")}
              for name, fp in fingerprints.items()}
    text = json.dumps([tables, settings, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def window_data(data: Any, predictions: Any, fingerprints: dict[str, Any], config: SegmlConfig,
                source: str | None) -> list[WindowData]:
    """Every target's windows (``Datasets`` and ``Predictions`` of :mod:`segml.workflow.stages`)."""
    settings = config_hash(config)
    features = input_schema_of(data.current_X)
    registry = _registry(data)
    out = []
    for target, fit in predictions.fits.items():
        label = [(registry[target].label_column, "double")]
        comparison = predictions.comparison.get(target)
        eval_rows = (int(comparison.loc["model", "rows"])
                     if comparison is not None and "rows" in comparison else None)
        if fit.plan is None:  # attributes mode: cross-validated, then fitted on every row
            windows = [("cross-validation", [], None, fit.training_rows, features + label)]
        else:
            plan = fit.plan.to_dict()
            stacked = [features[0], ("cutoff", "datetime"), *features[1:], *label]
            refit_rows = getattr(fit.predictor, "n_rows_available_", None)
            windows = [
                ("train", plan["train"], plan["horizon_days"], fit.training_rows, stacked),
                ("evaluation", [plan["evaluation"]], plan["horizon_days"], eval_rows,
                 features + label),
                ("refit", plan["refit"], plan["horizon_days"],
                 None if refit_rows is None else int(refit_rows), stacked),
            ]
        for window, cutoffs, horizon, rows, schema in windows:
            digest = _digest(fingerprints, settings, target, window, cutoffs, horizon)
            out.append(WindowData(f"{target}-{window}", target, window, list(cutoffs), horizon,
                                  rows, digest, schema, source))
    return out


# --------------------------------------------------------------------------- descriptions
def _fmt(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    return "-" if number != number else f"{number:.3f}"


def _registry(data: Any) -> dict[str, Target]:
    """The run's targets by name (``Datasets.registry``; the built-in ones for data without)."""
    return getattr(data, "registry", None) or dict(TARGETS)


def _headline(spec: Target, table: pd.DataFrame) -> tuple[str, str, str]:
    """(metric, model value, best baseline 'value (name)') of one comparison table."""
    metric = spec.headline_metric
    if metric not in table:
        return metric, "-", "-"
    baselines = table.drop(index="model", errors="ignore")[metric].dropna()
    best = "-"
    if len(baselines):
        name = str(baselines.idxmax())
        best = f"{_fmt(baselines.max())} ({name.removeprefix('baseline_')})"
    return metric, _fmt(table[metric].get("model")), best


def _windows_text(fit: Any) -> str:
    if fit.plan is None:
        return f"cross-validated on {fit.training_rows:,} rows, then fitted on all of them"
    plan = fit.plan.to_dict()
    train = plan["train"]
    span = train[0] if len(train) == 1 else f"{train[0]} to {train[-1]}"
    return (f"trained at {len(train)} cutoff(s) {span}; evaluated {plan['evaluation']} "
            f"+{plan['horizon_days']} d; refit up to {plan['fit_cutoff']}")


def version_description(run_id: str, data: Any, predictions: Any) -> str:
    """Markdown: what the version predicts, from which data, and how well (beside baselines).

    Example
    -------
    >>> from types import SimpleNamespace
    >>> table = pd.DataFrame({"roc_auc": [0.88, 0.86], "rows": [900, 900]},
    ...                      index=["model", "baseline_logreg"])
    >>> fit = SimpleNamespace(plan=None, training_rows=900)
    >>> preds = SimpleNamespace(comparison={"churn": table}, fits={"churn": fit}, skipped=[])
    >>> data = SimpleNamespace(mode="attributes", data_end=None, plan=None,
    ...                        current_X=pd.DataFrame(index=range(900)))
    >>> print(version_description("r1", data, preds).splitlines()[-1])
    | churn | roc_auc | 0.880 | 0.860 (logreg) | cross-validated on 900 rows, then fitted on all of them |
    """
    targets = ", ".join(predictions.comparison)
    customers = getattr(data, "n_customers", None) or len(data.current_X)
    if data.mode == "behavioural" and data.plan is not None:
        start = data.plan.data_start.date().isoformat() if data.plan.data_start is not None else "?"
        window = f"behavioural data from {start} to {data.data_end.date().isoformat()}"
    else:
        window = "a customers table (attributes mode)"
    lines = [f"segml composite model: segments and {targets} for {customers:,} customers, "
             f"trained on {window}. Source run `{run_id}` holds every metric, the config and the "
             "report; its dataset inputs are the windows below.", ""]
    for problem in getattr(predictions, "skipped", []) or []:
        lines += [f"Skipped: {problem.message}", ""]
    lines += ["| target | metric | model | best baseline | windows |", "| --- | --- | --- | --- | --- |"]
    registry = _registry(data)
    for target, table in predictions.comparison.items():
        metric, model, best = _headline(registry[target], table)
        fit = predictions.fits.get(target)
        windows = _windows_text(fit) if fit is not None else "-"
        lines.append(f"| {target} | {metric} | {model} | {best} | {windows} |")
    return "\n".join(lines)


def model_description(name: str, latest: str | None = None, description: str = "") -> str:
    """The registered model's description: what it serves, its aliases, and its latest version.

    Example
    -------
    >>> model_description("segml-customer").split(":")[0]
    'segml-customer'
    """
    text = (f"{name}: segml's composite customer model. Input: one row per customer with the "
            "feature columns of the signature (segml computes them from the raw tables: "
            "`segml score`). Output: segment path and names, RFM segment, lifecycle stage, "
            "churn, purchase and high-CLV probabilities, predicted spend; with "
            "`params={\"reasons\": true}` the top 3 SHAP reasons per score. Aliases: `champion` "
            "serves, `challenger` is the latest candidate, `previous_champion` the one before. "
            "A version's description, tags and source run say what it was trained on.")
    if latest is not None:
        text += f"\n\nLatest version: {latest}.\n\n{description}"
    return text


def lineage_tags(data: Any, config: SegmlConfig, code: dict[str, str] | None = None
                 ) -> dict[str, str]:
    """Version tags beside ``fit_cutoff_<target>``: mode, engine, data window, config hash, code.

    Example
    -------
    >>> from types import SimpleNamespace
    >>> data = SimpleNamespace(mode="attributes", plan=None, data_end=None)
    >>> sorted(lineage_tags(data, SegmlConfig(), {"segml.version": "0.1.0"}))
    ['segml.config_hash', 'segml.engine', 'segml.mode', 'segml.version']
    """
    tags = {"segml.mode": data.mode, "segml.config_hash": config_hash(config),
            "segml.engine": getattr(data, "engine", "local")}  # where the rows were processed
    start = getattr(data.plan, "data_start", None) if data.plan is not None else None
    if start is not None:
        tags["segml.data_start"] = start.date().isoformat()
    if data.data_end is not None:
        tags["segml.data_end"] = pd.Timestamp(data.data_end).date().isoformat()
    tags.update({k: v for k, v in (code or {}).items() if k.startswith("segml.")})
    return tags


# ------------------------------------------------------------------------------ recording
def record_inputs(run_id: str, data: Any, predictions: Any, config: SegmlConfig,
                  fingerprints: dict[str, Any], sources: dict[str, str],
                  tracking_uri: str | None = None) -> list[WindowData]:
    """Log every window of the run's targets as a dataset input of ``run_id``; returns them."""
    from segml.tracking import publish

    windows = window_data(data, predictions, fingerprints, config, data_source(sources))
    publish.log_datasets(windows, run_id, tracking_uri)
    return windows


def publish_model(scorer: Any, name: str, run_id: str, *, description: str,
                  tags: dict[str, str], tracking_uri: str | None = None) -> tuple[Any, str]:
    """Log the composite in the active run ``run_id`` (which holds its metrics: the logged model
    carries them) and register it under ``name`` with ``description`` and ``tags``; returns
    MLflow's ``ModelInfo`` and the new version.

    Raises
    ------
    segml.tracking.RegistryError
        When ``name`` has a champion whose input columns differ (nothing is logged then).
    """
    from segml.tracking import model as tracked_model
    from segml.tracking import publish

    publish.check_input_schema(name, scorer.input_schema, tracking_uri)
    info = tracked_model.log_segml_model(scorer)
    digest = (info.metadata or {}).get(tracked_model.DIGEST_KEY)
    if digest:  # on the version too: rewriting the model's MLmodel cannot hide a changed state
        tags = {**tags, "segml.state_sha256": digest}
    publish.set_logged_model_tags(info.model_id, tags, tracking_uri)
    version = publish.register_logged_model(
        info, name, run_id=run_id, description=description, tags=tags, tracking_uri=tracking_uri)
    publish.set_model_description(name, model_description(name, version, description),
                                  tracking_uri)
    return info, version


__all__ = ["WindowData", "config_hash", "data_source", "lineage_tags",
           "model_description", "publish_model", "record_inputs", "version_description",
           "window_data"]
