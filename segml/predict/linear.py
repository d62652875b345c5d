"""The logistic-regression candidate, on the same float matrix the boosters read, with exact SHAP.

:class:`LinearModel` turns the predictor's matrix (numbers; categorical columns as codes of the
training levels, NaN for missing or unseen) into a design matrix, and fits an L2-penalised
logistic regression on it:

* numeric columns: clipped to their training 0.5-99.5% quantiles (heavy tails, e.g. spend, do not
  dominate the fit), missing values imputed with the training median plus a missing indicator
  (only for columns with missing values in training), then standardised;
* categorical columns: one indicator per level seen at least ``min_level_rows`` times (at most
  ``max_levels`` per column, the most frequent); rarer and unseen levels and missing values share
  the all-zero encoding.

Its margin (log-odds) and SHAP values are computed with NumPy from the stored arrays, so scoring
one customer costs a dot product. For a linear model with independent features SHAP is exact and
simple: the contribution of a feature is the sum, over its design columns, of
``coef * (value - training mean)``; the bias is the mean margin. Contributions plus bias equal the
margin.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> M = np.column_stack([rng.normal(size=500), rng.integers(0, 3, 500).astype(float)])
>>> y = (rng.random(500) < 1 / (1 + np.exp(-(2 * M[:, 0] + (M[:, 1] == 2))))).astype(float)
>>> lin = LinearModel(categorical=[1]).fit(M, y)
>>> phi = lin.contributions(M[:3])
>>> bool(np.allclose(phi.sum(axis=1), lin.margin(M[:3])))
True
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression

from segml.predict.resources import single_threaded_blas


class LinearModel:
    """Logistic regression on the predictor's float matrix (see the module docstring).

    Parameters
    ----------
    categorical : list of int
        Positions of the categorical (code) columns.
    C : float
        Inverse L2 strength of the logistic regression (scikit-learn's ``C``).
    max_levels : int
        Indicator columns per categorical column at most (the most frequent levels).
    min_level_rows : int
        A level needs at least this many training rows for an indicator of its own.
    seed : int
        Unused by the deterministic solver; kept for a uniform candidate interface.
    """

    def __init__(self, categorical: list[int] | None = None, C: float = 1.0, max_levels: int = 30,
                 min_level_rows: int = 10, seed: int = 0):
        self.categorical = categorical
        self.C = C
        self.max_levels = max_levels
        self.min_level_rows = min_level_rows
        self.seed = seed

    # ------------------------------------------------------------------ design matrix
    def _learn_design(self, M: np.ndarray) -> None:
        categorical = set(self.categorical or [])
        self.numeric_ = [j for j in range(M.shape[1]) if j not in categorical]
        N = M[:, self.numeric_]
        with warnings.catch_warnings():  # an all-missing column: its bounds and median are 0
            warnings.simplefilter("ignore", RuntimeWarning)
            low = np.nanquantile(N, 0.005, axis=0) if N.size else np.zeros(N.shape[1])
            high = np.nanquantile(N, 0.995, axis=0) if N.size else np.zeros(N.shape[1])
            self.low_, self.high_ = np.nan_to_num(low), np.nan_to_num(high)
            clipped = np.clip(N, self.low_, self.high_)
            median = np.nanmedian(clipped, axis=0) if N.size else np.zeros(N.shape[1])
        self.median_ = np.nan_to_num(median)
        self.flagged_ = np.flatnonzero(np.isnan(N).any(axis=0))  # columns with a missing flag
        self.levels_: list[tuple[int, np.ndarray]] = []
        for j in sorted(categorical):
            codes = M[:, j]
            values, counts = np.unique(codes[~np.isnan(codes)], return_counts=True)
            keep = values[counts >= self.min_level_rows]
            if keep.size > self.max_levels:
                keep = values[np.argsort(-counts, kind="stable")[: self.max_levels]]
            if keep.size:
                self.levels_.append((j, np.sort(keep)))

    def _raw_design(self, M: np.ndarray) -> np.ndarray:
        N = M[:, self.numeric_]
        missing = np.isnan(N)
        values = np.where(missing, self.median_, np.clip(N, self.low_, self.high_))
        parts = [values, missing[:, self.flagged_].astype(np.float64)]
        for j, levels in self.levels_:
            parts.append((M[:, j][:, None] == levels[None, :]).astype(np.float64))
        return np.hstack(parts) if parts else np.empty((len(M), 0))

    def _groups(self) -> np.ndarray:
        """The feature (matrix column) each design column belongs to."""
        groups = [*self.numeric_, *np.asarray(self.numeric_, dtype=int)[self.flagged_]]
        for j, levels in self.levels_:
            groups.extend([j] * levels.size)
        return np.asarray(groups, dtype=int)

    # ------------------------------------------------------------------ fit / predict
    def fit(self, M: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
            ) -> LinearModel:
        """Fit on the float matrix ``M`` and 0/1 labels ``y``."""
        M = np.asarray(M, dtype=np.float64)
        self.n_features_in_ = M.shape[1]
        self._learn_design(M)
        D = self._raw_design(M)
        self.mean_ = D.mean(axis=0) if len(D) else np.zeros(D.shape[1])
        std = D.std(axis=0) if len(D) else np.ones(D.shape[1])
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        Z = (D - self.mean_) / self.scale_
        with single_threaded_blas():
            model = LogisticRegression(C=self.C, max_iter=1000).fit(
                Z, np.asarray(y, dtype=float), sample_weight=sample_weight)
        # weights on the raw design columns, so scoring needs no standardisation step
        self.coef_ = model.coef_.ravel() / self.scale_
        self.intercept_ = float(model.intercept_[0] - self.coef_ @ self.mean_)
        self.group_ = self._groups()
        return self

    def margin(self, M: np.ndarray) -> np.ndarray:
        """Log-odds of each row.

        A row's sum does not depend on how many rows are scored with it (a BLAS product's
        blocking would change its last bits), so a served customer gets the batch's number.
        """
        design = self._raw_design(np.asarray(M, dtype=np.float64))
        return (design * self.coef_).sum(axis=1) + self.intercept_

    def contributions(self, M: np.ndarray) -> np.ndarray:
        """Exact SHAP values per matrix column plus the bias (last column), in log-odds.

        Example
        -------
        >>> import numpy as np
        >>> M = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1.0])
        >>> phi = LinearModel().fit(M, y).contributions(np.array([[1.5]]))
        >>> phi.shape, bool(abs(phi[0, 0]) < 1e-9)   # the mean value contributes nothing
        ((1, 2), True)
        """
        D = self._raw_design(np.asarray(M, dtype=np.float64))
        out = np.zeros((len(D), self.n_features_in_ + 1))
        if self.group_.size:
            # each design column's contribution, summed into the feature it encodes (columns
            # ordered by feature, so each feature's are one contiguous run)
            order = np.argsort(self.group_, kind="stable")
            features, starts = np.unique(self.group_[order], return_index=True)
            per_column = ((D - self.mean_) * self.coef_)[:, order]
            out[:, features] = np.add.reduceat(per_column, starts, axis=1)
        out[:, -1] = self.intercept_ + self.coef_ @ self.mean_
        return out


__all__ = ["LinearModel"]
