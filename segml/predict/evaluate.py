"""Model vs baselines on the same rows: out-of-time evaluation and attributes-mode cross-validation.

Metric names follow docs/predictions.md: ``<target>_<metric>`` for the model and
``baseline_<baseline>_<target>_<metric>`` for each baseline, e.g. ``churn_roc_auc`` and
``baseline_logreg_churn_roc_auc``; spend uses ``spend_spearman``, ``spend_gini``, ``spend_mae``.
Cross-validation reports the fold mean under those names and the standard deviation with a
``_std`` suffix.

Example
-------
>>> import numpy as np, pandas as pd
>>> from segml.config import ModelsConfig
>>> from segml.predict.models import fit_predictor
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"recency_days": rng.exponential(60, 800)})
>>> y = pd.Series((rng.random(800) < 1 / (1 + np.exp(-(X.recency_days - 60) / 20))).astype(float))
>>> pred = fit_predictor("churn", X[:600], y[:600], ModelsConfig(n_estimators=30), seed=0)
>>> result = evaluate_target("churn", pred, X[600:], y[600:])
>>> list(result.comparison.index)
['model', 'baseline_recency', 'baseline_logreg', 'baseline_bgnbd']
>>> result.metrics["churn_roc_auc"] > 0.7
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from segml.predict.baselines import skip_reason
from segml.predict.metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    classification_metrics,
    decile_table,
    regression_metrics,
)
from segml.predict.models import Predictor, fit_predictor, label_of
from segml.targets import Target, as_target


@dataclass
class EvaluationResult:
    """Metrics of one target's model and baselines on the same evaluation rows.

    Attributes
    ----------
    metrics : dict
        Flat ``name -> value`` (MLflow-ready).
    comparison : DataFrame
        Rows ``model`` and ``baseline_<name>``; metric columns plus ``rows`` and ``note``
        (why a baseline was skipped).
    deciles : DataFrame or None
        Spend decile table of the model (None for classifiers).
    scores : DataFrame or None
        Row-level label, model and baseline scores (no ids) for the report's curves, when the
        caller keeps them.
    """

    target: str
    metrics: dict[str, float]
    comparison: pd.DataFrame
    deciles: pd.DataFrame | None = None
    scores: pd.DataFrame | None = None


@dataclass
class CVResult:
    """Stratified k-fold results in attributes mode, and the predictor refitted on all rows."""

    target: str
    metrics: dict[str, float]
    comparison: pd.DataFrame
    folds: pd.DataFrame
    predictor: Predictor | None = field(default=None, repr=False)


def _metric_names(spec: Target) -> tuple[str, ...]:
    return CLASSIFICATION_METRICS if spec.is_classifier else REGRESSION_METRICS


def _score(spec: Target, y: np.ndarray, values: np.ndarray) -> dict[str, float]:
    if spec.is_classifier:
        return classification_metrics(y, values)
    return regression_metrics(y, values)


def evaluate_target(
    target: str | Target,
    pred: Predictor,
    X_eval: pd.DataFrame,
    y_eval,
    baseline_features: pd.DataFrame | None = None,
    baselines: dict[str, object] | None = None,
) -> EvaluationResult:
    """Score the model and every baseline on the same rows (rows with a NaN label are dropped).

    Parameters
    ----------
    target : str or Target
        A built-in target's name or a :class:`~segml.targets.Target` (a declared one).
    pred : Predictor
        Fitted model.
    X_eval : DataFrame
        Evaluation features (the model's training columns).
    y_eval : Series or DataFrame
        Label of ``target`` aligned by position with ``X_eval``, or the labels frame ``Y``.
    baseline_features : DataFrame, optional
        Features the baselines read (default ``X_eval``), aligned with ``X_eval``.
    baselines : dict, optional
        Fitted baselines (default ``pred.baselines_``, fitted on the training rows).
    """
    spec = as_target(target)
    target = spec.name
    label = np.asarray(label_of(spec, y_eval), dtype=float)
    keep = ~np.isnan(label)
    X_eval = X_eval[keep]
    base_X = X_eval if baseline_features is None else baseline_features[keep]
    label = label[keep]
    fitted = getattr(pred, "baselines_", {}) if baselines is None else baselines
    metric_names = _metric_names(spec)
    rows: dict[str, dict[str, object]] = {}
    model_pred = pred.predict_value(X_eval)
    model_values = _score(spec, label, model_pred)
    rows["model"] = {**model_values, "rows": int(label.size), "note": ""}
    metrics = {f"{target}_{k}": v for k, v in model_values.items()}
    for name in spec.baselines:
        reason = skip_reason(name, spec, base_X)
        if reason is None and name not in fitted:
            reason = "not fitted on the training rows"
        if reason is not None:
            rows[f"baseline_{name}"] = {**dict.fromkeys(metric_names, np.nan), "rows": 0,
                                        "note": f"skipped: {reason}"}
            continue
        values = _score(spec, label, fitted[name].predict(base_X))
        rows[f"baseline_{name}"] = {**values, "rows": int(label.size), "note": ""}
        metrics.update({f"baseline_{name}_{target}_{k}": v for k, v in values.items()})
    comparison = pd.DataFrame.from_dict(rows, orient="index")[[*metric_names, "rows", "note"]]
    deciles = None if spec.is_classifier else decile_table(label, model_pred)
    return EvaluationResult(target, metrics, comparison, deciles)


def cross_validate_target(
    target: str | Target,
    X: pd.DataFrame,
    y,
    models=None,
    seed: int = 42,
    *,
    refit: bool = True,
) -> CVResult:
    """Stratified k-fold metrics (``models.cv_folds``) of the model and its baselines.

    Each fold fits the model (inner stratified split for early stopping and calibration) and the
    baselines on the other folds and scores both on the held-out fold. ``metrics`` holds the fold
    means under the usual names plus ``<name>_std``; ``predictor`` is then fitted on all rows.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from segml.config import ModelsConfig
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"tenure": rng.uniform(0, 72, 500),
    ...                   "contract": pd.Categorical(rng.choice(["m", "y"], 500))})
    >>> y = pd.Series((rng.random(500) < np.where(X.contract == "m", 0.5, 0.1)).astype(float))
    >>> cv = cross_validate_target("churn", X, y, ModelsConfig(n_estimators=20, cv_folds=3), seed=0)
    >>> cv.folds.shape[0], "baseline_logreg_churn_roc_auc_std" in cv.metrics
    (3, True)
    """
    from segml.config import ModelsConfig

    models = models or ModelsConfig()
    spec = as_target(target)
    label = label_of(spec, y).reset_index(drop=True).astype(float)
    keep = label.notna().to_numpy()
    X = X[keep].reset_index(drop=True) if not keep.all() else X.reset_index(drop=True)
    label = label[keep].reset_index(drop=True)
    if spec.is_classifier:
        splitter = StratifiedKFold(models.cv_folds, shuffle=True, random_state=seed)
        splits = splitter.split(X, label.astype(int))
    else:
        splits = KFold(models.cv_folds, shuffle=True, random_state=seed).split(X)
    records = []
    for fold, (train, test) in enumerate(splits):
        pred = fit_predictor(spec, X.iloc[train], label.iloc[train], models, seed=seed)
        result = evaluate_target(spec, pred, X.iloc[test], label.iloc[test])
        records.append({"fold": fold, **result.metrics})
    folds = pd.DataFrame.from_records(records).set_index("fold")
    means, stds = folds.mean(), folds.std(ddof=1)
    metrics = {**means.to_dict(), **{f"{k}_std": v for k, v in stds.to_dict().items()}}
    comparison = _cv_comparison(spec, means, stds)
    predictor = fit_predictor(target, X, label, models, seed=seed) if refit else None
    return CVResult(spec.name, {k: float(v) for k, v in metrics.items()}, comparison, folds, predictor)


def _cv_comparison(spec: Target, means: pd.Series, stds: pd.Series) -> pd.DataFrame:
    """Rows model / baseline_<name>; columns ``<metric>`` (mean) and ``<metric>_std``."""
    target = spec.name
    rows = {}
    for row, prefix in [("model", f"{target}_")] + [
        (f"baseline_{b}", f"baseline_{b}_{target}_") for b in spec.baselines
    ]:
        values = {}
        for metric in _metric_names(spec):
            values[metric] = means.get(prefix + metric, np.nan)
            values[f"{metric}_std"] = stds.get(prefix + metric, np.nan)
        rows[row] = values
    return pd.DataFrame.from_dict(rows, orient="index")
