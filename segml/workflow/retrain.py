"""Gated retraining: a challenger must hold every gate against the champion to replace it.

The flow (``segml retrain`` and ``pipelines/retrain.py``):

1. take the per-model retrain lock (a second retrain of the same model exits with code 4);
2. load the data; when a finished retrain already ran on the same data, config and cutoff, return
   its decision (re-running a scheduled job is idempotent);
3. fit the challenger (features, segments, predictors) in a tracked run; segment ids are matched
   to the champion's so unchanged segments keep their ids and names;
4. score the champion on the *same* latest out-of-time window with its own feature settings;
5. evaluate the gates (AUC/Spearman drop, calibration, segment stability, readiness), log drift;
6. register the challenger (alias ``challenger``) and promote it to ``champion`` only when every gate
   holds. Any failure before that leaves the champion untouched; the run is marked FAILED.

Example
-------
>>> outcome = RetrainOutcome(promoted=False, reused=False, gates=[], message="dry run")
>>> outcome.promoted
False
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from segml.allocation import with_fast_allocation
from segml.config import SegmlConfig
from segml.data.contract import Tables
from segml.monitor.gates import Gate, evaluate_gates, promotion_decision
from segml.monitor.lock import retrain_lock
from segml.targets import TARGETS, targets_of
from segml.workflow.datasets import Datasets, Progress, no_progress
from segml.workflow.fitting import Predictions
from segml.workflow.stages import LocalPopulation, held_tables, load

log = logging.getLogger(__name__)

RETRAIN_KEY_TAG = "segml.retrain_key"
DECISION_TAG = "segml.decision"


@dataclass
class RetrainOutcome:
    """What a retrain decided and why."""

    promoted: bool
    reused: bool
    gates: list[Gate]
    message: str
    run_id: str | None = None
    challenger_version: str | None = None
    champion_version: str | None = None
    drift: dict[str, Any] = field(default_factory=dict)
    warnings: list[Any] = field(default_factory=list)  # data, plan and readiness; the CLI prints
    skipped: list[Any] = field(default_factory=list)  # targets the history could not train


def retrain_key(tables: Tables, config: SegmlConfig,
                fingerprints: dict[str, Any] | None = None) -> str:
    """Identifies a retrain: the data's content hashes, the config and the cutoff.
    ``fingerprints``: the tables' (:func:`~segml.workflow.tracked_run.data_fingerprints`) when
    the caller has them already (seconds of hashing at a million customers)."""
    from segml.workflow.tracked_run import data_fingerprints

    payload = {
        "data": fingerprints if fingerprints is not None else data_fingerprints(tables),
        "config": config.model_dump(mode="json", exclude={"tracking"}),
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def champion_metrics(champion: Any, tables: Tables, data: Datasets,
                     predictions: Predictions) -> dict[str, float]:
    """The champion's metrics on the challenger's evaluation windows, target by target, with
    the champion's own feature settings.

    Each target is scored at the challenger's evaluation cutoff for that target, on the same
    labelled rows as the challenger. The champion is represented by the predictors whose
    metrics it reported (``scorer.evaluated``: trained before its own evaluation window), not by
    its registered ones: those were refit on windows up to the champion's data end, which can
    overlap the challenger's evaluation window and would flatter the champion. A champion
    registered before evaluated predictors were kept falls back to its registered ones.
    Targets only one side has are left out here; the gates say so. Attributes mode has no
    out-of-time window: the caller uses the champion's recorded cross-validated metrics.
    """
    from segml.predict import evaluate_target

    evaluated = getattr(champion, "evaluated", None) or {}
    metrics: dict[str, float] = {}
    for target, fit in predictions.fits.items():
        predictor = evaluated.get(target, champion.predictors.get(target))
        if predictor is None or fit.plan is None or fit.eval_labels is None:
            continue
        features = data.features_at(fit.plan.evaluation, champion.feature_spec,
                                    fit.eval_labels.index)
        X = champion.prepare(features.reset_index())
        y = fit.eval_labels
        rows = y.index[y.index.isin(X.index)]
        # the challenger's Target: its labels are the ones scored
        result = evaluate_target(data.target(target), predictor, X.loc[rows], y.loc[rows],
                                 baselines={})
        metrics.update(result.metrics)
    return metrics


def _previous_decision(config: SegmlConfig, key: str) -> RetrainOutcome | None:
    from segml.tracking import runs

    found = runs.find_finished_run(config.tracking, {RETRAIN_KEY_TAG: key})
    if found is None:
        return None
    decision = found["tags"].get(DECISION_TAG, "unknown")
    return RetrainOutcome(
        promoted=decision == "promoted",
        reused=True,
        gates=[],
        message=f"retrain already ran on this data and cutoff (run {found['run_id']}: {decision}); "
        "nothing to do",
        run_id=found["run_id"],
    )


@with_fast_allocation
def retrain(
    config: SegmlConfig,
    *,
    data_dir: str | Path | None = None,
    tables: Tables | None = None,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress = no_progress,
) -> RetrainOutcome:
    """Train a challenger and promote it only when every gate holds (see the module docstring).

    ``force`` retrains even when a finished retrain already handled this data, config and cutoff.
    """
    from segml.workflow.tracked_run import data_fingerprints

    name = config.tracking.registered_model_name
    uri = config.tracking.resolved_uri()
    with retrain_lock(name, uri, timeout_seconds=config.retrain.lock_timeout_seconds):
        started = time.perf_counter()
        tables = tables if tables is not None else load(config, data_dir)
        prints = data_fingerprints(tables)  # once: the key and the run's record share them
        key = retrain_key(tables, config, prints)
        if not (dry_run or force) and (previous := _previous_decision(config, key)) is not None:
            return previous
        # fingerprinted: held as a training run holds them. The columns only this config's
        # declared targets read are enough: the champion is compared on the challenger's
        # labels (champion_metrics)
        tables = held_tables(tables, config)
        load_seconds = time.perf_counter() - started  # the run opens after: its load stage
        return _retrain_locked(config, tables, key, dry_run, progress, load_seconds, prints)


def _retrain_locked(
    config: SegmlConfig, tables: Tables, key: str, dry_run: bool, progress: Progress,
    load_seconds: float, prints: dict[str, Any],
) -> RetrainOutcome:
    from segml.monitor.drift import DriftReference
    from segml.tracking import model as tracked_model
    from segml.tracking import publish, registry, runs
    from segml.workflow.stages import fit_all
    from segml.workflow.tracked_run import Addition, record_config, record_data, record_training
    from segml.workflow.train import register_version

    name = config.tracking.registered_model_name
    champion_version = registry.get_alias_version(name, "champion", config.tracking.resolved_uri())
    champion = None
    if champion_version is not None:
        champion = tracked_model.load_scorer(f"models:/{name}@champion", tracking=config.tracking)
    tags = {RETRAIN_KEY_TAG: key} if not dry_run else {"segml.dry_run": "true"}
    with runs.pipeline_run(config.tracking, run_name="retrain", tags=tags) as run:
        record_config(run, config)
        record_data(run, tables, prints)
        # the tables were loaded before the run opened (a repeated retrain ends there)
        run.log_metrics({"stage_load_seconds": load_seconds})
        previous_hierarchy = champion.hierarchy if champion is not None else None
        check = None if dry_run else (  # a challenger the registry would refuse: fail early
            lambda schema: publish.check_input_schema(name, schema, run.tracking_uri))
        data, segmentation, predictions, scorer = fit_all(
            tables, config, progress, run.stage, previous_hierarchy=previous_hierarchy,
            check_input=check,
        )
        drift: dict[str, Any] = {}
        with run.stage("compare"):
            progress("comparing the challenger with the champion")
            if champion is None:
                baseline: dict[str, float] = {}
            elif data.mode == "behavioural":
                baseline = champion_metrics(champion, tables, data, predictions)
            else:
                baseline = registry.alias_metrics(name, "champion", config.tracking.resolved_uri())
            champion_logged = {f"champion_{k}": v for k, v in baseline.items()}
            runs.log_metrics(champion_logged, run_id=run.run_id)
            reference = (champion.metadata if champion is not None else {}).get("drift_reference")
            if reference:
                population = (data.population if data.population is not None
                              else LocalPopulation(data))
                drift = population.drift(DriftReference.from_dict(reference), segmentation,
                                         scorer, config.retrain.psi_warning)
                runs.log_dict(drift, "drift.json", run_id=run.run_id)
                runs.log_metrics({k: v for k, v in drift.items() if isinstance(v, float)}, run_id=run.run_id)
            # the targets either side predicts: the champion's own (from its state), the
            # challenger's from this config (its definition wins for a name both declare)
            gate_targets = {**TARGETS, **(champion.targets() if champion is not None else {}),
                            **targets_of(config)}
            gates = evaluate_gates(
                baseline, predictions.metrics, config.retrain, targets=gate_targets,
                segment_stability=segmentation.stability, readiness_passed=not predictions.readiness.blocking,
                champion_targets=None if champion is None else list(champion.predictors),
                challenger_targets=list(predictions.predictors),
                skipped=predictions.skipped_targets,
            )  # fmt: skip
            promote, failed = promotion_decision(gates)
            runs.log_dict([g.to_dict() for g in gates], "gates.json", run_id=run.run_id)
        # everything a train run records, with the gates and the drift beside it
        addition = Addition(champion_logged,
                            {"gates.json": [g.to_dict() for g in gates], "drift.json": drift},
                            {"retrain/gates.csv": gate_frame(gates)})
        if drift.get("feature_psi"):
            psi = pd.Series(drift["feature_psi"], name="psi").rename_axis("feature")
            addition.frames["retrain/feature_psi.csv"] = psi.reset_index()
        record_training(run, "retrain", tables, prints, data, segmentation, predictions, config,
                        progress=progress, addition=addition)
        if data.population is not None:  # the customers' rows cached on another engine
            data.population.release()
        if dry_run:
            verdict = "would promote" if promote else "would not promote"
            run.set_tags({DECISION_TAG: f"dry-run: {verdict}"})
            return RetrainOutcome(promote, False, gates, f"dry run: {verdict}; nothing registered",
                                  run.run_id, None, _version(champion_version), drift,
                                  _warnings(tables, predictions), list(predictions.skipped))
        progress("registering the challenger")
        with run.stage("register", nested=False):  # logged in the run that holds its metrics
            _, version = register_version(run, scorer, data, predictions, config)
            registry.set_alias(name, "challenger", version)
        decision = "promoted" if promote else "rejected"

        def finish() -> None:
            # Promotion happens only once everything above succeeded, and the decision is
            # recorded only once it is carried out: a run killed before this has no decision
            # tag, and its version is never promoted (its run did not FINISH).
            if promote:
                registry.promote(name, version, finishing_run=run.run_id)
            run.set_tags({DECISION_TAG: decision, "segml.failed_gates": "; ".join(failed)[:4000]})

        run.on_success(finish)
        message = (
            f"challenger v{version} promoted to champion"
            if promote
            else f"challenger v{version} not promoted: {len(failed)} gate(s) failed"
        )
        return RetrainOutcome(promote, False, gates, message, run.run_id, version,
                              _version(champion_version), drift, _warnings(tables, predictions),
                              list(predictions.skipped))  # fmt: skip


def _warnings(tables: Tables, predictions: Predictions) -> list[Any]:
    """Every warning of the run, once: data validation, skipped targets, readiness."""
    return [*tables.warnings, *predictions.skipped, *predictions.readiness.warnings]


def _version(model_version: Any) -> str | None:
    return None if model_version is None else str(model_version.version)


def gate_frame(gates: list[Gate]) -> pd.DataFrame:
    """The gates as a table (for notebooks and the report)."""
    return pd.DataFrame([g.to_dict() for g in gates]) if gates else pd.DataFrame(
        columns=["name", "value", "threshold", "passed", "reason"]
    )


__all__ = ["RetrainOutcome", "champion_metrics", "gate_frame", "retrain", "retrain_key"]
