"""Drift between the data a model was trained on and new data.

The champion stores a compact :class:`DriftReference` (bin edges and shares per feature, segment
shares, score histograms), so a retrain can measure drift without the old data.

PSI (population stability index) per feature: ``sum((p_new - p_ref) * ln(p_new / p_ref))`` over
bins fixed on the reference (deciles for numbers, levels for categories, plus a missing bin).
Usual reading: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift.

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> ref = DriftReference.fit(pd.DataFrame({"x": rng.normal(size=5000)}))
>>> psi = ref.feature_psi(pd.DataFrame({"x": rng.normal(1.0, size=5000)}))
>>> bool(psi["x"] > 0.25)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from segml.segments.statistics import SegmentStatistics

_EPS = 1e-4
_MISSING = "__missing__"


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI between two share vectors over the same bins (shares floored to avoid log(0))."""
    p = np.clip(np.asarray(expected, dtype=float), _EPS, None)
    q = np.clip(np.asarray(actual, dtype=float), _EPS, None)
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum((q - p) * np.log(q / p)))


def _numeric_shares(values: pd.Series, edges: np.ndarray) -> np.ndarray:
    data = values.to_numpy(dtype=float, na_value=np.nan)
    missing = np.isnan(data)
    bins = np.searchsorted(edges, data[~missing], side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1).astype(float)
    counts = np.append(counts, missing.sum())
    return counts / max(len(data), 1)


def _text_counts(values: pd.Series) -> pd.Series:
    """Count of each value as text (missing as ``__missing__``), most frequent first
    (:func:`~segml.features.statistics.text_counts`: a categorical by its codes)."""
    from segml.features.statistics import text_counts

    counts = pd.Series(text_counts(values), dtype="int64")
    missing = int(values.isna().sum())
    if missing:
        counts[_MISSING] = counts.get(_MISSING, 0) + missing
    return counts.iloc[np.argsort(-counts.to_numpy(), kind="stable")]


def _categorical_shares(values: pd.Series, levels: list[str]) -> np.ndarray:
    counts = _text_counts(values)
    known = np.array([counts.get(level, 0) for level in levels], dtype=float)
    other = len(values) - known.sum()
    return np.append(known, other) / max(len(values), 1)


def feature_bin_edges(features: pd.DataFrame, n_bins: int = 10) -> dict[str, np.ndarray]:
    """Drift bin edges of every numeric column (booleans are levels): the inner deciles of its
    non-missing values (``n_bins`` quantiles), repeated edges merged; none if all are missing.
    On a cluster, compute them on a sample and pass them to every partition."""
    quantiles = np.linspace(0, 1, n_bins + 1)[1:-1]
    out = {}
    for column in features.columns:
        values = features[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            data = values.to_numpy(dtype=float, na_value=np.nan)
            out[column] = (np.unique(np.nanquantile(data, quantiles)) if values.notna().any()
                           else np.array([]))
    return out


def score_bin_edges(scores: pd.DataFrame, n_bins: int = 10) -> dict[str, np.ndarray]:
    """Drift bin edges of every score column: ``n_bins`` equal bins of [0, 1] for a probability,
    the inner quantiles otherwise."""
    quantiles = np.linspace(0, 1, n_bins + 1)[1:-1]
    equal = np.linspace(0, 1, n_bins + 1)[1:-1]
    return {column: equal if scores[column].between(0, 1).all() else np.unique(
        np.nanquantile(scores[column].to_numpy(dtype=float), quantiles))
        for column in scores.columns}


def _checked_edges(column: str, held: Mapping[str, np.ndarray],
                   given: Mapping[str, np.ndarray] | None, kind: str) -> np.ndarray:
    if column not in held:
        raise ValueError(f"column {column!r}: the statistics hold no {kind} (pass them to "
                         "SegmentStatistics.of)")
    if given is not None and (column not in given
                              or not np.array_equal(np.asarray(given[column], dtype=float),
                                                    held[column])):
        raise ValueError(f"column {column!r}: {kind} differ from those the statistics were "
                         "built with")
    return held[column]


@dataclass
class DriftReference:
    """What a model remembers of its training data to measure drift later."""

    numeric_edges: dict[str, list[float]] = field(default_factory=dict)
    numeric_shares: dict[str, list[float]] = field(default_factory=dict)
    categorical_levels: dict[str, list[str]] = field(default_factory=dict)
    categorical_shares: dict[str, list[float]] = field(default_factory=dict)
    segment_shares: dict[str, float] = field(default_factory=dict)
    score_edges: dict[str, list[float]] = field(default_factory=dict)
    score_shares: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        features: pd.DataFrame,
        *,
        segments: pd.Series | None = None,
        scores: pd.DataFrame | None = None,
        n_bins: int = 10,
    ) -> DriftReference:
        """Summarise the training features, segment shares and score distributions: the
        statistics of the whole frame (:class:`~segml.segments.statistics.SegmentStatistics`)
        finished by :meth:`from_statistics`.

        Categorical levels are the 30 most frequent (missing as ``__missing__``), ties by text.
        """
        from segml.segments.statistics import SegmentStatistics

        edges = feature_bin_edges(features, n_bins)
        shift = {c: 0.0 for c in features.columns}  # only the bins and levels are read
        one = np.zeros(len(features), dtype=np.int64)
        stats = SegmentStatistics.of(features, one, shift, edges=edges)
        ref = cls.from_statistics(stats)
        if segments is not None:
            known = segments.dropna()
            counts = SegmentStatistics.of(pd.DataFrame(index=known.index), known.to_numpy(), {})
            ref.segment_shares = cls.from_statistics(
                counts, segments={c: c for c in counts.cells}).segment_shares
        if scores is not None:
            by_score = SegmentStatistics.of(
                pd.DataFrame(index=scores.index), np.zeros(len(scores), dtype=np.int64), {},
                scores=scores, score_edges=score_bin_edges(scores, n_bins))
            scored = cls.from_statistics(by_score)
            ref.score_edges, ref.score_shares = scored.score_edges, scored.score_shares
        return ref

    @classmethod
    def from_statistics(
        cls,
        stats: SegmentStatistics,
        numeric_edges: Mapping[str, np.ndarray] | None = None,
        score_edges: Mapping[str, np.ndarray] | None = None,
        *,
        segments: Mapping[str, str] | None = None,
        max_levels: int = 30,
    ) -> DriftReference:
        """The reference from additive statistics (e.g. summed over the partitions of a cluster).

        Parameters
        ----------
        stats : SegmentStatistics
            Built with ``edges`` for every numeric column (and ``scores``/``score_edges`` for a
            score histogram).
        numeric_edges, score_edges : mapping, optional
            The edges the statistics were built with, checked (None: take the statistics').
        segments : mapping, optional
            Cell -> the segment key its customers count for in ``segment_shares`` (e.g. a
            ``segment_path`` to its ``segment_leaf`` id as text); cells it does not name are left
            out. None: no segment shares.
        max_levels : int
            Levels kept per categorical column (the most frequent, ties by text).

        Raises
        ------
        ValueError
            A numeric column without bins, or edges that differ from the statistics'.

        Example
        -------
        >>> import numpy as np, pandas as pd
        >>> from segml.segments.statistics import SegmentStatistics
        >>> X = pd.DataFrame({"x": [1.0, 2, 3, np.nan], "plan": ["a", "a", "b", None]})
        >>> stats = SegmentStatistics.of(X, np.array(["1.1", "1.1", "2.1", "2.1"]), {"x": 0.0},
        ...                              edges={"x": np.array([1.5, 2.5])})
        >>> ref = DriftReference.from_statistics(stats, segments={"1.1": "7", "2.1": "8"})
        >>> ref.numeric_shares["x"], ref.categorical_levels["plan"], ref.segment_shares
        ([0.25, 0.25, 0.25, 0.25], ['a', '__missing__', 'b'], {'7': 0.5, '8': 0.5})
        """
        ref = cls()
        n = stats.customers
        for column, role in stats.roles.items():
            if role == "numeric":
                edges = _checked_edges(column, stats.edges, numeric_edges, "bin edges")
                ref.numeric_edges[column] = edges.tolist()
                ref.numeric_shares[column] = (stats.bins[column] / max(n, 1)).tolist()
                continue
            levels, missing = stats.level_totals(column)
            if missing:
                levels[_MISSING] = levels.get(_MISSING, 0) + missing
            names = np.array(list(levels), dtype=object)
            counts = np.array(list(levels.values()), dtype=np.int64)
            top = np.lexsort((names, -counts))[:max_levels] if names.size else []
            ref.categorical_levels[column] = [str(v) for v in names[top]]
            known = counts[top].astype(float)
            ref.categorical_shares[column] = (np.append(known, n - known.sum())
                                              / max(n, 1)).tolist()
        if segments is not None:
            key = np.array([segments.get(c) for c in stats.cells], dtype=object)  # cells, not rows
            named = np.array([k is not None for k in key], dtype=bool)
            shares = pd.Series(stats.count[named], dtype=float).groupby(
                key[named].astype(str)).sum()
            shares = shares[shares > 0].sort_index()
            shares = shares.iloc[np.argsort(-shares.to_numpy(), kind="stable")]  # largest first
            ref.segment_shares = {str(k): float(v) for k, v in (shares / shares.sum()).items()}
        for column in stats.score_bins:
            edges = _checked_edges(column, stats.score_edges, score_edges, "score bin edges")
            ref.score_edges[column] = edges.tolist()
            ref.score_shares[column] = (stats.score_bins[column] / max(n, 1)).tolist()
        return ref

    def feature_psi(self, features: pd.DataFrame) -> pd.Series:
        """PSI per reference feature present in ``features`` (sorted, largest first)."""
        out = {}
        for column, edges in self.numeric_edges.items():
            if column in features:
                shares = _numeric_shares(features[column], np.asarray(edges))
                out[column] = psi(self.numeric_shares[column], shares)
        for column, levels in self.categorical_levels.items():
            if column in features:
                shares = _categorical_shares(features[column], levels)
                out[column] = psi(self.categorical_shares[column], shares)
        return pd.Series(out, dtype=float).sort_values(ascending=False)

    def segment_shift(self, segments: pd.Series) -> pd.DataFrame:
        """Share per segment before and after, with the absolute change and the overall PSI."""
        new = segments.astype(str).value_counts(normalize=True)
        keys = sorted(set(self.segment_shares) | set(new.index))
        frame = pd.DataFrame(
            {
                "reference_share": [self.segment_shares.get(k, 0.0) for k in keys],
                "new_share": [float(new.get(k, 0.0)) for k in keys],
            },
            index=pd.Index(keys, name="segment"),
        )
        frame["abs_change"] = (frame["new_share"] - frame["reference_share"]).abs()
        return frame.sort_values("abs_change", ascending=False)

    def score_psi(self, scores: pd.DataFrame) -> pd.Series:
        out = {
            column: psi(
                self.score_shares[column],
                _numeric_shares(scores[column], np.asarray(self.score_edges[column])),
            )
            for column in self.score_edges
            if column in scores
        }
        return pd.Series(out, dtype=float)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: dict) -> DriftReference:
        return cls(**data)


def drift_summary(
    reference: DriftReference,
    features: pd.DataFrame,
    *,
    segments: pd.Series | None = None,
    scores: pd.DataFrame | None = None,
    psi_warn: float = 0.25,
) -> dict[str, object]:
    """Metrics and warnings for MLflow: ``drift_psi_max``, the drifted features, shifts."""
    feature_psi = reference.feature_psi(features)
    summary: dict[str, object] = {
        "feature_psi": feature_psi.round(4).to_dict(),
        "drift_psi_max": float(feature_psi.max()) if len(feature_psi) else 0.0,
        "drifted_features": feature_psi[feature_psi > psi_warn].index.tolist(),
    }
    if segments is not None and reference.segment_shares:
        shift = reference.segment_shift(segments)
        summary["segment_share_max_change"] = float(shift["abs_change"].max())
        summary["segment_psi"] = psi(shift["reference_share"], shift["new_share"])
    if scores is not None and reference.score_edges:
        summary["score_psi"] = reference.score_psi(scores).round(4).to_dict()
    return summary
