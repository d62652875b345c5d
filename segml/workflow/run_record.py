"""What a run records about its fitted stages, as plain tags and metrics (no MLflow here).

:func:`run_tags` (the scoring cutoff, each registered predictor's fit cutoff, the winners and
calibrations, the skipped targets), :func:`version_tags` (a registered version's) and
:func:`segment_metrics` (counts per level, noise share, agreement). :mod:`segml.workflow.train` and
:mod:`segml.workflow.retrain` log them; the report shows them.

Example
-------
>>> from types import SimpleNamespace
>>> p = SimpleNamespace(predictors={"churn": SimpleNamespace(winner_="lgbm", calibration_=None)})
>>> model_choice_tags(p)
{'winner_churn': 'lgbm'}
"""

from __future__ import annotations

from segml.workflow.datasets import Datasets
from segml.workflow.fitting import Predictions
from segml.workflow.stages import Segmentation


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
    counts = segmentation.counts()  # every current customer's, even where assignments sample
    metrics = {
        f"segments_level_{k}_count": float(counts[f"segment_level_{k}"].nunique())
        for k in range(1, hierarchy.depth_ + 1)
        if f"segment_level_{k}" in counts
    }
    # One noise metric: the share of customers flagged noise. With HDBSCAN leaves the sample's
    # density noise share says the same (two near-equal numbers); only k-means leaves log it,
    # as the reason they were chosen (what HDBSCAN would have left out).
    metrics["segments_noise_share"] = float(segmentation.noise_share())
    discovery = getattr(hierarchy, "discovery_", None) or {}
    keys = ["top_level_silhouette"]
    if discovery.get("leaf_method") != "hdbscan":
        keys.append("density_noise_share")
    for key in keys:
        if discovery.get(key) is not None and discovery[key] == discovery[key]:
            metrics[f"segments_{key}"] = float(discovery[key])
    if getattr(hierarchy, "agreement_", None) is not None:
        metrics["segments_approximate_predict_agreement"] = float(hierarchy.agreement_)
    return metrics


__all__ = ["model_choice_tags", "run_tags", "segment_metrics", "version_tags"]
