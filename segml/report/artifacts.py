"""A run's artifacts: profiles, hierarchy, comparisons, curves, SHAP drivers, plots, the
report's context and the HTML report, written into a folder (the pipeline logs the folder).

Nothing here talks to MLflow; every table is an aggregate over groups of at least
``segments.min_profile_size`` customers, and no customer row is written.

Example
-------
>>> write_artifacts(Path("artifacts"), data, segmentation, predictions, config)  # doctest: +SKIP
>>> write_run_report(Path("artifacts"), "run-1", "train", data, predictions, segmentation)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from segml.config import SegmlConfig
from segml.data.io import write_frame_atomic
from segml.workflow.datasets import Datasets
from segml.workflow.fitting import Predictions
from segml.workflow.run_record import run_tags, segment_metrics
from segml.workflow.stages import Segmentation

#: Customers each target is explained on at most (a seeded sample of its population).
EXPLAIN_ROWS = 1000
#: How the report names a target's population (segml.targets.Target.population).
POPULATION_TEXT = {"active": "active at the cutoff", "known": "every customer"}


def write_artifacts(
    out: Path, data: Datasets, segmentation: Segmentation, predictions: Predictions, config: SegmlConfig
) -> None:
    """Profiles, hierarchy, comparisons, drivers and plots into ``out`` (then logged)."""
    from segml.predict import contributions, drivers_by_segment, explain_global
    from segml.predict.explain import plot_beeswarm, plot_importance_bar
    from segml.report import charts
    from segml.report.predictive import write_predictive_artifacts
    from segml.segments import plots
    from segml.segments.naming import feature_label
    from segml.workflow.explanations import explained_rows, population_of

    floor = config.segments.min_profile_size
    registry = data.registry  # the run's targets (targets_of(config))
    for folder in ("segments", "evaluation", "explain", "plots"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for level, profile in segmentation.profiles.items():
        frame = profile.reset_index()
        frame.insert(1, "name", frame.iloc[:, 0].astype(str).map(segmentation.hierarchy.names_.get(level, {})))
        write_frame_atomic(_flat(frame), out / f"segments/profile_level_{level}.csv")
    tree = segmentation.hierarchy.hierarchy_.reset_index()
    # Sizes of the customers scored now (the fitted sizes are estimates from the HDBSCAN sample),
    # so the tree agrees with the profiles.
    counts = segmentation.sizes("segment_leaf")
    tree["size"] = tree["segment_leaf"].map(counts).fillna(0).astype("int64")
    tree["share"] = tree["size"] / max(int(counts.sum()), 1)
    if "size" in tree:  # a leaf under the privacy floor keeps its place in the tree, not its size
        small = tree["size"] < floor
        tree[[c for c in ("size", "share") if c in tree]] = tree[[c for c in ("size", "share") if c in tree]].mask(small)
    write_frame_atomic(_flat(tree), out / "segments/hierarchy.csv")
    # which method made the leaves and why, the noise share and the top level's separation
    discovery = dict(getattr(segmentation.hierarchy, "discovery_", None) or {})
    discovery["noise_share"] = float(segmentation.noise_share())
    discovery = {k: (None if isinstance(v, float) and v != v else v) for k, v in discovery.items()}
    (out / "segments/discovery.json").write_text(json.dumps(discovery, default=str, indent=1), encoding="utf-8")
    rules = segmentation.rule_segments.drop(columns=["rfm_r", "rfm_f", "rfm_m", "rfm_score"], errors="ignore")
    counts = rules.astype("object").melt(var_name="rule", value_name="segment").value_counts()
    counts = counts.rename("customers").reset_index()
    write_frame_atomic(counts[counts["customers"] >= floor], out / "segments/rule_segments.csv")
    if segmentation.migration is not None:
        # Cells under the privacy floor describe a handful of customers: blanked, not logged.
        migration = segmentation.migration.where(segmentation.migration >= floor)
        write_frame_atomic(migration.reset_index(), out / "segments/migration.csv")
    for target, table in predictions.comparison.items():
        write_frame_atomic(table.reset_index(names="scorer"), out / f"evaluation/{target}_comparison.csv")
    for target, fit in predictions.fits.items():
        if fit.deciles is not None:
            write_frame_atomic(fit.deciles.reset_index(), out / f"evaluation/{target}_deciles.csv")
            charts.plot_deciles(fit.deciles, out / f"plots/{target}_deciles.png",
                                title=f"{target}: deciles")
        if fit.eval_scores is not None:  # row-level scores: only their aggregated curves are kept
            curves = charts.evaluation_curves(fit.eval_scores, min_size=floor)
            write_frame_atomic(curves, out / f"evaluation/{target}_curves.csv")
            charts.plot_evaluation(curves, out / f"plots/{target}_evaluation.png", title=target)
    grid = charts.rfm_grid(segmentation.rule_segments, min_size=floor)
    if len(grid):
        write_frame_atomic(grid.reset_index(), out / "segments/rfm_grid.csv")
    # report/context.json: the privacy floor, matrix sizes, label rates and readiness.
    summary: dict[str, Any] = {
        "customers scored": data.n_customers,
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
        # what the report shows of each declared target, for a report written in another process
        "declared_targets": {n: dict(t.definition) for n, t in registry.items()
                             if t.definition is not None},
        "readiness": None if predictions.readiness is None else predictions.readiness.to_dict(),
        "predictive_segments": write_predictive_artifacts(
            out, segmentation.current_scores, data.current_X, segmentation.predictive_grid,
            segmentation.audience_curves, config, registry),
    }
    (out / "report").mkdir(parents=True, exist_ok=True)
    (out / "report/context.json").write_text(json.dumps(context, default=str, indent=1), encoding="utf-8")
    X = data.current_X
    leaf_level = segmentation.depth
    # Each target is explained on the customers it scores (churn: the active ones), a seeded
    # sample per target; the sizes are logged and shown beside the drivers.
    window = None if data.mode == "attributes" else float(config.time.activity_window_days)
    explained = []
    for target, predictor in predictions.predictors.items():
        spec = registry[target]
        population = population_of(X, spec, window)
        sample = explained_rows(population, spec, None, EXPLAIN_ROWS, config.seed)
        kind = spec.population if window is not None else "known"
        explained.append({"target": target, "population": POPULATION_TEXT[kind],
                          "customers": len(population), "explained": len(sample)})
        if sample.empty:  # nobody it scores at this cutoff (e.g. no active customer): no drivers
            continue
        contrib = contributions(predictor, sample)
        importance = explain_global(predictor, sample, contrib=contrib)
        write_frame_atomic(importance, out / f"explain/{target}_importance.csv")
        shown = importance.assign(feature=importance["feature"].map(feature_label))
        plot_importance_bar(shown, out / f"plots/{target}_importance.png",
                            title=f"{target}: mean |SHAP|")
        plot_beeswarm(predictor, sample, out / f"plots/{target}_beeswarm.png", seed=config.seed,
                      contrib=contrib, label=feature_label)
        segments = segmentation.assignments.loc[sample.index, "segment_level_1"]
        drivers = drivers_by_segment(
            predictor, sample, segments, k=3, min_size=floor, contrib=contrib
        )
        write_frame_atomic(drivers, out / f"explain/{target}_drivers_by_segment.csv")
    write_frame_atomic(pd.DataFrame(explained, columns=["target", "population", "customers",
                                                        "explained"]),
                       out / "explain/samples.csv")
    a = segmentation.assignments
    plots.plot_dendrogram(
        segmentation.hierarchy, out / "plots/segment_tree.png", min_profile_size=floor,
        sizes=segmentation.sizes("segment_leaf"),  # the customers the profiles count, not the sample's estimate
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
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object and out[column].map(lambda v: isinstance(v, list | dict | tuple)).any():
            out[column] = out[column].map(lambda v: json.dumps(v, default=str))
    return out


__all__ = ["EXPLAIN_ROWS", "target_windows", "write_artifacts", "write_run_report"]
