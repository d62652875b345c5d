"""Evaluation metrics for the scores (docs/predictions.md).

Classifiers: ROC AUC, PR AUC (average precision), lift and capture in the top 10 %, Brier score and
expected calibration error. Regressor (future spend): Spearman correlation, normalised Gini, mean
absolute error and a decile table. Every function takes plain arrays and is vectorised.

Conventions
-----------
* "Top 10 %" is the ``ceil(0.1 * n)`` highest scores; ties are broken by row order (stable sort),
  so the figure is deterministic.
* ``ece`` uses ``n_bins`` equal-width bins on [0, 1] by default (``strategy="uniform"``); pass
  ``strategy="quantile"`` for equal-count bins. It is the bin-size weighted mean of
  ``|mean(y) - mean(p)|``.
* ``normalised_gini`` is the Gini of the predictions divided by the Gini of a perfect ranking of
  the actual values (1.0 = perfect order, 0 = random), as in actuarial model comparison.

Example
-------
>>> import numpy as np
>>> y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.4, 0.35, 0.8])
>>> round(roc_auc(y, p), 3)
0.75
>>> classification_metrics(y, p, prefix="churn")["churn_roc_auc"]
0.75
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, roc_auc_score

CLASSIFICATION_METRICS = ("roc_auc", "pr_auc", "lift_at_10", "capture_at_10", "brier", "ece")
REGRESSION_METRICS = ("spearman", "gini", "mae")


def _arrays(y_true, score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float).ravel()
    s = np.asarray(score, dtype=float).ravel()
    if y.shape != s.shape:
        raise ValueError(f"y_true has {y.size} values but the score has {s.size}")
    return y, s


def roc_auc(y_true, score) -> float:
    """Area under the ROC curve; NaN when only one class is present.

    Example
    -------
    >>> roc_auc([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8])
    1.0
    """
    y, s = _arrays(y_true, score)
    if np.unique(y).size < 2:
        return float("nan")
    return float(roc_auc_score(y, s))


def _placements(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's placement values: for each positive the share of negatives it outranks, for
    each negative the share of positives that outrank it (ties count half)."""
    from scipy.stats import rankdata

    pos = y > 0
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    ranks = rankdata(score)
    v10 = (ranks[pos] - rankdata(score[pos])) / n_neg
    v01 = 1.0 - (ranks[~pos] - rankdata(score[~pos])) / n_pos
    return v10, v01


def auc_difference_se(y_true, score_a, score_b) -> float:
    """Standard error of ``roc_auc(y, a) - roc_auc(y, b)`` on the same rows (DeLong et al. 1988):
    paired, so two correlated models' AUCs can differ significantly by less than either's own
    standard error. NaN with a single class.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.random(2000) < 0.3).astype(float)
    >>> a = y + rng.normal(0, 1, 2000)
    >>> bool(0 < auc_difference_se(y, a, a + rng.normal(0, 0.1, 2000)) < 0.01)
    True
    """
    y = np.asarray(y_true, dtype=float)
    a, b = np.asarray(score_a, dtype=float), np.asarray(score_b, dtype=float)
    pos = y > 0
    if pos.all() or not pos.any() or min(pos.sum(), (~pos).sum()) < 2:
        return float("nan")
    a10, a01 = _placements(y, a)
    b10, b01 = _placements(y, b)
    variance = np.var(a10 - b10, ddof=1) / a10.size + np.var(a01 - b01, ddof=1) / a01.size
    return float(np.sqrt(max(variance, 0.0)))


def pr_auc(y_true, score) -> float:
    """Area under the precision-recall curve (average precision); NaN without positives.

    Example
    -------
    >>> pr_auc([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8])
    1.0
    """
    y, s = _arrays(y_true, score)
    if y.sum() == 0:
        return float("nan")
    return float(average_precision_score(y, s))


def _top_mask(score: np.ndarray, fraction: float) -> np.ndarray:
    n_top = max(1, math.ceil(fraction * score.size))
    order = np.argsort(-score, kind="stable")
    mask = np.zeros(score.size, dtype=bool)
    mask[order[:n_top]] = True
    return mask


def lift_at(y_true, score, fraction: float = 0.1) -> float:
    """Positive rate among the top ``fraction`` scores divided by the overall positive rate.

    Example
    -------
    >>> lift_at([1, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0.9, 0, 0, 0, 0, 0, 0, 0, 0, 0.1], 0.1)
    5.0
    """
    y, s = _arrays(y_true, score)
    base = y.mean() if y.size else 0.0
    if base == 0:
        return float("nan")
    return float(y[_top_mask(s, fraction)].mean() / base)


def capture_at(y_true, score, fraction: float = 0.1) -> float:
    """Share of all positives found among the top ``fraction`` scores.

    Example
    -------
    >>> capture_at([1, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0.9, 0, 0, 0, 0, 0, 0, 0, 0, 0.1], 0.1)
    0.5
    """
    y, s = _arrays(y_true, score)
    total = y.sum()
    if total == 0:
        return float("nan")
    return float(y[_top_mask(s, fraction)].sum() / total)


def brier(y_true, prob) -> float:
    """Mean squared difference between probability and outcome.

    Example
    -------
    >>> brier([0, 1], [0.2, 0.6])
    0.1
    """
    y, p = _arrays(y_true, prob)
    return float(np.round(np.mean((p - y) ** 2), 12))


def ece(y_true, prob, n_bins: int = 10, strategy: str = "uniform") -> float:
    """Expected calibration error: size-weighted mean ``|observed rate - mean probability|``.

    Parameters
    ----------
    n_bins : int
        Number of bins.
    strategy : {"uniform", "quantile"}
        Equal-width bins on [0, 1] (default) or equal-count bins on the probabilities.

    Example
    -------
    >>> ece([0, 0, 1, 1], [0.0, 0.0, 1.0, 1.0])
    0.0
    >>> round(ece([0, 1, 0, 1], [0.9, 0.9, 0.9, 0.9]), 3)
    0.4
    """
    y, p = _arrays(y_true, prob)
    if y.size == 0:
        return float("nan")
    p = np.clip(p, 0.0, 1.0)
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1)))
    else:
        raise ValueError(f"unknown ece strategy {strategy!r}; use 'uniform' or 'quantile'")
    bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    sum_y = np.bincount(bins, weights=y, minlength=len(edges))
    sum_p = np.bincount(bins, weights=p, minlength=len(edges))
    return float(np.abs(sum_y - sum_p).sum() / y.size)


def spearman(y_true, pred) -> float:
    """Spearman rank correlation (NaN when either side is constant).

    Example
    -------
    >>> spearman([1, 2, 3], [10, 20, 30])
    1.0
    """
    y, s = _arrays(y_true, pred)
    if np.unique(y).size < 2 or np.unique(s).size < 2:
        return float("nan")
    return float(spearmanr(y, s).statistic)


def _gini(actual: np.ndarray, pred: np.ndarray) -> float:
    order = np.lexsort((np.arange(pred.size), -pred))  # highest prediction first, stable
    total = actual.sum()
    if total == 0:
        return 0.0
    cum = np.cumsum(actual[order]) / total
    return float(cum.sum() / actual.size - (actual.size + 1) / (2 * actual.size))


def normalised_gini(y_true, pred) -> float:
    """Gini of ``pred`` ordering ``y_true`` relative to the perfect ordering (1 = perfect).

    Example
    -------
    >>> normalised_gini([0, 0, 5, 10], [1, 2, 3, 4])
    1.0
    >>> round(normalised_gini([0, 0, 5, 10], [4, 3, 2, 1]), 6)
    -1.0
    """
    y, s = _arrays(y_true, pred)
    best = _gini(y, y)
    if best == 0:
        return float("nan")
    return float(_gini(y, s) / best)


def mae(y_true, pred) -> float:
    """Mean absolute error.

    Example
    -------
    >>> mae([1, 2], [2, 2])
    0.5
    """
    y, s = _arrays(y_true, pred)
    return float(np.mean(np.abs(y - s)))


def classification_metrics(y_true, prob, prefix: str = "") -> dict[str, float]:
    """Every classifier metric, keyed ``<prefix>_<metric>`` (or bare names without prefix).

    Example
    -------
    >>> sorted(classification_metrics([0, 1], [0.2, 0.7]))
    ['brier', 'capture_at_10', 'ece', 'lift_at_10', 'pr_auc', 'roc_auc']
    """
    y, p = _arrays(y_true, prob)
    values = {
        "roc_auc": roc_auc(y, p),
        "pr_auc": pr_auc(y, p),
        "lift_at_10": lift_at(y, p, 0.1),
        "capture_at_10": capture_at(y, p, 0.1),
        "brier": brier(y, p),
        "ece": ece(y, p),
    }
    return {(f"{prefix}_{k}" if prefix else k): v for k, v in values.items()}


def regression_metrics(y_true, pred, prefix: str = "") -> dict[str, float]:
    """Spearman, normalised Gini and MAE, keyed ``<prefix>_<metric>``.

    Example
    -------
    >>> regression_metrics([0, 1, 5], [0.1, 1, 4], prefix="spend")["spend_spearman"]
    1.0
    """
    y, s = _arrays(y_true, pred)
    values = {"spearman": spearman(y, s), "gini": normalised_gini(y, s), "mae": mae(y, s)}
    return {(f"{prefix}_{k}" if prefix else k): v for k, v in values.items()}


def decile_table(y_true, pred, n_bins: int = 10) -> pd.DataFrame:
    """Customers split into deciles of predicted value (1 = highest), with actual vs predicted.

    Columns: ``decile``, ``customers``, ``mean_predicted``, ``mean_actual``, ``sum_actual``,
    ``share_of_actual`` (share of the total actual value found in the decile), ``cum_share``.

    Example
    -------
    >>> t = decile_table(list(range(20)), list(range(20)), n_bins=2)
    >>> t["customers"].tolist(), t["mean_actual"].tolist()
    ([10, 10], [14.5, 4.5])
    """
    y, s = _arrays(y_true, pred)
    order = np.lexsort((np.arange(s.size), -s))
    decile = np.empty(s.size, dtype=int)
    decile[order] = np.arange(s.size) * n_bins // max(s.size, 1) + 1
    frame = pd.DataFrame({"decile": decile, "pred": s, "y": y})
    table = frame.groupby("decile").agg(
        customers=("y", "size"),
        mean_predicted=("pred", "mean"),
        mean_actual=("y", "mean"),
        sum_actual=("y", "sum"),
    ).reset_index()
    total = y.sum()
    table["share_of_actual"] = table["sum_actual"] / total if total else np.nan
    table["cum_share"] = table["share_of_actual"].cumsum()
    return table
