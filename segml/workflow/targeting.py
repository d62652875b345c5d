"""Audiences: "likely to churn / buy / become high value" lists with their expected precision.

For each classifier the model stores, from training, the *operating curve* of its evaluation fit
on the out-of-time evaluation window (:mod:`segml.predict.operating`): the precision and recall
of the top ``q`` of the target's population, for every ``q``. An audience is cut from the
registered model's scores at an operating point the user chooses:

* ``top=0.1``: the 10% of the target's population (churn: the active customers) with the
  highest scores in the batch scored;
* ``precision=0.6``: the largest share ``q`` whose list reached a precision of 0.6 on the
  evaluation window; the list is every customer the registered model scores at least as high as
  the top ``q`` of its training population (a score stored in the model, so a customer's
  membership does not depend on who else is scored);
* ``threshold=0.5``: every customer whose probability is at least 0.5.

A precision list is *cumulative*: its customers reach the precision together, the likeliest well
above it and the last ones admitted far below it (with a base rate of 30%, a list at precision
0.6 may reach down to customers at a few percent). The summary shows the lowest probability a
list includes, a warning says when it is under half the precision asked for, and
``min_probability`` (``--min-probability``) is a floor under every kind of list: no customer
below it is included, whatever the operating point.

Each list comes with its expected precision and recall: those of the same share of the
population on the evaluation window. The promise is measured with the *evaluation fit* (trained
before its window, scored out of time) and carried over by share of the population to the
*registered* predictor, which repeats the same recipe on fresher windows: it assumes the
target's base rate stays as it was on the evaluation window (the summary shows that rate).
``tests/e2e/test_audiences_honest.py`` checks a promise against what happened.

Example
-------
>>> import numpy as np, pandas as pd
>>> from segml.config import OperatingPoint
>>> scored = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
...                        "churn_probability": [0.9, 0.2, np.nan, 0.7]})
>>> curve = {"threshold": [0.9, 0.7, 0.2], "share": [1 / 3, 2 / 3, 1.0],
...          "precision": [1.0, 0.75, 0.5], "recall": [0.5, 0.9, 1.0], "info": {}}
>>> result = build_audiences(scored, {"churn": curve}, OperatingPoint(precision=0.7))
>>> result.lists["churn"]["customer_id"].tolist()
['a', 'd']
>>> result.summary[["audience", "customers", "expected_precision"]].to_dict("records")
[{'audience': 'likely to churn', 'customers': 2, 'expected_precision': 0.75}]
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segml.config import OperatingPoint, SegmlConfig
from segml.errors import Problem
from segml.predict.operating import (
    operating_curve,
    resolve,
    unreachable,
    with_registered_scores,
)
from segml.segments import predictive
from segml.targets import TARGETS, Target

log = logging.getLogger(__name__)

#: Columns of a list file (those the scorer gives); never anything else, so never PII.
LIST_COLUMNS = ("customer_id", "segment_path", predictive.COLUMN)


@dataclass
class Audiences:
    """The lists (target -> customers, best first), one summary row per list, and the targets
    left out (with the reason)."""

    lists: dict[str, pd.DataFrame]
    summary: pd.DataFrame
    skipped: list[Problem] = field(default_factory=list)
    point: OperatingPoint | None = None
    #: Warnings about lists that were built (a precision list reaching low probabilities).
    notes: list[Problem] = field(default_factory=list)
    min_probability: float | None = None


# ---------------------------------------------------------------------------- at training time
def fit_targeting(scorer: Any, scored: pd.DataFrame, predictions: Any,
                  config: SegmlConfig, *, columns: list[str] | None = None,
                  quantile: Callable[[str, list[float]], Any] | None = None,
                  registered: Callable[[dict[str, Any], str], dict[str, Any]] | None = None,
                  ) -> pd.DataFrame:
    """Store the predictive grid and the operating curves in ``scorer`` (plain data) and add
    ``predictive_segment`` to ``scored`` (the training population's scores, index customer id).

    The grid's cut points are learned from ``scored``; the curves from the evaluation fits'
    out-of-time scores (``predictions.fits[<target>].eval_scores``), each with the registered
    model's score at every share of the training population (how a promise carries over).
    The targets are the scorer's own (:meth:`~segml.scoring.scorer.CustomerScorer.targets`).

    Where the training population's scores are elsewhere (a Spark train), ``scored`` holds a
    sample of them and the learning reads the population through ``columns`` (its score
    columns), ``quantile(column, quantiles)`` (the grid's cut points:
    :func:`~segml.segments.predictive.finite_quantiles`) and ``registered(curve, column)``
    (:func:`~segml.predict.operating.with_registered_scores`).
    """
    targets = scorer.targets()
    present = scored.columns if columns is None else columns
    grid = predictive.fit_grid(scored if quantile is None else present,
                               config.predictive_segments, predictions.predictors, targets,
                               quantile=quantile)
    scorer.predictive_grid = grid
    if grid["reason"]:
        log.info("predictive segments: %s", grid["reason"])  # the report shows it too
    registered = registered or (lambda curve, column: with_registered_scores(curve,
                                                                             scored[column]))
    scorer.audience_curves = {
        name: registered(curve, targets[name].output_column)
        for name, curve in operating_curves(predictions, config, targets).items()
        if targets[name].output_column in present}
    if predictive.has_cells(grid):
        scored = scored.assign(**{predictive.COLUMN: predictive.assign(grid, scored)})
    return scored


def operating_curves(predictions: Any, config: SegmlConfig,
                     targets: Mapping[str, Target] | None = None) -> dict[str, dict[str, Any]]:
    """Target -> the operating curve of its evaluation fit on the evaluation window
    (``targets``: the run's targets by name; None: the built-in ones)."""
    curves = {}
    for name, spec in (TARGETS if targets is None else targets).items():
        fit = predictions.fits.get(name)
        scores = None if fit is None else fit.eval_scores
        if not spec.is_classifier or scores is None or name not in predictions.predictors:
            continue
        plan = getattr(fit, "plan", None)
        curve = operating_curve(
            scores["label"], scores["model"], min_size=config.segments.min_profile_size,
            max_points=config.audiences.curve_points,
            evaluation_cutoff=None if plan is None else plan.evaluation.date().isoformat(),
            fit_cutoff=None if fit is None else fit.fit_cutoff)
        if curve is not None:
            curves[name] = curve
    return curves


# ---------------------------------------------------------------------------- building lists
def parse_top(text: str | float) -> float:
    """``"10%"`` or ``0.1`` -> 0.1; a ValueError says what is accepted otherwise.

    Example
    -------
    >>> parse_top("10%"), parse_top("0.25"), parse_top(1)
    (0.1, 0.25, 1.0)
    >>> parse_top("110%")
    Traceback (most recent call last):
    ...
    ValueError: --top must be a percentage in (0%, 100%] such as 10% or a fraction in (0, 1], got '110%'
    """
    raw = str(text).strip()
    match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*(%?)", raw)
    value = None
    if match:
        number = float(match.group(1))
        value = number / 100 if match.group(2) else number
    if value is None or not 0 < value <= 1:
        raise ValueError("--top must be a percentage in (0%, 100%] such as 10% or a fraction in "
                         f"(0, 1], got {raw!r}")
    return value


def operating_point(top: str | float | None = None, precision: float | None = None,
                    threshold: float | None = None, default: OperatingPoint | None = None
                    ) -> OperatingPoint:
    """The one operating point given (``default`` when none); a ValueError names the culprit."""
    given = {k: v for k, v in (("top", top), ("precision", precision), ("threshold", threshold))
             if v is not None}
    if len(given) > 1:
        raise ValueError(f"give one operating point, got {' and '.join('--' + k for k in given)}")
    if not given:
        return default if default is not None else OperatingPoint(top=0.1)
    if "top" in given:
        return OperatingPoint(top=parse_top(top))
    name, value = next(iter(given.items()))
    low = "(0, 1]" if name == "precision" else "[0, 1]"
    if not isinstance(value, int | float) or not (0 < value <= 1 if name == "precision"
                                                   else 0 <= value <= 1):
        raise ValueError(f"--{name} must be a number in {low}, got {value!r}")
    return OperatingPoint(**{name: float(value)})


def _one_list(scored: pd.DataFrame, spec: Target, curve: dict[str, Any] | None,
              point: OperatingPoint, min_probability: float | None = None
              ) -> tuple[pd.DataFrame, dict[str, Any]]:
    name = spec.name
    score = scored[spec.output_column].to_numpy(dtype=np.float64)
    eligible = np.flatnonzero(~np.isnan(score))  # the target's population in this batch
    order = eligible[np.argsort(-score[eligible], kind="stable")]
    scale = "registered_threshold" if curve and "registered_threshold" in curve else "threshold"
    expected = None
    if point.top is not None:
        size = int(round(point.top * order.size))
        if curve is not None:
            expected = resolve(curve, top=size / order.size if order.size else point.top)
        cut = float(score[order[size - 1]]) if size else np.nan
    else:
        cut = point.threshold
        if curve is not None:
            expected = resolve(curve, precision=point.precision, threshold=point.threshold,
                               scale=scale)
            cut = expected[scale] if point.precision is not None else cut
        size = int(np.count_nonzero(score[order] >= cut))
    if min_probability is not None and size and score[order[size - 1]] < min_probability:
        # the floor shortens the list: its promise is that of the shorter list
        cut = float(min_probability)
        size = int(np.count_nonzero(score[order] >= cut))
        if curve is not None:
            expected = (resolve(curve, top=size / order.size) if point.top is not None or not size
                        else resolve(curve, threshold=cut, scale=scale))
    chosen = order[:size]
    columns = [c for c in LIST_COLUMNS if c in scored] + [spec.output_column]
    frame = scored.iloc[chosen][columns].reset_index(drop=True)
    frame.insert(len(frame.columns), "rank", np.arange(1, size + 1))
    info = (curve or {}).get("info", {})
    nothing = expected is None
    row = {
        "target": name,
        "audience": spec.audience or name,
        "operating_point": point.label,
        "customers": size,
        "eligible": int(order.size),
        "share": size / order.size if order.size else np.nan,
        "score_cut": cut,
        "expected_share": np.nan if nothing else expected["share"],
        "expected_precision": np.nan if nothing else expected["precision"],
        "expected_recall": np.nan if nothing else expected["recall"],
        "expected_positives": np.nan if nothing else expected["precision"] * size,
        "mean_probability": float(score[chosen].mean()) if size else np.nan,
        "lowest_probability": float(score[chosen].min()) if size else np.nan,
        "min_probability": np.nan if min_probability is None else float(min_probability),
        "evaluation_cutoff": info.get("evaluation_cutoff"),
        "evaluation_rows": None if curve is None else curve.get("rows"),
        "evaluation_base_rate": None if curve is None else curve.get("base_rate"),
    }
    return frame, row


def build_audiences(scored: pd.DataFrame, curves: dict[str, dict[str, Any]],
                    point: OperatingPoint, targets: list[str] | None = None,
                    min_probability: float | None = None, *,
                    registry: Mapping[str, Target] | None = None) -> Audiences:
    """One list per classifier the scores hold (or per ``targets``), cut at ``point``.

    ``scored`` is the scorer's output; ``curves`` the model's operating curves. A precision no
    list reaches (or a target without a curve) skips that target with a problem naming it and
    the best precision on offer; a ValueError names a requested target the scores lack.
    ``min_probability``: no customer below it enters a list (any operating point). A precision
    list reaching below half its precision gets a warning in ``notes``. ``registry``: the
    model's targets by name (its scorer's :meth:`~segml.scoring.scorer.CustomerScorer.targets`);
    None: the built-in ones.
    """
    registry = TARGETS if registry is None else registry
    if min_probability is not None and not 0 <= min_probability <= 1:
        raise ValueError(f"--min-probability must be a number in [0, 1], got {min_probability!r}")
    available = [n for n, s in registry.items() if s.is_classifier and s.output_column in scored]
    if targets:
        unknown = [t for t in targets if t not in available]
        if unknown:
            raise ValueError(f"no scores for target(s) {unknown}: this model's classifiers are "
                             f"{available}")
    lists, rows, skipped, notes = {}, [], [], []
    for name in targets or available:
        curve = curves.get(name)
        if point.precision is not None:
            problem = unreachable(name, curve, point.precision)
            if problem is not None:
                skipped.append(problem)
                continue
        lists[name], row = _one_list(scored, registry[name], curve, point, min_probability)
        rows.append(row)
        note = _cumulative_note(lists[name], registry[name].output_column, row, point)
        if note is not None:
            notes.append(note)
    return Audiences(lists, pd.DataFrame(rows), skipped, point, notes, min_probability)


def _cumulative_note(frame: pd.DataFrame, column: str, row: dict[str, Any],
                     point: OperatingPoint) -> Problem | None:
    """A warning when a precision list reaches customers far less likely than its precision
    (under half of it): the precision is the list's average, not every member's chance.

    Example
    -------
    >>> frame = pd.DataFrame({"churn_probability": [0.9, 0.8, 0.2, 0.04]})
    >>> row = {"target": "churn", "customers": 4, "lowest_probability": 0.04}
    >>> print(_cumulative_note(frame, "churn_probability", row, OperatingPoint(precision=0.6)))
    warning: churn: the list at precision >= 0.60 is cumulative: its 4 customers reach it together, down to a probability of 4.0% (2 under 30%); --min-probability sets a floor
    """
    if point.precision is None or not row["customers"]:
        return None
    half = point.precision / 2
    lowest = row["lowest_probability"]
    if not lowest < half:
        return None
    under = int((frame[column] < half).sum())
    return Problem(f"{row['target']}: the list at {point.label} is cumulative: its "
                   f"{row['customers']:,} customers reach it together, down to a probability of "
                   f"{lowest:.1%} ({under:,} under {half:.0%}); --min-probability sets a floor",
                   severity="warning", key="precision")


__all__ = ["Audiences", "build_audiences", "fit_targeting", "operating_curves",
           "operating_point", "parse_top"]
