"""The logistic-regression candidate, on the same float matrix the boosters read, with exact SHAP.

:class:`LinearModel` turns the predictor's matrix (numbers; categorical columns as codes of the
training levels, NaN for missing or unseen) into a design matrix, and fits an L2-penalised
logistic regression on it:

* numeric columns: infinities (e.g. "never" as an infinite number of days) become the column's
  finite training extremes, missing values the training median plus a missing indicator (only for
  columns with missing values in training), then standardised with the indicators;
* categorical columns: one indicator per level, missing included, raw 0/1 (not standardised);
  above ``max_levels`` levels the most frequent ``max_levels - 1`` keep theirs and the rest (and
  levels unseen in training) share an ``other`` indicator.

That is the logistic-regression baseline's pipeline (:mod:`segml.predict.baselines`) on the
predictor's matrix, so the candidate is at least that baseline whenever it wins.

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
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from segml.predict.resources import EXACT_SOLVER, single_threaded_blas

_MISSING = -1.0  # the code of a missing (or unseen) category, a level of its own


class LinearModel:
    """Logistic regression on the predictor's float matrix (see the module docstring).

    Parameters
    ----------
    categorical : list of int
        Positions of the categorical (code) columns.
    C : float
        Inverse L2 strength of the logistic regression (scikit-learn's ``C``).
    max_levels : int
        Indicator columns per categorical column at most (the most frequent levels, then one
        for all the others).
    seed : int
        Unused by the deterministic solver; kept for a uniform candidate interface.
    """

    def __init__(self, *, categorical: list[int] | None = None, C: float = 1.0, max_levels: int = 30,
                 seed: int = 0):
        self.categorical = categorical
        self.C = C
        self.max_levels = max_levels
        self.seed = seed

    # ------------------------------------------------------------------ design matrix
    def _learn_design(self, M: np.ndarray) -> None:
        categorical = set(self.categorical or [])
        self.numeric_ = [j for j in range(M.shape[1]) if j not in categorical]
        N = M[:, self.numeric_]
        finite = np.where(np.isfinite(N), N, np.nan)
        with warnings.catch_warnings():  # an all-missing column: its range and median are 0
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = np.nanmin(finite, axis=0), np.nanmax(finite, axis=0)
            self.low_, self.high_ = np.nan_to_num(low), np.nan_to_num(high)
            median = np.nanmedian(np.where(np.isinf(N), np.where(N > 0, high, low), N), axis=0)
        self.median_ = np.nan_to_num(median)
        self.flagged_ = np.flatnonzero(np.isnan(N).any(axis=0))  # columns with a missing flag
        self.levels_: list[tuple[int, np.ndarray, bool]] = []  # (column, levels, other column)
        for j in sorted(categorical):
            codes = np.where(np.isnan(M[:, j]), _MISSING, M[:, j])
            values, counts = np.unique(codes, return_counts=True)
            other = values.size > self.max_levels
            if other:
                values = np.sort(values[np.argsort(-counts, kind="stable")[: self.max_levels - 1]])
            self.levels_.append((j, values, other))

    def _raw_design(self, M: np.ndarray) -> np.ndarray:
        N = M[:, self.numeric_]
        missing = np.isnan(N)
        values = np.where(missing, self.median_,
                          np.where(np.isinf(N), np.where(N > 0, self.high_, self.low_), N))
        parts = [values, missing[:, self.flagged_].astype(np.float64)]
        for j, levels, other in self.levels_:
            codes = np.where(np.isnan(M[:, j]), _MISSING, M[:, j])
            hot = codes[:, None] == levels[None, :]
            parts.append(hot.astype(np.float64))
            if other:
                parts.append((~hot.any(axis=1)).astype(np.float64)[:, None])
        return np.hstack(parts) if parts else np.empty((len(M), 0))

    def _standardised(self) -> np.ndarray:
        """Which design columns are standardised (numbers and missing flags, not indicators)."""
        return np.arange(self.group_.size) < len(self.numeric_) + self.flagged_.size

    def _groups(self) -> np.ndarray:
        """The feature (matrix column) each design column belongs to."""
        groups = [*self.numeric_, *np.asarray(self.numeric_, dtype=int)[self.flagged_]]
        for j, levels, other in self.levels_:
            groups.extend([j] * (levels.size + other))
        return np.asarray(groups, dtype=int)

    # ------------------------------------------------------------------ fit / predict
    def fit(self, M: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
            ) -> LinearModel:
        """Fit on the float matrix ``M`` and 0/1 labels ``y``."""
        M = np.asarray(M, dtype=np.float64)
        self.n_features_in_ = M.shape[1]
        self._learn_design(M)
        D = self._raw_design(M)
        self.group_ = self._groups()
        self.mean_ = D.mean(axis=0) if len(D) else np.zeros(D.shape[1])
        scaled = self._standardised()
        std = D.std(axis=0) if len(D) else np.ones(D.shape[1])
        center = np.where(scaled, self.mean_, 0.0)
        self.scale_ = np.where(scaled & (std > 1e-12), std, 1.0)
        Z = (D - center) / self.scale_
        with single_threaded_blas():
            # Newton steps to the exact optimum: an early stop (lbfgs' tolerance) leaves the
            # weights wherever the machine's arithmetic happened to take them
            model = LogisticRegression(C=self.C, **EXACT_SOLVER).fit(
                Z, np.asarray(y, dtype=float), sample_weight=sample_weight)
        # weights on the raw design columns, so scoring needs no standardisation step
        self.coef_ = model.coef_.ravel() / self.scale_
        self.intercept_ = float(model.intercept_[0] - self.coef_ @ center)
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

    # ------------------------------------------------------------------ state
    def to_state(self) -> dict[str, Any]:
        """The fitted model as data (:mod:`segml.scoring.state`): parameters and arrays.

        Example
        -------
        >>> import numpy as np
        >>> M = np.array([[0.0, 1], [1.0, 0], [2.0, 1], [3.0, 0]]); y = np.array([0, 0, 1, 1.0])
        >>> lin = LinearModel(categorical=[1]).fit(M, y)
        >>> bool(np.array_equal(LinearModel.from_state(lin.to_state()).margin(M), lin.margin(M)))
        True
        """
        return {"params": {"categorical": list(self.categorical or []), "C": self.C,
                           "max_levels": self.max_levels, "seed": self.seed},
                "n_features_in": self.n_features_in_, "numeric": list(self.numeric_),
                "low": self.low_, "high": self.high_, "median": self.median_,
                "flagged": self.flagged_,
                "levels": [{"column": j, "values": values, "other": other}
                           for j, values, other in self.levels_],
                "group": self.group_, "mean": self.mean_, "scale": self.scale_,
                "coef": self.coef_, "intercept": self.intercept_}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LinearModel:
        """The model :meth:`to_state` described."""
        out = cls(**state["params"])
        out.n_features_in_ = int(state["n_features_in"])
        out.numeric_ = [int(j) for j in state["numeric"]]
        out.low_, out.high_ = state["low"], state["high"]
        out.median_, out.flagged_ = state["median"], state["flagged"]
        out.levels_ = [(int(level["column"]), level["values"], bool(level["other"]))
                       for level in state["levels"]]
        out.group_, out.mean_, out.scale_ = state["group"], state["mean"], state["scale"]
        out.coef_, out.intercept_ = state["coef"], float(state["intercept"])
        return out


__all__ = ["LinearModel"]
