"""train / score: the stages of :mod:`segml.stages` in order, inside one tracked MLflow run.

The CLI and the scheduled jobs in ``pipelines/`` are thin layers over these functions; a notebook
can call them directly.

Example
-------
>>> from segml.pipeline import train, score          # doctest: +SKIP
>>> result = train(load_config("configs/demo.yaml"), data_dir="data")   # doctest: +SKIP
>>> result.summary()                                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from segml.config import SegmlConfig
from segml.data.contract import Tables
from segml.data.io import fingerprint, write_frame_atomic
from segml.errors import DataError, Problem
from segml.stages import (
    Datasets,
    Predictions,
    Progress,
    Segmentation,
    build_datasets,
    build_scorer,
    discover_segments,
    drift_reference,
    fit_and_evaluate,
    keep_segment_ids,
    load,
    no_progress,
    profile_with_predictions,
)

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What :func:`train` produced; displays as a summary in a notebook.

    ``model_uri`` (``models:/<name>/<version>``) is the model this training registered: score
    it, whatever the aliases of the registered model say. ``report`` is where the run's HTML
    report is (a local file for a local artifact store, else its artifact URI).
    """

    run_id: str | None
    model_uri: str | None
    model_version: str | None
    alias: str | None
    cutoff: pd.Timestamp | None
    segmentation: Segmentation | None
    metrics: dict[str, float]
    comparison: dict[str, pd.DataFrame]
    warnings: list[Problem] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    skipped: list[Problem] = field(default_factory=list)
    fit_cutoffs: dict[str, str] = field(default_factory=dict)
    report: str | None = None

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


def data_fingerprints(tables: Tables) -> dict[str, Any]:
    """Row counts, date ranges and content hashes of the loaded tables (logged with every run)."""
    prints: dict[str, Any] = {"customers": fingerprint(tables.customers)}
    if tables.transactions is not None:
        prints["transactions"] = fingerprint(tables.transactions, timestamp="timestamp")
    if tables.events is not None:
        prints["events"] = fingerprint(tables.events, timestamp="timestamp")
    return prints


def fit_all(
    tables: Tables,
    config: SegmlConfig,
    progress: Progress = no_progress,
    run: Any = None,
    previous_hierarchy: Any = None,
    check_input: Callable[[list[tuple[str, str]]], None] | None = None,
) -> tuple[Datasets, Segmentation, Predictions, Any]:
    """Features -> segments -> predictors -> the composite scorer, each stage timed in ``run``.

    With ``previous_hierarchy`` (the champion's), matched segments keep their ids and names and
    ``segmentation.extras`` holds the stability score and the migration matrix.
    ``check_input`` receives the future model's input schema as soon as the features are built
    (before any model is fitted): the registry's schema guard fails there, not minutes later.
    """
    from contextlib import nullcontext

    from segml.scoring import input_schema_of
    from segml.targeting import fit_targeting

    def stage(name: str):
        return run.stage(name) if run is not None else nullcontext()

    with stage("features"):
        progress("building point-in-time features")
        data = build_datasets(tables, config)
    if check_input is not None:
        check_input(input_schema_of(data.current_X))
    with stage("segments"):
        progress("discovering segments")
        segmentation = discover_segments(data.current_X, config)
        if previous_hierarchy is not None:
            segmentation = keep_segment_ids(
                segmentation, previous_hierarchy, data.current_X, config
            )
    with stage("predictors"):
        predictions = fit_and_evaluate(data, config, progress)  # "training <target>" each
    progress("scoring and profiling the customers")
    with stage("scorer"):
        scorer = build_scorer(data, segmentation, predictions)
    with stage("scoring"):
        scored = scorer.score(data.current_X).set_index("customer_id")
        # the value x risk cut points and the operating curves, learned here, kept in the scorer
        scored = fit_targeting(scorer, scored, predictions, config)
    with stage("profiles"):
        segmentation = profile_with_predictions(segmentation, data.current_X, scored, config)
    with stage("drift_reference"):
        scorer.metadata["drift_reference"] = drift_reference(data.current_X, scored)
    segmentation.extras.update(predictive_grid=scorer.predictive_grid,
                               audience_curves=scorer.audience_curves)
    segmentation.extras["current_scores"] = scored  # reused by retrain's drift comparison
    return data, segmentation, predictions, scorer


def write_artifacts(
    out: Path, data: Datasets, segmentation: Segmentation, predictions: Predictions, config: SegmlConfig
) -> None:
    """Profiles, hierarchy, comparisons, drivers and plots into ``out`` (then logged)."""
    import json

    from segml.predict import contributions, drivers_by_segment, explain_global
    from segml.predict.explain import plot_beeswarm, plot_importance_bar
    from segml.report import charts
    from segml.report.predictive import write_predictive_artifacts
    from segml.segments import plots

    floor = config.segments.min_profile_size
    for folder in ("segments", "evaluation", "explain", "plots"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for level, profile in segmentation.profiles.items():
        frame = profile.reset_index()
        frame.insert(1, "name", frame.iloc[:, 0].astype(str).map(segmentation.hierarchy.names_.get(level, {})))
        write_frame_atomic(_flat(frame), out / f"segments/profile_level_{level}.csv")
    tree = segmentation.hierarchy.hierarchy_.reset_index()
    # Sizes of the customers scored now (the fitted sizes are estimates from the HDBSCAN sample),
    # so the tree agrees with the profiles.
    counts = segmentation.assignments["segment_leaf"].value_counts()
    tree["size"] = tree["segment_leaf"].map(counts).fillna(0).astype("int64")
    tree["share"] = tree["size"] / max(int(counts.sum()), 1)
    if "size" in tree:  # a leaf under the privacy floor keeps its place in the tree, not its size
        small = tree["size"] < floor
        tree[[c for c in ("size", "share") if c in tree]] = tree[[c for c in ("size", "share") if c in tree]].mask(small)
    write_frame_atomic(_flat(tree), out / "segments/hierarchy.csv")
    # which method made the leaves and why, the noise share and the top level's separation
    discovery = dict(getattr(segmentation.hierarchy, "discovery_", None) or {})
    discovery["noise_share"] = float(segmentation.assignments["segment_is_noise"].mean())
    discovery = {k: (None if isinstance(v, float) and v != v else v) for k, v in discovery.items()}
    (out / "segments/discovery.json").write_text(json.dumps(discovery, default=str, indent=1), encoding="utf-8")
    rules = segmentation.rule_segments.drop(columns=["rfm_r", "rfm_f", "rfm_m", "rfm_score"], errors="ignore")
    counts = rules.astype("object").melt(var_name="rule", value_name="segment").value_counts()
    counts = counts.rename("customers").reset_index()
    write_frame_atomic(counts[counts["customers"] >= floor], out / "segments/rule_segments.csv")
    if "migration" in segmentation.extras:
        # Cells under the privacy floor describe a handful of customers: blanked, not logged.
        migration = segmentation.extras["migration"]
        migration = migration.where(migration >= floor)
        write_frame_atomic(migration.reset_index(), out / "segments/migration.csv")
    for target, table in predictions.comparison.items():
        write_frame_atomic(table.reset_index(names="scorer"), out / f"evaluation/{target}_comparison.csv")
    for name, table in predictions.extras.items():
        if name.endswith("_eval_scores"):  # row-level scores: only their aggregated curves are kept
            target = name.removesuffix("_eval_scores")
            curves = charts.evaluation_curves(table, min_size=floor)
            write_frame_atomic(curves, out / f"evaluation/{target}_curves.csv")
            charts.plot_evaluation(curves, out / f"plots/{target}_evaluation.png", title=target)
            continue
        write_frame_atomic(table.reset_index(), out / f"evaluation/{name}.csv")
        if name.endswith("_deciles"):
            target = name.removesuffix("_deciles")
            charts.plot_deciles(table, out / f"plots/{target}_deciles.png", title=f"{target}: deciles")
    grid = charts.rfm_grid(segmentation.rule_segments, min_size=floor)
    if len(grid):
        write_frame_atomic(grid.reset_index(), out / "segments/rfm_grid.csv")
    # report/context.json: the privacy floor, matrix sizes, label rates and readiness.
    summary: dict[str, Any] = {
        "customers scored": len(data.current_X),
        "features": data.current_X.shape[1],
    }
    for target, fit in predictions.fits.items():
        summary[f"{target} training rows"] = fit.training_rows
        if fit.label_rate is not None:
            summary[f"{target} label rate (training)"] = fit.label_rate
    context = {
        "mode": data.mode,
        "min_profile_size": floor,
        "data": summary,
        "cutoffs": data.cutoffs,
        "targets": target_windows(predictions),
        "skipped_targets": [p.to_dict() for p in predictions.skipped],
        "skipped": dict(predictions.skipped_targets),
        "readiness": None if predictions.readiness is None else predictions.readiness.to_dict(),
        "predictive_segments": write_predictive_artifacts(
            out, segmentation.extras.get("current_scores"), data.current_X,
            segmentation.extras.get("predictive_grid"), segmentation.extras.get("audience_curves"),
            config),
    }
    (out / "report").mkdir(parents=True, exist_ok=True)
    (out / "report/context.json").write_text(json.dumps(context, default=str, indent=1), encoding="utf-8")
    X = data.current_X
    sample = X.sample(min(len(X), 1000), random_state=config.seed)
    leaf_level = segmentation.depth
    for target, predictor in predictions.predictors.items():
        contrib = contributions(predictor, sample)
        importance = explain_global(predictor, sample, contrib=contrib)
        write_frame_atomic(importance, out / f"explain/{target}_importance.csv")
        plot_importance_bar(importance, out / f"plots/{target}_importance.png", title=f"{target}: mean |SHAP|")
        plot_beeswarm(
            predictor, sample, out / f"plots/{target}_beeswarm.png", seed=config.seed, contrib=contrib
        )
        segments = segmentation.assignments.loc[sample.index, "segment_level_1"]
        drivers = drivers_by_segment(
            predictor, sample, segments, k=3, min_size=floor, contrib=contrib
        )
        write_frame_atomic(drivers, out / f"explain/{target}_drivers_by_segment.csv")
    a = segmentation.assignments
    plots.plot_dendrogram(
        segmentation.hierarchy, out / "plots/segment_tree.png", min_profile_size=floor,
        sizes=a["segment_leaf"].value_counts(),  # the customers the profiles count, not the sample's estimate
    )  # fmt: skip
    plots.plot_segment_sizes(a, out / "plots/segment_sizes.png", level=1, min_profile_size=floor)
    plots.plot_segment_sizes(a, out / "plots/leaf_sizes.png", level=leaf_level, min_profile_size=floor)
    plots.plot_projection(
        segmentation.hierarchy, X, a, out / "plots/segment_projection.png",
        min_profile_size=floor, random_state=config.seed,
    )  # fmt: skip
    plots.plot_profile_heatmap(
        X, a, out / "plots/profile_heatmap.png", level=1, min_profile_size=floor,
        names=segmentation.hierarchy.names_.get(1),
    )  # fmt: skip


def target_windows(predictions: Predictions) -> dict[str, dict[str, Any]]:
    """Per target: the cutoffs of the evaluation fit and of the registered (refit) predictor."""
    out: dict[str, dict[str, Any]] = {}
    for target, fit in predictions.fits.items():
        windows = fit.plan.to_dict() if fit.plan is not None else {"evaluation": "cross-validation"}
        out[target] = {**windows, "training_rows": fit.training_rows}
    return out


def write_run_report(
    folder: Path,
    run_id: str,
    run_name: str,
    data: Datasets,
    predictions: Predictions,
    segmentation: Segmentation,
    extra_metrics: dict[str, float] | None = None,
    documents: dict[str, Any] | None = None,
) -> Path:
    """Render ``report.html`` from the artifacts in ``folder`` (logged with them).

    ``documents`` are JSON artifacts the report shows that the run logs elsewhere, written into
    ``folder`` first: a retrain passes ``{"gates.json": [...], "drift.json": {...}}``.
    """
    import json

    from segml.report import render_folder, write_html_atomic

    for name, document in (documents or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, default=str, indent=1), encoding="utf-8")
    summary = {
        "run_id": run_id,
        "run_name": run_name,
        "status": "FINISHED",
        "params": {},
        "metrics": {**predictions.metrics, **segment_metrics(segmentation), **(extra_metrics or {})},
        "tags": {"mode": data.mode, **run_tags(data, predictions)},
    }
    return write_html_atomic(render_folder(summary, folder), folder / "report.html")


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists and dicts (distinguishing features, centroids) as JSON text for CSV artifacts."""
    import json

    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object and out[column].map(lambda v: isinstance(v, list | dict | tuple)).any():
            out[column] = out[column].map(lambda v: json.dumps(v, default=str))
    return out


def train(
    config: SegmlConfig | None = None,
    *,
    data_dir: str | Path | None = None,
    tables: Tables | None = None,
    alias: str | None = "auto",
    run_name: str = "train",
    progress: Progress = no_progress,
) -> TrainResult:
    """The full pipeline, tracked in one MLflow run and registered as one composite model.

    Parameters
    ----------
    config : SegmlConfig, optional
        Defaults to the embedded demo configuration.
    data_dir, tables :
        Where the data comes from (a folder in the ``segml generate`` layout, or loaded tables).
    alias : str or None
        Registry alias the new version gets. ``"auto"`` (default): ``champion`` when the model has
        none yet, else ``challenger`` (promote it with ``segml promote`` or a gated retrain).
        None only registers.

    Returns
    -------
    TrainResult
        Run id, model URI and version, metrics and model-vs-baseline tables.
    """
    from segml import lineage
    from segml.tracking import publish, reading, registry, runs

    config = config or SegmlConfig()
    name = config.tracking.registered_model_name
    with runs.pipeline_run(config.tracking, run_name=run_name) as run:
        runs.log_config(config, run_id=run.run_id)
        with run.stage("load"):
            progress("loading and validating data")
            tables = tables if tables is not None else load(config, data_dir)
            prints = data_fingerprints(tables)
            runs.log_data_fingerprints(prints, run_id=run.run_id)
            runs.log_problems(tables.warnings, name="validation_warnings.json", run_id=run.run_id)
        data, segmentation, predictions, scorer = fit_all(
            tables, config, progress, run,
            check_input=lambda schema: publish.check_input_schema(name, schema, run.tracking_uri))
        with run.stage("logging"):
            run.set_tags({"mode": data.mode, **run_tags(data, predictions)})
            runs.log_dict(data.cutoffs, "cutoffs.json", run_id=run.run_id)
            runs.log_problems(predictions.skipped, name="skipped_targets.json", run_id=run.run_id)
            runs.log_dict(predictions.readiness.to_dict(), "readiness.json", run_id=run.run_id)
            lineage.record_inputs(run.run_id, data, predictions, config, prints, tables.sources,
                                  run.tracking_uri)  # each window's data as a dataset input
            runs.log_metrics(predictions.metrics, run_id=run.run_id)
            runs.log_metrics(segment_metrics(segmentation), run_id=run.run_id)
        with run.stage("explain"), tempfile.TemporaryDirectory() as tmp:
            progress("explaining and writing artifacts")
            write_artifacts(Path(tmp), data, segmentation, predictions, config)
            write_run_report(Path(tmp), run.run_id, run_name, data, predictions, segmentation)
            runs.log_artifacts(tmp, run_id=run.run_id)
        progress("registering the composite model")
        with run.stage("register", nested=False):  # logged in the run that holds its metrics
            info, version = register_version(run, scorer, data, predictions, config)
            if alias == "auto":
                has_champion = registry.get_alias_version(name, "champion", run.tracking_uri)
                alias = "challenger" if has_champion is not None else "champion"
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
            extras={"datasets": data, "scorer": scorer, "logged_model": info.model_uri},
            report=reading.artifact_location(run.run_id, "report.html", run.tracking_uri),
        )


def register_version(run: Any, scorer: Any, data: Datasets, predictions: Predictions,
                     config: SegmlConfig) -> tuple[Any, str]:
    """Log the composite in ``run`` (the run holding its metrics) and register it under
    ``tracking.registered_model_name``, described and tagged (:mod:`segml.lineage`); returns
    MLflow's ``ModelInfo`` and the version. No alias is set."""
    from segml import lineage
    from segml.tracking import runs

    return lineage.publish_model(
        scorer, config.tracking.registered_model_name, run.run_id,
        tracking_uri=run.tracking_uri,
        description=lineage.version_description(run.run_id, data, predictions),
        tags={**version_tags(predictions),
              **lineage.lineage_tags(data, config, runs.code_version_tags())})


def run_tags(data: Datasets, predictions: Predictions) -> dict[str, str]:
    """The scoring cutoff, each registered predictor's fit cutoff and the skipped targets."""
    tags = {"cutoff": data.cutoffs.get("scoring", "") if data.cutoffs else ""}
    tags.update({f"fit_cutoff_{t}": c for t, c in predictions.fit_cutoffs().items()})
    tags.update(model_choice_tags(predictions))
    skipped = predictions.skipped_targets
    if skipped:
        tags["segml.skipped_targets"] = ", ".join(sorted(skipped))
        for target, message in skipped.items():
            tags[f"segml.skipped.{target}"] = message[:4000]
    return tags


def version_tags(predictions: Predictions) -> dict[str, str]:
    """Model version tags: ``fit_cutoff_<target>`` (ISO date of the registered predictor's latest
    training cutoff) and the targets the version predicts."""
    tags = {f"fit_cutoff_{t}": c for t, c in predictions.fit_cutoffs().items()}
    tags.update(model_choice_tags(predictions))
    tags["segml.targets"] = ", ".join(predictions.predictors)
    return tags


def model_choice_tags(predictions: Predictions) -> dict[str, str]:
    """``winner_<target>`` (the candidate registered) and ``calibration_<target>``."""
    tags = {}
    for target, predictor in predictions.predictors.items():
        tags[f"winner_{target}"] = str(getattr(predictor, "winner_", "lgbm"))
        if getattr(predictor, "calibration_", None):
            tags[f"calibration_{target}"] = str(predictor.calibration_)
    return tags


def segment_metrics(segmentation: Segmentation) -> dict[str, float]:
    """Counts per level, the noise share and the sample-assignment agreement of the hierarchy."""
    hierarchy = segmentation.hierarchy
    assignments = segmentation.assignments
    metrics = {
        f"segments_level_{k}_count": float(assignments[f"segment_level_{k}"].nunique())
        for k in range(1, hierarchy.depth_ + 1)
        if f"segment_level_{k}" in assignments
    }
    metrics["segments_noise_share"] = float(assignments["segment_is_noise"].mean())
    discovery = getattr(hierarchy, "discovery_", None) or {}
    for key in ("density_noise_share", "top_level_silhouette"):
        if discovery.get(key) is not None and discovery[key] == discovery[key]:
            metrics[f"segments_{key}"] = float(discovery[key])
    if getattr(hierarchy, "agreement_", None) is not None:
        metrics["segments_approximate_predict_agreement"] = float(hierarchy.agreement_)
    return metrics


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
        Features as of this date (default: the end of the data). It must lie within the data:
        before its first transaction nobody has a history, and after its last one every
        customer would look inactive for days the data knows nothing about.
    reasons : bool
        Add the top 3 signed SHAP reasons per score (about 100x slower than scores alone).
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
    from segml.data.population import every_customer, scoring_cutoff
    from segml.features import build_features
    from segml.tracking.model import load_scorer

    config = config or SegmlConfig()
    scorer = scorer if scorer is not None else load_scorer(model_uri, tracking=config.tracking)
    tables = tables if tables is not None else load(config, data_dir)
    if scorer.feature_spec is None:
        raise DataError([Problem(f"model {model_uri} carries no feature settings", key="model")])
    for warning in tables.warnings:
        on_warning(warning)
    at = scoring_cutoff(tables, cutoff)
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

