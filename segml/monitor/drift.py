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

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

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
        """Summarise the training features, segment shares and score distributions."""
        ref = cls()
        quantiles = np.linspace(0, 1, n_bins + 1)[1:-1]
        for column in features.columns:
            values = features[column]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                edges = np.unique(np.nanquantile(values.to_numpy(dtype=float, na_value=np.nan), quantiles)) if values.notna().any() else np.array([])
                ref.numeric_edges[column] = edges.tolist()
                ref.numeric_shares[column] = _numeric_shares(values, edges).tolist()
            else:
                levels = _text_counts(values).index[:30].tolist()
                ref.categorical_levels[column] = [str(v) for v in levels]
                ref.categorical_shares[column] = _categorical_shares(values, levels).tolist()
        if segments is not None:
            ref.segment_shares = {
                str(k): float(v) for k, v in segments.value_counts(normalize=True).items()
            }
        if scores is not None:
            edges = np.linspace(0, 1, n_bins + 1)[1:-1]
            for column in scores.columns:
                col_edges = edges if scores[column].between(0, 1).all() else np.unique(
                    np.nanquantile(scores[column].to_numpy(dtype=float), quantiles)
                )
                ref.score_edges[column] = col_edges.tolist()
                ref.score_shares[column] = _numeric_shares(scores[column], col_edges).tolist()
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
