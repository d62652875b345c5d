"""Baselines scored side by side with the LightGBM models on the same rows (docs/predictions.md).

==============  ======================================  ====================================
baseline        score                                   used by (each target lists its own, segml.targets)
==============  ======================================  ====================================
``recency``     RFM score: mean training percentile of  churn (reversed), purchase, high_clv
                ``-recency_days``, ``frequency``,
                ``monetary_sum`` (those present)
``logreg``      impute + scale + one-hot categoricals   churn, purchase, high_clv
                + logistic regression, same features
``bgnbd``       churn ``1 - btyd_p_alive``; purchase    churn, purchase
                ``btyd_prob_purchase_<h>d`` (else
                ``btyd_expected_purchases_<h>d``)
``past_spend``  ``spend_365d`` (else ``monetary_sum``)  high_clv, spend
==============  ======================================  ====================================

Each baseline is fitted on the training rows only. Heuristic scores of classifiers are turned into
probabilities by an isotonic map fitted on the training rows (so Brier and ECE are comparable); the
spend heuristic is scaled so its training total matches the training future spend. A baseline whose
columns are missing (e.g. attributes mode has no ``recency_days``) is skipped; :func:`skip_reason`
says why.

Example
-------
>>> import numpy as np, pandas as pd
>>> X = pd.DataFrame({"recency_days": [5.0, 200, 10, 300, 20, 250]})
>>> y = pd.Series([0.0, 1, 0, 1, 0, 1])
>>> fitted = fit_baselines("churn", X, y)
>>> sorted(fitted), skip_reason("bgnbd", "churn", X)
(['logreg', 'recency'], "column 'btyd_p_alive' missing")
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from segml.predict.calibration import Calibrator
from segml.predict.resources import EXACT_SOLVER, single_threaded_blas
from segml.targets import Target, as_target

_RFM = ("recency_days", "frequency", "monetary_sum")


def _numeric(X: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(X[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _reversed(target: str | Target) -> bool:
    """Engaged customers are *less* often positive (churn): heuristic scores are reversed."""
    return as_target(target).engagement_sign < 0


def _bgnbd_column(target: str | Target, X: pd.DataFrame) -> str | None:
    if _reversed(target):  # the probability of being gone: 1 - P(alive)
        return "btyd_p_alive" if "btyd_p_alive" in X.columns else None
    for prefix in ("btyd_prob_purchase_", "btyd_expected_purchases_"):
        found = sorted((c for c in X.columns if str(c).startswith(prefix)),
                       key=lambda c: int("".join(ch for ch in str(c)[len(prefix):] if ch.isdigit()) or 0))
        if found:
            return found[0]
    return None


def _spend_column(X: pd.DataFrame) -> str | None:
    return next((c for c in ("spend_365d", "monetary_sum") if c in X.columns), None)


def skip_reason(name: str, target: str | Target, X: pd.DataFrame) -> str | None:
    """Why baseline ``name`` cannot be used for ``target`` on ``X`` (None: it can).

    Example
    -------
    >>> skip_reason("past_spend", "spend", pd.DataFrame({"spend_365d": [1.0]})) is None
    True
    """
    if name not in as_target(target).baselines:
        return f"not defined for target '{as_target(target).name}'"
    if name == "recency":
        return None if "recency_days" in X.columns else "column 'recency_days' missing"
    if name == "bgnbd" and _bgnbd_column(target, X) is None:
        wanted = "btyd_p_alive" if _reversed(target) else "btyd_prob_purchase_<h>d"
        return f"column '{wanted}' missing"
    if name == "past_spend" and _spend_column(X) is None:
        return "columns 'spend_365d' and 'monetary_sum' missing"
    return None


class _ScoreBaseline:
    """A one-column heuristic score; classifiers get an isotonic map fitted on training rows."""

    name = "score"

    def __init__(self, target: str | Target):
        self.target = target

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def _learn(self, X: pd.DataFrame) -> None:
        """Learn what the score needs from the training rows (default: nothing)."""

    def fit(self, X: pd.DataFrame, y) -> _ScoreBaseline:
        y = np.asarray(y, dtype=float)
        self._learn(X)
        raw = self._score(X)
        fill = np.nanmedian(raw) if np.isfinite(raw).any() else 0.0
        self.fill_ = float(fill)
        raw = np.where(np.isnan(raw), self.fill_, raw)
        self.center_, self.scale_ = float(raw.mean()), float(raw.std() or 1.0)
        if not as_target(self.target).is_classifier:
            self.factor_ = float(y.sum() / raw.sum()) if raw.sum() > 0 else 0.0
        else:
            self.calibrator_ = Calibrator("isotonic").fit((raw - self.center_) / self.scale_, y)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        raw = self._score(X)
        raw = np.where(np.isnan(raw), self.fill_, raw)
        if not as_target(self.target).is_classifier:
            return np.clip(raw, 0, None) * self.factor_
        return self.calibrator_.transform((raw - self.center_) / self.scale_)


class RecencyBaseline(_ScoreBaseline):
    """RFM score from training percentiles; churn uses its reverse."""

    name = "recency"

    def _learn(self, X: pd.DataFrame) -> None:
        self.sorted_ = {c: np.sort(v[~np.isnan(v)]) for c in _RFM if c in X.columns
                        for v in [_numeric(X, c)]}

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        parts = []
        for column, ref in self.sorted_.items():
            v = _numeric(X, column)
            pct = np.searchsorted(ref, v, side="right") / max(ref.size, 1)
            pct = np.where(np.isnan(v), 0.5, pct)
            parts.append(1.0 - pct if column == "recency_days" else pct)
        rfm = np.mean(parts, axis=0)
        return -rfm if _reversed(self.target) else rfm


class BGNBDBaseline(_ScoreBaseline):
    """The BG/NBD model's own probability (churn: 1 - P(alive))."""

    name = "bgnbd"

    def _learn(self, X: pd.DataFrame) -> None:
        self.column_ = _bgnbd_column(self.target, X)

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        v = _numeric(X, self.column_)
        return 1.0 - v if _reversed(self.target) else v


class PastSpendBaseline(_ScoreBaseline):
    """Past spend as the forecast of future spend (scaled to the horizon on training rows)."""

    name = "past_spend"

    def _learn(self, X: pd.DataFrame) -> None:
        self.column_ = _spend_column(X)

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        return _numeric(X, self.column_)


#: The level a missing categorical value reads as in the logistic-regression baseline.
MISSING_LEVEL = "__missing__"
#: Rows the logistic-regression baseline transforms and scores at a time.
PREDICT_BLOCK_ROWS = 100_000


class LogRegBaseline:
    """Logistic regression on the same features: median impute + scale, one-hot categoricals."""

    name = "logreg"

    def __init__(self, target: str | Target, max_categories: int = 30):
        self.target = target
        self.max_categories = max_categories

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        out = {c: _numeric(X, c) for c in self.numeric_}
        for c in self.categorical_:
            out[c] = self._level_codes(X[c], self.levels_[c])
        return pd.DataFrame(out, index=X.index)

    @staticmethod
    def _levels(values: pd.Series) -> pd.Index:
        """The levels seen at fit, as text (sorted; ``__missing__`` last when values are)."""
        if isinstance(values.dtype, pd.CategoricalDtype):
            used = np.unique(values.cat.codes.to_numpy())
            texts = set(values.cat.categories.astype(str)[used[used >= 0]])
        else:
            texts = set(values.dropna().astype(str))
        return pd.Index([*sorted(texts), *([MISSING_LEVEL] if values.isna().any() else [])])

    @staticmethod
    def _level_codes(values: pd.Series, levels: pd.Index) -> np.ndarray:
        """Per row, the position of its text in ``levels`` (-1: a level not seen at fit, one-hot
        encoded as unknown). A categorical is read through its codes: a million rows are never
        turned into strings, which made this baseline slower to fit than the models."""
        if isinstance(values.dtype, pd.CategoricalDtype):
            lut = levels.get_indexer(pd.Index([*values.cat.categories.astype(str), MISSING_LEVEL]))
            return lut[values.cat.codes.to_numpy()].astype(float)  # code -1 reads the last slot
        text = values.astype(object).where(values.notna(), MISSING_LEVEL).astype(str)
        return levels.get_indexer(pd.Index(text)).astype(float)

    def fit(self, X: pd.DataFrame, y) -> LogRegBaseline:
        is_num = [pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])
                  for c in X.columns]
        self.numeric_ = [c for c, n in zip(X.columns, is_num, strict=True) if n and X[c].notna().any()]
        self.categorical_ = [c for c, n in zip(X.columns, is_num, strict=True) if not n]
        self.levels_ = {c: self._levels(X[c]) for c in self.categorical_}
        steps = []
        if self.numeric_:
            steps.append(("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                                               StandardScaler()), self.numeric_))
        if self.categorical_:
            steps.append(("cat", OneHotEncoder(handle_unknown="infrequent_if_exist",
                                               max_categories=self.max_categories), self.categorical_))
        self.model_ = Pipeline([("prep", ColumnTransformer(steps)),
                                ("lr", LogisticRegression(**EXACT_SOLVER))])
        with single_threaded_blas():
            self.model_.fit(self._frame(X), np.asarray(y, dtype=float))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        # By blocks of rows: imputing, scaling and one-hot encoding a million customers at once
        # holds several dense copies of the matrix (GiBs); each row's probability is its own.
        out = np.empty(len(X))
        with single_threaded_blas():
            for start in range(0, len(X), PREDICT_BLOCK_ROWS):
                block = X.iloc[start : start + PREDICT_BLOCK_ROWS]
                out[start : start + len(block)] = self.model_.predict_proba(self._frame(block))[:, 1]
        return out


_CLASSES = {"recency": RecencyBaseline, "bgnbd": BGNBDBaseline, "past_spend": PastSpendBaseline,
            "logreg": LogRegBaseline}


def fit_baselines(target: str | Target, X: pd.DataFrame, y, *, seed: int = 42,
                  max_rows: int | None = 200_000) -> dict[str, object]:
    """Fit every applicable baseline of ``target`` on the training rows (NaN labels dropped).

    Returns a dict ``name -> fitted baseline`` (each with ``predict(X) -> ndarray``); baselines
    whose columns are missing are left out (see :func:`skip_reason`).

    Example
    -------
    >>> X = pd.DataFrame({"spend_365d": [10.0, 0, 30]})
    >>> fit_baselines("spend", X, pd.Series([20.0, 0, 60]))["past_spend"].predict(X).tolist()
    [20.0, 0.0, 60.0]
    """
    label = np.asarray(y, dtype=float)
    keep = ~np.isnan(label)
    if max_rows is not None and keep.sum() > max_rows:
        rows = np.random.default_rng(seed).choice(np.flatnonzero(keep), max_rows, replace=False)
        keep = np.zeros(label.size, dtype=bool)
        keep[rows] = True
    X, label = X[keep], label[keep]
    fitted: dict[str, object] = {}
    for name in as_target(target).baselines:
        if skip_reason(name, target, X) is None:
            fitted[name] = _CLASSES[name](target).fit(X, label)
    return fitted
