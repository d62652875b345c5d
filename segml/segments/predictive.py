"""Predictive segments: a value x risk grid on every scored customer.

*Value* is what a customer is predicted to be worth (predicted spend, else the high-CLV
probability: ``predictive_segments.value_targets``), *risk* how likely they are to leave (the
churn probability: ``predictive_segments.risk_targets``). Each axis is cut into bands at quantiles
of the **training** population's scores (:func:`fit_grid`, once, at training time). The cut points
are stored in the model as plain data (numbers and names), so a customer's cell depends on their
own scores only, never on who else is scored, and batch and served answers agree.

Customers outside the risk target's population (churn applies to active customers only) have no
risk score: they get a cell of their own within their value band (``Low value, inactive``).

A missing axis degrades the grid instead of dropping it: with no value target trained (one year
of history trains neither spend nor high CLV) the cells are the risk bands alone (``At risk``);
with no risk target, the value bands alone; with neither, there is no predictive segment and the
grid's ``reason`` says why.

Example
-------
>>> import numpy as np
>>> from segml.config import PredictiveSegmentsConfig
>>> scored = {"predicted_spend": np.arange(10.0),
...           "churn_probability": np.array([.1, .2, .3, .4, .5, .6, .7, .8, .9, np.nan])}
>>> grid = fit_grid(scored, PredictiveSegmentsConfig(), trained=["churn", "spend"])
>>> [round(c, 2) for c in grid["value"]["cuts"]], [round(c, 2) for c in grid["risk"]["cuts"]]
([4.5, 7.2], [0.5, 0.74])
>>> assign(grid, {"predicted_spend": np.array([9.0, 0.0]),
...               "churn_probability": np.array([0.8, np.nan])}).tolist()
['High value, at risk', 'Low value, inactive']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from segml.targets import TARGETS, Target

#: The scorer's output column holding each customer's cell.
COLUMN = "predictive_segment"


def finite_quantiles(values: Any, quantiles: list[float]) -> np.ndarray | None:
    """``np.quantile`` of the finite ``values`` (a customer outside the target's population has
    no score), None when there is none: the cut points :func:`fit_grid` learns."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return None if values.size == 0 else np.quantile(values, quantiles)


def _axis(scored: Mapping[str, Any], choices: Iterable[str], trained: set[str],
          quantiles: list[float], names: list[str], targets: Mapping[str, Target],
          quantile: Any = None) -> dict[str, Any] | None:
    """The first trained target of ``choices`` with its band cut points, None if none fits."""
    for name in choices:
        spec = targets.get(name)
        if spec is None or name not in trained or spec.output_column not in scored:
            continue
        cuts = (finite_quantiles(scored[spec.output_column], quantiles) if quantile is None
                else quantile(spec.output_column, quantiles))
        if cuts is None:
            continue
        return {"target": name, "column": spec.output_column,
                "cuts": [float(c) for c in cuts], "names": list(names),
                "population": spec.population}
    return None


def fit_grid(scored: Mapping[str, Any], config: Any, trained: Iterable[str],
             targets: Mapping[str, Target] | None = None, *,
             quantile: Any = None) -> dict[str, Any]:
    """Learn the band cut points from the training population's scores.

    Parameters
    ----------
    scored : mapping or DataFrame
        Output column -> scores of the training customers (the scorer's output at training).
    config : PredictiveSegmentsConfig
        Which targets make each axis, the quantile cut points and the band names.
    trained : iterable of str
        The targets the model predicts.
    targets : dict of Target, optional
        The run's targets by name (the scorer's :meth:`~segml.scoring.scorer.CustomerScorer.targets`
        or :func:`segml.targets.targets_of`); None: the built-in ones.
    quantile : callable, optional
        ``quantile(column, quantiles)``: :func:`finite_quantiles` of the column's scores, or None
        when it has none. Given when the scores are not in this process (a Spark train computes
        them there exactly; ``scored`` then only needs to hold the column names).

    Returns
    -------
    dict
        Plain data (JSON-able): ``value`` and ``risk`` (each None or ``target``, ``column``,
        ``cuts``, ``names``; risk also ``outside``, the cell name without a risk score) and
        ``reason`` (why an axis or the whole grid is missing, else None).
    """
    trained = set(trained)
    targets = TARGETS if targets is None else targets
    value = _axis(scored, config.value_targets, trained, config.value_quantiles,
                  config.value_names, targets, quantile)
    risk = _axis(scored, config.risk_targets, trained, config.risk_quantiles, config.risk_names,
                 targets, quantile)
    if risk is not None:
        risk["outside"] = config.outside_name
    missing = []
    if value is None:
        missing.append(f"no value target trained (predictive_segments.value_targets: "
                       f"{list(config.value_targets)})")
    if risk is None:
        missing.append(f"no risk target trained (predictive_segments.risk_targets: "
                       f"{list(config.risk_targets)})")
    reason = "; ".join(missing) or None
    if value is None and risk is None:
        reason = f"no predictive segments: {reason}"
    elif reason:
        reason = f"{'risk' if value is None else 'value'} bands only: {reason}"
    return {"value": value, "risk": risk, "reason": reason}


def has_cells(grid: Mapping[str, Any] | None) -> bool:
    """Whether ``grid`` gives customers a cell (at least one axis)."""
    return bool(grid) and (grid.get("value") is not None or grid.get("risk") is not None)


def cell_names(grid: Mapping[str, Any]) -> np.ndarray:
    """The name of every cell: rows are value bands (lowest first), columns risk bands (lowest
    first) then the outside cell; a missing axis is one unnamed row or column.

    Example
    -------
    >>> cell_names({"value": None, "risk": {"names": ["stable", "at risk"], "outside": "inactive"}})
    array([['Stable', 'At risk', 'Inactive']], dtype=object)
    """
    value, risk = grid.get("value"), grid.get("risk")
    rows = list(value["names"]) if value is not None else [""]
    cols = [*risk["names"], risk["outside"]] if risk is not None else [""]
    names = np.empty((len(rows), len(cols)), dtype=object)
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            text = f"{row}, {col}" if row and col else (row or col)
            names[i, j] = text[:1].upper() + text[1:]
    return names


def _scores(columns: Mapping[str, Any], name: str, n: int) -> np.ndarray:
    """A score column as floats; all NaN when absent (a model lacking that target scores no cell
    on its axis rather than failing)."""
    values = columns.get(name)
    return np.full(n, np.nan) if values is None else np.asarray(values, dtype=np.float64)


def band_codes(grid: Mapping[str, Any], columns: Mapping[str, Any], n: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value band, risk band (the outside cell is the last column) and a validity mask per row.

    A band covers ``[cut below, cut above)``; a customer without a value score (or without a
    risk score on a risk target that applies to everyone) has no cell.
    """
    valid = np.ones(n, dtype=bool)
    value_code = np.zeros(n, dtype=np.intp)
    risk_code = np.zeros(n, dtype=np.intp)
    value, risk = grid.get("value"), grid.get("risk")
    if value is not None:
        scores = _scores(columns, value["column"], n)
        valid &= ~np.isnan(scores)
        value_code = np.searchsorted(np.asarray(value["cuts"]), scores, side="right")
        value_code = np.minimum(value_code, len(value["names"]) - 1)  # NaN sorts last
    if risk is not None:
        scores = _scores(columns, risk["column"], n)
        outside = np.isnan(scores)
        if risk.get("population", "active") == "known":  # no score = no cell, not "outside"
            valid &= ~outside
        risk_code = np.where(outside, len(risk["names"]),
                             np.searchsorted(np.asarray(risk["cuts"]), scores, side="right"))
    return value_code, risk_code, valid


def assign(grid: Mapping[str, Any], columns: Mapping[str, Any], n: int | None = None
           ) -> np.ndarray:
    """Each customer's cell name from their scores (object array; None without a cell).

    ``columns`` maps the scorer's output columns to arrays (one row per customer). Vectorised:
    two ``searchsorted`` and one look-up, whatever the number of rows.
    """
    if n is None:
        n = (len(columns) if isinstance(columns, pd.DataFrame)
             else len(next(iter(columns.values()), ())))
    if not has_cells(grid):
        return np.full(n, None, dtype=object)
    value_code, risk_code, valid = band_codes(grid, columns, n)
    out = cell_names(grid)[value_code, risk_code]
    if not valid.all():
        out[~valid] = None
    return out


def profile_cells(scored: pd.DataFrame, features: pd.DataFrame | None, grid: Mapping[str, Any],
                  min_profile_size: int = 50, targets: Mapping[str, Target] | None = None,
                  ) -> pd.DataFrame:
    """KPIs per cell: customers, share, share of revenue and the expected value of every score.

    ``scored`` is the scorer's output (one row per customer, ``predictive_segment`` included),
    ``features`` the feature rows in the same order (revenue: ``monetary_sum``). Expected rates
    average over the customers each target applies to (a cell's expected churn is its active
    customers' churn). Cells under ``min_profile_size`` customers keep their place and name but
    no statistic, not even their size. ``targets``: the run's targets by name, whose scores
    are averaged (None: the built-in ones).

    Example
    -------
    >>> grid = {"value": None, "risk": {"column": "churn_probability", "cuts": [0.5],
    ...         "names": ["stable", "at risk"], "outside": "inactive"}}
    >>> scored = pd.DataFrame({"churn_probability": [0.25] * 60 + [0.75] * 3})
    >>> scored["predictive_segment"] = assign(grid, scored)
    >>> t = profile_cells(scored, None, grid, min_profile_size=50)
    >>> t[["predictive_segment", "customers", "expected_churn"]].to_dict("list")
    {'predictive_segment': ['Stable', 'At risk', 'Inactive'], 'customers': [60, None, None], \
'expected_churn': [0.25, nan, nan]}
    """
    from segml.segments.profiles import REVENUE_COLUMNS

    names = cell_names(grid)
    value_code, risk_code, valid = band_codes(grid, scored, len(scored))
    flat = np.where(valid, value_code * names.shape[1] + risk_code, -1)
    cells = names.size
    counts = np.bincount(flat[valid], minlength=cells)
    value_names = (grid["value"]["names"] if grid.get("value") is not None else [""])
    risk_names = ([*grid["risk"]["names"], grid["risk"]["outside"]]
                  if grid.get("risk") is not None else [""])
    frame = pd.DataFrame({
        COLUMN: names.ravel(),
        "value_band": np.repeat(value_names, len(risk_names)),
        "risk_band": np.tile(risk_names, len(value_names)),
        "customers": pd.array(counts, dtype="Int64"),
        "share": counts / max(int(valid.sum()), 1),
    })
    money = next((c for c in REVENUE_COLUMNS if features is not None and c in features), None)
    if money is not None:
        revenue = np.nan_to_num(features[money].to_numpy(dtype=np.float64))
        total = revenue[valid].sum()
        frame["revenue_share"] = (np.bincount(flat[valid], revenue[valid], minlength=cells)
                                  / (total if total else np.nan))
    for spec in (TARGETS if targets is None else targets).values():
        if spec.output_column in scored:
            score = scored[spec.output_column].to_numpy(dtype=np.float64)
            known = valid & ~np.isnan(score)
            sums = np.bincount(flat[known], score[known], minlength=cells)
            with np.errstate(invalid="ignore", divide="ignore"):
                frame[f"expected_{spec.name}"] = sums / np.bincount(flat[known], minlength=cells)
    frame["suppressed"] = small = counts < min_profile_size  # empty cells too: no size shown
    stats = [c for c in frame.columns if c not in (COLUMN, "value_band", "risk_band",
                                                   "suppressed", "customers")]
    frame.loc[small, stats] = np.nan
    frame.loc[small, "customers"] = pd.NA
    return frame


def bands_table(grid: Mapping[str, Any]) -> pd.DataFrame:
    """One row per band: axis, target, score column, band name and its score range.

    Example
    -------
    >>> g = {"value": {"target": "spend", "column": "predicted_spend", "cuts": [10.0],
    ...                "names": ["Low value", "High value"]}, "risk": None}
    >>> bands_table(g)[["band", "lower", "upper"]].to_dict("list")
    {'band': ['Low value', 'High value'], 'lower': [nan, 10.0], 'upper': [10.0, nan]}
    """
    rows = []
    for axis in ("value", "risk"):
        spec = grid.get(axis)
        if spec is None:
            continue
        edges = [np.nan, *spec["cuts"], np.nan]
        for i, name in enumerate(spec["names"]):
            rows.append({"axis": axis, "target": spec["target"], "column": spec["column"],
                         "band": name, "lower": edges[i], "upper": edges[i + 1]})
        if axis == "risk":
            rows.append({"axis": axis, "target": spec["target"], "column": spec["column"],
                         "band": spec["outside"], "lower": np.nan, "upper": np.nan})
    return pd.DataFrame(rows, columns=["axis", "target", "column", "band", "lower", "upper"])


__all__ = ["COLUMN", "assign", "band_codes", "bands_table", "cell_names", "finite_quantiles",
           "fit_grid", "has_cells", "profile_cells"]
