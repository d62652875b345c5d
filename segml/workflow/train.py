"""train / score: the tracked entry points, the stages of :mod:`segml.workflow.stages` inside one MLflow run.

The CLI and the scheduled jobs in ``pipelines/`` are thin layers over these functions; a notebook
can call them directly.

Example
-------
>>> from segml.workflow.train import train, score          # doctest: +SKIP
>>> result = train(load_config("configs/demo.yaml"), data_dir="data")   # doctest: +SKIP
>>> result.summary()                                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from segml.allocation import with_fast_allocation
from segml.config import SegmlConfig
from segml.data.contract import Tables
from segml.errors import DataError, Problem
from segml.workflow.datasets import Datasets, Progress, no_progress
from segml.workflow.fitting import Predictions
from segml.workflow.run_record import version_tags
from segml.workflow.stages import Segmentation, fit_all, held_tables, load
from segml.workflow.tracked_run import record_config, record_data, record_training

if TYPE_CHECKING:
    from segml.scoring.scorer import CustomerScorer

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What :func:`train` produced; displays as a summary in a notebook.

    ``model_uri`` (``models:/<name>/<version>``) is the model this training registered: score
    it, whatever the aliases of the registered model say. ``alias`` is the alias it got
    (``champion`` for a model's first version, else ``challenger``) and ``champion_version`` the
    version ``@champion`` serves once the run has ended (this one, or the one before it).
    ``report`` is where the run's HTML report is (a local file for a local artifact store, else
    its artifact URI). ``scorer`` is the fitted :class:`~segml.scoring.scorer.CustomerScorer`
    the registered model serves (in memory: score or explain with it without loading the model).
    """

    run_id: str | None
    model_uri: str | None
    model_version: str | None
    alias: str | None
    cutoff: pd.Timestamp | None
    segmentation: Segmentation | None
    metrics: dict[str, float]
    comparison: dict[str, pd.DataFrame]
    scorer: CustomerScorer
    warnings: list[Problem] = field(default_factory=list)
    #: The training data of the run (its ``current_X`` is what the scorer was fitted on).
    datasets: Datasets | None = None
    #: The URI of the logged (pre-registration) model.
    logged_model: str | None = None
    skipped: list[Problem] = field(default_factory=list)
    fit_cutoffs: dict[str, str] = field(default_factory=dict)
    report: str | None = None
    champion_version: str | None = None
    run_name: str | None = None

    def summary(self) -> pd.DataFrame:
        """Model vs baselines: one row per (target, scorer), the headline metrics as columns."""
        frames = []
        for target, table in self.comparison.items():
            frame = table.copy()
            frame.insert(0, "target", target)
            frames.append(frame)
        return pd.concat(frames) if frames else pd.DataFrame()

    def _repr_html_(self) -> str:  # pragma: no cover - notebook display
        head = (
            f"<h4>segml run {self.run_id}</h4><p>model {self.model_uri} "
            f"(alias {self.alias}), cutoff {self.cutoff}</p>"
        )
        return head + self.summary().to_html(float_format=lambda v: f"{v:.3f}")


@with_fast_allocation
def train(
    config: SegmlConfig | None = None,
    *,
    data_dir: str | Path | None = None,
    tables: Tables | None = None,
    alias: str | None = "auto",
    run_name: str | None = None,
    progress: Progress = no_progress,
) -> TrainResult:
    """The full pipeline, tracked in one MLflow run and registered as one composite model.

    Parameters
    ----------
    config : SegmlConfig, optional
        Default: the defaults (which declare no attribute or PII column).
    data_dir, tables :
        Where the data comes from (a folder in the ``segml generate`` layout, or loaded tables).
    alias : str or None
        Registry alias the new version gets. ``"auto"`` (default): ``champion`` when the model has
        none yet, else ``challenger`` (promote it with ``segml promote`` or a gated retrain).
        None only registers.
    run_name : str, optional
        The MLflow run's name; default: ``train <data folder>`` (:func:`describe_run`).

    Returns
    -------
    TrainResult
        Run id, model URI and version, metrics and model-vs-baseline tables.
    """
    from segml.tracking import publish, reading, registry, runs

    config = config or SegmlConfig()
    name = config.tracking.registered_model_name
    run_name = run_name or describe_run("train", config, data_dir)
    with runs.pipeline_run(config.tracking, run_name=run_name) as run:
        record_config(run, config)
        with run.stage("load"):
            progress("loading and validating data")
            tables = tables if tables is not None else load(config, data_dir)
            prints = record_data(run, tables)
            tables = held_tables(tables, config)  # fingerprinted: what nothing reads can go
        data, segmentation, predictions, scorer = fit_all(
            tables, config, progress, run.stage,
            check_input=lambda schema: publish.check_input_schema(name, schema, run.tracking_uri))
        record_training(run, run_name, tables, prints, data, segmentation, predictions, config,
                        progress=progress)
        if data.population is not None:  # the customers' rows cached on another engine
            data.population.release()
        progress("registering the composite model")
        with run.stage("register", nested=False):  # logged in the run that holds its metrics
            info, version = register_version(run, scorer, data, predictions, config)
            champion = registry.get_alias_version(name, "champion", run.tracking_uri)
            if alias == "auto":
                alias = "challenger" if champion is not None else "champion"
            champion_version = (str(version) if alias == "champion"
                                else None if champion is None else str(champion.version))
            if alias == "champion":
                # Only once the whole run has ended cleanly does the new version serve.
                run.on_success(lambda: registry.promote(name, version, finishing_run=run.run_id))
            elif alias:
                registry.set_alias(name, alias, version)
        return TrainResult(
            run_id=run.run_id,
            model_uri=f"models:/{name}/{version}",
            model_version=version,
            alias=alias,
            cutoff=data.data_end,
            segmentation=segmentation,
            metrics=predictions.metrics,
            comparison=predictions.comparison,
            warnings=[*tables.warnings, *predictions.skipped, *predictions.readiness.warnings],
            skipped=list(predictions.skipped),
            fit_cutoffs=predictions.fit_cutoffs(),
            scorer=scorer,
            datasets=data, logged_model=info.model_uri,
            report=reading.artifact_location(run.run_id, "report.html", run.tracking_uri),
            champion_version=champion_version,
            run_name=run_name,
        )


def describe_run(kind: str, config: SegmlConfig, data_dir: str | Path | None = None) -> str:
    """A run name that says what the run did: ``train <data folder>`` and its cutoff if one
    was set, so runs in the MLflow UI are not all called ``train``.

    Example
    -------
    >>> config = SegmlConfig()
    >>> config.data.dir = "/shop/exports/2025-06"
    >>> describe_run("train", config)
    'train 2025-06'
    >>> describe_run("train", config.with_cutoff("2025-05-31"))
    'train 2025-06 (cutoff 2025-05-31)'
    """
    folder = data_dir or config.data.dir
    name = f"{kind} {Path(str(folder)).name}" if folder else kind
    cutoff = config.time.cutoff
    return f"{name} (cutoff {cutoff})" if cutoff else name


def register_version(run: Any, scorer: Any, data: Datasets, predictions: Predictions,
                     config: SegmlConfig) -> tuple[Any, str]:
    """Log the composite in ``run`` (the run holding its metrics) and register it under
    ``tracking.registered_model_name``, described and tagged (:mod:`segml.workflow.lineage`); returns
    MLflow's ``ModelInfo`` and the version. No alias is set."""
    from segml.tracking import runs
    from segml.workflow import lineage

    return lineage.publish_model(
        scorer, config.tracking.registered_model_name, run.run_id,
        tracking_uri=run.tracking_uri,
        description=lineage.version_description(run.run_id, data, predictions),
        tags={**version_tags(predictions),
              **lineage.lineage_tags(data, config, runs.code_version_tags())})


@with_fast_allocation
def score(
    model_uri: str,
    *,
    config: SegmlConfig | None = None,
    data_dir: str | Path | None = None,
    tables: Tables | None = None,
    cutoff: str | pd.Timestamp | None = None,
    reasons: bool = False,
    chunk_size: int = 100_000,
    on_chunk: Callable[[int, int], None] = lambda done, total: None,
    on_warning: Callable[[Problem], None] = lambda problem: None,
    scorer: Any = None,
) -> pd.DataFrame:
    """Score every customer with a registered model, rebuilding features with its own settings.

    Every customer of the customers table gets a row. One the data does not know at the cutoff
    (no signup date, order or event at or before it) gets null segments and scores and
    ``lifecycle_stage = "no history"``, and ``on_warning`` hears how many there are.

    Parameters
    ----------
    model_uri : str
        e.g. ``models:/segml-customer@champion`` or ``runs:/<id>/model``.
    cutoff : date, optional
        Features as of this date; it replaces the configured ``time.cutoff``, and without either
        the end of the data is used (:func:`segml.features.plan.resolve_cutoff`). It must lie
        within the data: before its first transaction nobody has a history, and after its last
        one every customer would look inactive for days the data knows nothing about.
    reasons : bool
        Add the top 3 signed SHAP reasons per score (about twice the time of scores alone,
        loading and features included: docs/predictions.md).
    chunk_size, on_chunk :
        Customers are scored in chunks (bounded memory); ``on_chunk(done, total)`` reports progress.
    on_warning : callable, optional
        Receives each data warning (orphan rows, customers without history) as a ``Problem``.
    scorer : CustomerScorer, optional
        The scorer of ``model_uri`` when the caller has loaded it already.

    Raises
    ------
    DataError
        A cutoff outside the data, or data that breaks the contract.
    """
    from segml.data.population import every_customer
    from segml.features import build_features
    from segml.features.plan import resolve_cutoff
    from segml.features.timeline import data_end, data_start
    from segml.tracking.model import load_scorer

    config = config or SegmlConfig()
    scorer = scorer if scorer is not None else load_scorer(model_uri, tracking=config.tracking)
    if scorer.feature_spec is None:
        raise DataError([Problem(f"model {model_uri} carries no feature settings", key="model")])
    if tables is None:
        # New customers have no labels: none is read, and the attributes read are the model's.
        tables = load(config, data_dir, purpose="score",
                      attributes=scorer.feature_spec.attributes)
    for warning in tables.warnings:
        on_warning(warning)
    timed = tables.mode == "behavioural"  # attributes mode has no timeline to check against
    at = resolve_cutoff(config.time, data_end(tables) if timed else None, cutoff,
                        data_start=data_start(tables) if timed else None)
    features = build_features(tables, at, scorer.feature_spec)
    chunks = []
    for start in range(0, len(features), chunk_size):
        chunks.append(scorer.score(features.iloc[start : start + chunk_size], reasons=reasons, as_of=at))
        on_chunk(min(start + chunk_size, len(features)), len(features))
    if not chunks:
        scores = scorer.score(features, reasons=reasons, as_of=at)
    else:
        scores = pd.concat(chunks, ignore_index=True)
    return every_customer(scores, tables, at, on_warning)

