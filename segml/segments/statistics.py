"""Additive statistics of a feature frame per segment cell: what profiles and the drift reference
are finished from, without the rows.

A *cell* is the finest segment a customer is placed in (its ``segment_path``): every level of
the hierarchy is a union of cells, so per-cell sums add up to per-segment sums at any level, and
the sums of disjoint sets of customers (partitions of a cluster) add up to those of all of them.
:class:`SegmentStatistics` holds, per cell:

* the number of customers;
* per numeric column (integers, floats and 0/1 flags): the count of non-missing values, their
  sum, the sum and sum of squares of ``x - shift`` (a per-column constant chosen by the caller and
  the same for every part: centring keeps the sums of squares precise), how many are exactly 0
  and exactly 1 (a column is *binary* when nothing else occurs and both do) and the smallest and
  largest value (a segment with no spread has an exact mean and variance 0, whatever the shift);
* per categorical column (categories, text, and anything else the drift reference reads as
  text): the count of each level as text, and of missing values;
* the number of customers the lifecycle rule calls lapsed (:func:`segml.segments.rules.lapsed`);

and over all customers, with ``edges`` the counts per drift bin of each numeric column and with
``scores`` those of each score column (bins as the drift reference counts them, missing last).

``a + b`` adds two parts (``sum(parts)`` works too); parts must read the same columns with the
same shift and bins. :func:`segml.segments.profiles.profile_hierarchy_from` and
:meth:`segml.monitor.drift.DriftReference.from_statistics` finish them into the profiles and the
drift reference; ``profile_hierarchy`` and ``DriftReference.fit`` are those finishers applied to
the statistics of one whole frame (``docs/segments.md``, "Profiles").

Example
-------
>>> import numpy as np, pandas as pd
>>> X = pd.DataFrame({"spend": [10.0, 20.0, np.nan, 40.0], "plan": ["a", "b", "a", None]})
>>> cells = np.array(["1.1", "1.2", "1.1", "1.2"])
>>> whole = SegmentStatistics.of(X, cells, shift={"spend": 25.0})
>>> parts = sum(SegmentStatistics.of(X.iloc[i:i + 2], cells[i:i + 2], {"spend": 25.0})
...             for i in (0, 2))
>>> parts.cells.tolist(), parts.count.tolist(), parts.mean("spend").tolist()
(['1.1', '1.2'], [2, 2], [10.0, 30.0])
>>> SegmentStatistics.from_bytes(whole.to_bytes()).level_totals("plan")
({'a': 2, 'b': 1}, 1)
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from segml.segments.rules import lapsed

#: Rows of :attr:`SegmentStatistics.moments` (one column per cell).
MOMENTS = ("n", "total", "sum", "sumsq", "zeros", "ones", "low", "high")
_N, _TOTAL, _SUM, _SUMSQ, _ZEROS, _ONES, _LOW, _HIGH = range(len(MOMENTS))
_FORMAT = "segml.segment_statistics/1"


def column_role(values: pd.Series) -> str:
    """How a column is summarised: ``numeric`` (moments; drift bins), ``flag`` (a boolean:
    moments for profiles, levels for drift), ``categorical`` (levels; profiled by them) or
    ``text`` (levels, for drift only, e.g. dates)."""
    dtype = values.dtype
    if (isinstance(dtype, pd.CategoricalDtype) or dtype.kind in "OSUT"
            or str(dtype) in ("str", "string")):
        return "categorical"
    if dtype.kind == "b":
        return "flag"
    return "numeric" if dtype.kind in "iuf" else "text"


def numeric_columns(X: pd.DataFrame) -> list[str]:
    """Columns of ``X`` profiled by their moments (numbers and booleans)."""
    return [c for c in X.columns if column_role(X[c]) in ("numeric", "flag")]


def categorical_columns(X: pd.DataFrame) -> list[str]:
    """Columns of ``X`` holding categories or text (profiled by their levels, not averaged)."""
    return [c for c in X.columns if column_role(X[c]) == "categorical"]


def frame_means(X: pd.DataFrame) -> dict[str, float]:
    """The mean of every numeric column of ``X`` over its non-missing values (NaN if none): the
    shift that centres a whole frame exactly, as the frame-based profiles always did."""
    out = {}
    for col in numeric_columns(X):
        x = X[col].to_numpy(dtype=float, na_value=np.nan)
        known = x[~np.isnan(x)]
        out[col] = float(known.mean()) if known.size else math.nan
    return out


@dataclass
class SegmentStatistics:
    """Additive sufficient statistics of a feature frame per finest segment cell.

    Build them with :meth:`of`, add parts with ``+``; the attributes are plain arrays.

    Attributes
    ----------
    cells : ndarray of str
        The cells, sorted; every per-cell array follows this order.
    count : ndarray of int64
        Customers per cell.
    roles : dict
        Column -> :func:`column_role`, in the frame's order.
    shift : dict
        Numeric or flag column -> the constant subtracted before ``sum`` and ``sumsq``.
    moments : dict
        Numeric or flag column -> float array ``(8, cells)``, rows :data:`MOMENTS`: non-missing
        count, sum, shifted sum, shifted sum of squares, count of 0s, count of 1s, minimum and
        maximum (``inf``/``-inf`` where a cell has no value).
    levels : dict
        Categorical, flag or text column -> its levels as text, sorted.
    level_counts : dict
        Same columns -> int64 array ``(3, k)``: cell position, level position, count (the
        non-zero pairs only: a text column with many levels stays small).
    missing : dict
        Same columns -> missing values per cell.
    lapsed : ndarray of int64 or None
        Lapsed customers per cell (None without ``recency_days``).
    edges, bins : dict
        Numeric column -> drift bin edges, and the counts of all customers per bin
        (``len(edges) + 1`` bins, then missing).
    score_edges, score_bins : dict
        The same for score columns.
    """

    cells: np.ndarray
    count: np.ndarray
    roles: dict[str, str] = field(default_factory=dict)
    shift: dict[str, float] = field(default_factory=dict)
    moments: dict[str, np.ndarray] = field(default_factory=dict)
    levels: dict[str, np.ndarray] = field(default_factory=dict)
    level_counts: dict[str, np.ndarray] = field(default_factory=dict)
    missing: dict[str, np.ndarray] = field(default_factory=dict)
    lapsed: np.ndarray | None = None
    edges: dict[str, np.ndarray] = field(default_factory=dict)
    bins: dict[str, np.ndarray] = field(default_factory=dict)
    score_edges: dict[str, np.ndarray] = field(default_factory=dict)
    score_bins: dict[str, np.ndarray] = field(default_factory=dict)

    # ---------------------------------------------------------------------------- building
    @classmethod
    def of(cls, X: pd.DataFrame, cells: np.ndarray | pd.Series, shift: Mapping[str, float], *,
           edges: Mapping[str, np.ndarray] | None = None, scores: pd.DataFrame | None = None,
           score_edges: Mapping[str, np.ndarray] | None = None) -> SegmentStatistics:
        """The statistics of the rows of ``X``, per cell.

        Parameters
        ----------
        X : DataFrame
            Features, one row per customer.
        cells : array-like
            The cell of each row, by position (compared as text; missing reads ``"nan"``).
        shift : mapping
            Numeric or flag column -> the constant its shifted sums are centred on (a sample
            mean is ideal; every part must use the same). A non-finite shift counts as 0.
        edges : mapping, optional
            Numeric column -> drift bin edges: the customers per bin are counted.
        scores : DataFrame, optional
            Score columns, by position with ``X``; needs ``score_edges`` for each.

        Raises
        ------
        ValueError
            A length that differs from ``X``'s, a repeated column, a numeric column without a
            shift, a bin edge for a column that is absent or not numeric, a score column
            without edges.
        """
        cell_values = cells.to_numpy() if isinstance(cells, pd.Series) else np.asarray(cells)
        if cell_values.shape != (len(X),):
            raise ValueError(f"cells: {cell_values.shape[0] if cell_values.ndim else 0} values "
                             f"for {len(X)} rows of features")
        repeated = X.columns[X.columns.duplicated()]
        if len(repeated):
            raise ValueError(f"column {repeated[0]!r} appears more than once in the features")
        codes, names = _cell_codes(cell_values)
        k = len(names)
        out = cls(cells=names, count=np.bincount(codes, minlength=k).astype(np.int64))
        for col in X.columns:  # columns, not customers
            role = out.roles[col] = column_role(X[col])
            if role in ("numeric", "flag"):
                if col not in shift:
                    raise ValueError(f"column {col!r}: no shift given for a numeric column")
                centre = float(shift[col])
                out.shift[col] = centre if math.isfinite(centre) else 0.0
                x = X[col].to_numpy(dtype=float, na_value=np.nan)
                out.moments[col] = _moments(x, out.shift[col], codes, k)
            if role != "numeric":
                out.levels[col], out.level_counts[col], out.missing[col] = _level_counts(
                    X[col], codes, k)
        if "recency_days" in X.columns:
            out.lapsed = np.bincount(codes[lapsed(X).to_numpy(dtype=bool)],
                                     minlength=k).astype(np.int64)
        for col, col_edges in (edges or {}).items():
            if out.roles.get(col) != "numeric":
                raise ValueError(f"edges: column {col!r} is not a numeric column of the features")
            out.edges[col] = np.asarray(col_edges, dtype=float)
            out.bins[col] = bin_counts(X[col], out.edges[col])
        if scores is not None:
            if len(scores) != len(X):
                raise ValueError(f"scores: {len(scores)} rows for {len(X)} rows of features")
            for col in scores.columns:
                if score_edges is None or col not in score_edges:
                    raise ValueError(f"score column {col!r}: no bin edges given")
                out.score_edges[col] = np.asarray(score_edges[col], dtype=float)
                out.score_bins[col] = bin_counts(scores[col], out.score_edges[col])
        return out

    # ---------------------------------------------------------------------------- adding
    def __add__(self, other: SegmentStatistics) -> SegmentStatistics:
        if isinstance(other, int) and other == 0:
            return self
        if not isinstance(other, SegmentStatistics):
            return NotImplemented
        self._check_compatible(other)
        if not other.customers:
            return self
        if not self.customers:  # an empty part may have read its columns' types differently
            return other
        cells = np.union1d(self.cells, other.cells).astype(object)
        at = [np.searchsorted(cells, part.cells) for part in (self, other)]
        out = SegmentStatistics(cells=cells, count=_scatter(cells, at, self.count, other.count),
                                roles=dict(self.roles), shift=dict(self.shift))
        for col, mine in self.moments.items():
            out.moments[col] = _merge_moments(len(cells), at, mine, other.moments[col])
        for col in self.levels:
            out.levels[col], out.level_counts[col] = _merge_levels(
                at, (self.levels[col], self.level_counts[col]),
                (other.levels[col], other.level_counts[col]))
            out.missing[col] = _scatter(cells, at, self.missing[col], other.missing[col])
        if self.lapsed is not None:
            out.lapsed = _scatter(cells, at, self.lapsed, other.lapsed)
        out.edges, out.score_edges = dict(self.edges), dict(self.score_edges)
        out.bins = {c: self.bins[c] + other.bins[c] for c in self.bins}
        out.score_bins = {c: self.score_bins[c] + other.score_bins[c] for c in self.score_bins}
        return out

    def __radd__(self, other: Any) -> SegmentStatistics:
        return self.__add__(other)

    def _check_compatible(self, other: SegmentStatistics) -> None:
        """Raise ValueError naming the first column two parts read differently."""
        for col in [*self.roles, *other.roles]:
            if col not in self.roles or col not in other.roles:
                raise ValueError(f"column {col!r} is in one part's statistics and not the "
                                 "other's: parts must read the same columns")
        both = bool(self.customers and other.customers)
        if both:
            for col, role in self.roles.items():
                if other.roles[col] != role:
                    raise ValueError(f"column {col!r} is {role} in one part and "
                                     f"{other.roles[col]} in the other")
        for col in sorted(set(self.shift) | set(other.shift), key=str):
            a, b = self.shift.get(col), other.shift.get(col)
            if a != b and (both or (a is not None and b is not None)):
                raise ValueError(f"column {col!r}: shift {a} in one part and {b} in the other: "
                                 "parts must be centred on the same constants")
        for kind, mine, theirs in (("bin edges", self.edges, other.edges),
                                   ("score bin edges", self.score_edges, other.score_edges)):
            for col in sorted(set(mine) | set(theirs), key=str):
                if col not in mine or col not in theirs or not np.array_equal(mine[col],
                                                                              theirs[col]):
                    raise ValueError(f"column {col!r}: {kind} differ between parts")

    # ---------------------------------------------------------------------------- bytes
    def to_bytes(self) -> bytes:
        """A compact serialisation (a pickle of plain arrays and dicts), for shipping a part
        from a worker to the driver; read it back with :meth:`from_bytes`."""
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        return pickle.dumps((_FORMAT, state), protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes) -> SegmentStatistics:
        """The statistics written by :meth:`to_bytes` (ValueError for anything else).

        The bytes are a pickle: read only bytes your own workers wrote.
        """
        try:
            tag, state = pickle.loads(data)
        except Exception as error:  # any unreadable payload is the same mistake for the caller
            raise ValueError(f"not segment statistics: {type(error).__name__}") from None
        if tag != _FORMAT or not isinstance(state, dict):
            raise ValueError(f"not segment statistics (format {tag!r})")
        return cls(**state)

    # ---------------------------------------------------------------------------- reading
    @property
    def customers(self) -> int:
        """Customers counted (all cells)."""
        return int(self.count.sum())

    def columns_with(self, *roles: str) -> list[str]:
        """The columns of the given roles, in the frame's order."""
        return [c for c, r in self.roles.items() if r in roles]

    def mean(self, col: str) -> np.ndarray:
        """Per cell, the mean of the non-missing values of ``col`` (NaN where none)."""
        m = self.moments[col]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(m[_N] > 0, m[_TOTAL] / m[_N], np.nan)

    def level_totals(self, col: str) -> tuple[dict[str, int], int]:
        """Over all cells: ``{level text: count}`` (levels that occur, sorted) and the missing
        count of ``col``."""
        counts = np.bincount(self.level_counts[col][1], weights=self.level_counts[col][2],
                             minlength=len(self.levels[col])).astype(np.int64)
        return ({str(lv): int(n) for lv, n in zip(self.levels[col], counts, strict=True) if n},
                int(self.missing[col].sum()))

    def grouped(self, segment_of_cell: np.ndarray | pd.Series) -> SegmentStatistics:
        """The statistics with cells merged into segments: ``segment_of_cell`` names the segment
        of each of :attr:`cells` (in order) as text, or None to leave the cell out.

        Drift bins are kept only when no cell is left out (they count all customers).
        """
        target = np.asarray(segment_of_cell, dtype=object)
        if target.shape != self.cells.shape:
            raise ValueError(f"segment_of_cell: {target.size} values for {self.cells.size} cells")
        keep = np.array([t is not None for t in target], dtype=bool)  # cells, not customers
        names, group = np.unique(target[keep].astype(str), return_inverse=True)
        names = names.astype(object)
        g, k = np.full(self.cells.size, -1, dtype=np.int64), len(names)
        g[keep] = group
        out = SegmentStatistics(cells=names, count=_regroup(g, self.count, k).astype(np.int64),
                                roles=dict(self.roles), shift=dict(self.shift))
        for col, m in self.moments.items():
            out.moments[col] = _regroup_moments(g, m, k)
        for col, pairs in self.level_counts.items():
            out.levels[col] = self.levels[col]
            cell_at = g[pairs[0]]
            used = cell_at >= 0
            out.level_counts[col] = _sum_pairs(cell_at[used], pairs[1][used], pairs[2][used],
                                               len(self.levels[col]))
            out.missing[col] = _regroup(g, self.missing[col], k).astype(np.int64)
        if self.lapsed is not None:
            out.lapsed = _regroup(g, self.lapsed, k).astype(np.int64)
        if keep.all():
            out.edges, out.bins = dict(self.edges), dict(self.bins)
            out.score_edges, out.score_bins = dict(self.score_edges), dict(self.score_bins)
        return out


def bin_counts(values: pd.Series, edges: np.ndarray) -> np.ndarray:
    """Customers per drift bin of ``values``: ``len(edges) + 1`` bins (right-closed at each edge
    from below, as :func:`numpy.searchsorted` with ``side="right"``), then the missing ones."""
    data = values.to_numpy(dtype=float, na_value=np.nan)
    missing = np.isnan(data)
    bins = np.searchsorted(edges, data[~missing], side="right")
    return np.append(np.bincount(bins, minlength=len(edges) + 1), missing.sum()).astype(np.int64)


def _cell_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the position of its cell among the sorted cell texts, and those texts (values
    that read the same as text are one cell)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    texts = np.asarray(pd.Index(uniques).astype(str), dtype=object)
    names, inverse = np.unique(texts, return_inverse=True) if texts.size else (texts, texts)
    return (np.asarray(inverse, dtype=np.int64)[codes] if texts.size
            else np.zeros(0, dtype=np.int64)), names.astype(object)


def _moments(x: np.ndarray, shift: float, codes: np.ndarray, k: int) -> np.ndarray:
    """The :data:`MOMENTS` of ``x`` per cell."""
    present = ~np.isnan(x)
    at, v = codes[present], x[present]
    c = v - shift
    out = np.empty((len(MOMENTS), k))
    out[_N] = np.bincount(at, minlength=k)
    out[_TOTAL] = np.bincount(at, weights=v, minlength=k)
    out[_SUM] = np.bincount(at, weights=c, minlength=k)
    out[_SUMSQ] = np.bincount(at, weights=c * c, minlength=k)
    out[_ZEROS] = np.bincount(at[v == 0], minlength=k)
    out[_ONES] = np.bincount(at[v == 1], minlength=k)
    out[_LOW], out[_HIGH] = np.inf, -np.inf
    np.minimum.at(out[_LOW], at, v)
    np.maximum.at(out[_HIGH], at, v)
    return out


def _level_counts(values: pd.Series, codes: np.ndarray, k: int,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Levels as text (sorted), the non-zero (cell, level, count) triples and missing per cell.
    A categorical is read by its codes, never as a million strings."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        raw, names = values.cat.codes.to_numpy().astype(np.int64), values.cat.categories
    else:
        raw, names = pd.factorize(values)
    texts = np.asarray(pd.Index(names).astype(str), dtype=object)
    levels, level_of = np.unique(texts, return_inverse=True) if texts.size else (texts, texts)
    present = raw >= 0
    missing = np.bincount(codes[~present], minlength=k).astype(np.int64)
    if not present.any():
        return levels.astype(object), np.zeros((3, 0), dtype=np.int64), missing
    lv = np.asarray(level_of, dtype=np.int64)[raw[present]]
    return (levels.astype(object),
            _sum_pairs(codes[present], lv, np.ones(lv.size, dtype=np.int64), len(levels)),
            missing)


def _sum_pairs(cell: np.ndarray, level: np.ndarray, count: np.ndarray, width: int) -> np.ndarray:
    """(cell, level, count) triples with equal pairs added up (non-zero counts only)."""
    key = cell.astype(np.int64) * max(width, 1) + level
    unique, inverse = np.unique(key, return_inverse=True)
    total = np.bincount(inverse, weights=count, minlength=unique.size).astype(np.int64)
    keep = total > 0
    return np.vstack([unique[keep] // max(width, 1), unique[keep] % max(width, 1), total[keep]])


def _scatter(cells: np.ndarray, at: list[np.ndarray], a: np.ndarray, b: np.ndarray,
             ) -> np.ndarray:
    out = np.zeros(len(cells), dtype=np.result_type(a, b))
    out[at[0]] += a
    out[at[1]] += b  # positions are unique within a part
    return out


def _merge_moments(k: int, at: list[np.ndarray], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((len(MOMENTS), k))
    out[_LOW], out[_HIGH] = np.inf, -np.inf
    for pos, m in zip(at, (a, b), strict=True):
        out[:_LOW, pos] += m[:_LOW]
        out[_LOW, pos] = np.minimum(out[_LOW, pos], m[_LOW])
        out[_HIGH, pos] = np.maximum(out[_HIGH, pos], m[_HIGH])
    return out


def _merge_levels(at: list[np.ndarray], a: tuple[np.ndarray, np.ndarray],
                  b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    levels = np.union1d(a[0], b[0]).astype(object)
    cell, level, count = [], [], []
    for pos, (names, pairs) in zip(at, (a, b), strict=True):
        cell.append(pos[pairs[0]])
        level.append(np.searchsorted(levels, names)[pairs[1]] if names.size else pairs[1])
        count.append(pairs[2])
    return levels, _sum_pairs(np.concatenate(cell), np.concatenate(level),
                              np.concatenate(count), len(levels))


def _regroup(group: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    keep = group >= 0
    return np.bincount(group[keep], weights=values[keep], minlength=k)


def _regroup_moments(group: np.ndarray, m: np.ndarray, k: int) -> np.ndarray:
    keep = group >= 0
    out = np.empty((len(MOMENTS), k))
    for row in range(_LOW):
        out[row] = np.bincount(group[keep], weights=m[row, keep], minlength=k)
    out[_LOW], out[_HIGH] = np.inf, -np.inf
    np.minimum.at(out[_LOW], group[keep], m[_LOW, keep])
    np.maximum.at(out[_HIGH], group[keep], m[_HIGH, keep])
    return out
