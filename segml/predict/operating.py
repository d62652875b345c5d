"""Operating points of a classifier: what a list cut at a score threshold is expected to hold.

An *operating curve* is measured once per classifier at training time, on the out-of-time
evaluation rows scored by the *evaluation fit* (the predictor whose metrics the run reports): for
every distinct score threshold ``t``, the share of the target's population scored at least ``t``
(``share``), the share of them that turned out positive (``precision``) and the share of all
positives they hold (``recall``). It is plain data (lists of numbers, JSON-able), stored in the
model, so an audience can be cut later from the registered model alone.

An *operating point* picks one place on the curve: the top share of customers (``top``), the
largest list reaching a precision (``precision``), or a probability threshold (``threshold``).
Every point of the curve describes at least ``min_size`` customers (``segments.min_profile_size``).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> score = rng.random(5000)
>>> label = (rng.random(5000) < score).astype(float)     # calibrated: P(positive) = score
>>> curve = operating_curve(label, score, min_size=50)
>>> point = resolve(curve, precision=0.9)
>>> round(point["precision"], 2), round(point["share"], 1), round(point["threshold"], 1)
(0.9, 0.2, 0.8)
>>> round(resolve(curve, top=0.5)["precision"], 1)
0.7
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from segml.errors import Problem

CURVE_KEYS = ("threshold", "share", "precision", "recall", "registered_threshold")


def operating_curve(label: Any, score: Any, *, min_size: int = 50, max_points: int = 1000,
                    **info: Any) -> dict[str, Any] | None:
    """Precision, recall and share of the population at every distinct score threshold.

    Parameters
    ----------
    label, score : array-like
        Outcomes (0/1) and scores of the evaluation rows; rows with a NaN in either are dropped
        (outside the target's population).
    min_size : int
        Points selecting fewer customers are left out (no point describes a small group).
    max_points : int
        The curve is thinned to at most this many points (evenly along the list size).
    **info
        Stored beside the curve (e.g. ``evaluation_cutoff``).

    Returns
    -------
    dict or None
        ``threshold`` (descending), ``share``, ``precision``, ``recall`` (lists), ``rows``,
        ``positives``, ``base_rate``, ``min_size`` and ``info``; None when there are no positives
        or fewer than ``min_size`` rows.
    """
    label = np.asarray(label, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    keep = ~(np.isnan(label) | np.isnan(score))
    label, score = label[keep], score[keep]
    n, positives = label.size, float(label.sum())
    if n < max(min_size, 1) or positives <= 0:
        return None
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    hits = np.cumsum(label[order])
    # A threshold takes every tie: keep the last row of each run of equal scores.
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    depth = ends + 1
    ends = ends[depth >= min_size]
    if ends.size == 0:
        return None
    if ends.size > max_points:
        ends = ends[np.unique(np.linspace(0, ends.size - 1, max_points).round().astype(int))]
    depth = ends + 1
    return {
        "threshold": [float(v) for v in ranked[ends]],
        "share": [float(v) for v in depth / n],
        "precision": [float(v) for v in hits[ends] / depth],
        "recall": [float(v) for v in hits[ends] / positives],
        "rows": int(n),
        "positives": int(positives),
        "base_rate": positives / n,
        "min_size": int(min_size),
        "info": dict(info),
    }


def _arrays(curve: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.asarray(curve[k], dtype=np.float64) for k in CURVE_KEYS if k in curve}


def resolve(curve: Mapping[str, Any], *, top: float | None = None,
            precision: float | None = None, threshold: float | None = None,
            scale: str = "threshold") -> dict[str, Any]:
    """The curve's point for one operating point (exactly one of the three).

    ``top``: the point whose share is nearest. ``precision``: the largest list whose precision
    reaches the target (a :class:`ValueError` names the best precision the curve offers when none
    does). ``threshold``: the largest list whose ``scale`` column (``threshold``, or
    ``registered_threshold``: the registered model's scores, see :func:`with_registered_scores`)
    is at least ``threshold``; below the smallest list the curve holds, the smallest one.

    Returns
    -------
    dict
        ``threshold``, ``share``, ``precision``, ``recall`` (and ``registered_threshold`` when the
        curve has it) of that point as floats, and its ``index``.

    Example
    -------
    >>> curve = {"threshold": [0.9, 0.6, 0.3], "share": [0.1, 0.4, 0.8],
    ...          "precision": [0.8, 0.6, 0.4], "recall": [0.2, 0.6, 0.8]}
    >>> resolve(curve, precision=0.55)["share"], resolve(curve, top=0.35)["threshold"]
    (0.4, 0.6)
    >>> resolve(curve, precision=0.95)
    Traceback (most recent call last):
    ...
    ValueError: precision 0.95 is out of reach: the best the evaluation window offers is 0.80 (top 10%)
    """
    given = [v for v in (top, precision, threshold) if v is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of top, precision, threshold")
    c = _arrays(curve)
    if top is not None:
        i = int(np.argmin(np.abs(c["share"] - top)))
    elif precision is not None:
        reach = np.flatnonzero(c["precision"] >= precision - 1e-12)
        if reach.size == 0:
            best = int(np.argmax(c["precision"]))
            raise ValueError(
                f"precision {precision:g} is out of reach: the best the evaluation window offers "
                f"is {c['precision'][best]:.2f} (top {100 * c['share'][best]:.3g}%)")
        i = int(reach.max())
    else:
        at_least = np.flatnonzero(c[scale] >= threshold)
        i = int(at_least.max()) if at_least.size else 0
    return {**{k: float(v[i]) for k, v in c.items()}, "index": i}


def with_registered_scores(curve: Mapping[str, Any], scores: Any) -> dict[str, Any]:
    """``curve`` plus ``registered_threshold``: at each point's share ``q``, the score above which
    the *registered* model puts the top ``q`` of the training population (``scores``: its scores
    of the customers the target applies to, at training time).

    The promise of a list is carried over from the evaluation fit to the registered model by
    share of the population, not by probability: two fits calibrated on different windows give
    the same customers different probabilities (isotonic maps have steps), while a list holding
    the top ``q`` is expected to have the precision the top ``q`` had on the evaluation window.

    Example
    -------
    >>> curve = {"share": [0.25, 0.5, 1.0], "precision": [.9, .7, .4]}
    >>> with_registered_scores(curve, [0.1, 0.2, 0.3, 0.4])["registered_threshold"]
    [0.4, 0.3, 0.1]
    """
    ranked = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    ranked = ranked[~np.isnan(ranked)]
    if ranked.size == 0:
        return dict(curve)
    at = registered_ranks(curve, ranked.size)
    return {**curve, "registered_threshold": [float(v) for v in ranked[at]]}


def registered_ranks(curve: Mapping[str, Any], n: int) -> np.ndarray:
    """The ranks (0: the highest of ``n`` scores) whose scores are the curve's
    ``registered_threshold`` (:func:`with_registered_scores`): the order statistics another
    engine computes where the scores are.

    Example
    -------
    >>> registered_ranks({"share": [0.25, 0.5, 1.0]}, 4).tolist()
    [0, 1, 3]
    """
    share = np.asarray(curve["share"], dtype=np.float64)
    return np.clip(np.ceil(share * n).astype(int) - 1, 0, n - 1)


def best_precision(curve: Mapping[str, Any]) -> float:
    """The highest precision any list of the curve reaches."""
    return float(np.max(curve["precision"]))


def unreachable(target: str, curve: Mapping[str, Any] | None, precision: float) -> Problem | None:
    """A :class:`Problem` naming the target and the best precision when ``precision`` cannot be
    reached (or the model has no curve for ``target``), else None.

    Example
    -------
    >>> curve = {"threshold": [0.8, 0.4], "share": [0.1, 0.5], "precision": [0.7, 0.5],
    ...          "recall": [0.2, 0.6]}
    >>> unreachable("churn", curve, 0.9).message
    'churn: precision 0.9 is out of reach: the best the evaluation window offers is 0.70 (top 10%)'
    >>> unreachable("churn", curve, 0.6) is None
    True
    """
    if curve is None:
        return Problem(f"{target}: the model stores no evaluation curve for this target (attributes "
                       "mode, or a model trained before segml stored them), so no list can "
                       "promise a precision; use --top or --threshold", key="precision")
    try:
        resolve(curve, precision=precision)
    except ValueError as exc:
        return Problem(f"{target}: {exc}", key="precision")
    return None


__all__ = ["CURVE_KEYS", "best_precision", "operating_curve", "registered_ranks", "resolve",
           "unreachable", "with_registered_scores"]
