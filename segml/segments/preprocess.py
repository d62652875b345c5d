"""Turn a feature matrix into the numeric space the segment hierarchy clusters in.

Design (decided for segml, see docs/segments.md):

* **Columns, behavioural mode.** By default a compact *behavioural core* is clustered:
  ``monetary_mean`` (order value), ``ipt_mean_days`` (days between purchases, i.e. the purchase
  rate), ``monetary_sum`` and the ``share_category_*`` / ``share_channel_*`` mixes
  (:data:`BEHAVIOURAL_PREFIXES`): how much, how often, what and where customers buy. Left out,
  measured on ``segml.data.synthetic.datasets.make_customers`` (share of a column's variance explained by the
  true segments, 4 designs): ``recency_days`` (0.00: it is a state that changes every month,
  covered by lifecycle rules and guided levels, not a kind of customer) and ``frequency`` (0.35,
  as much a count of tenure as of rate); trend windows (``orders_30d``...), event counts,
  ``days_since_*`` and BG/NBD outputs are noisy copies of these (0.00-0.29) that left HDBSCAN
  with ~65% noise. They and the attributes describe the segments in the profiles instead.
* **Columns, attributes mode** (no behavioural column, e.g. a telecom churn export): every
  attribute that varies: numeric, binary and categorical (:func:`attribute_columns`).
* ``features=[...]`` clusters exactly those columns; the name ``"behavioural"`` in the list stands
  for the behavioural core, so ``["behavioural", "region"]`` is behaviour plus region.
* **Categoricals** are one-hot encoded on their frequent levels (at most ``max_levels``, each held
  by at least ``min_level_share`` of the customers; a frequent missing value is a level of its
  own, the rest share an ``(other)`` column). The block of one categorical is centred and scaled
  as a whole so that its total variance is ``categorical_weight``\\ ² (1: the variance of one
  standardised numeric column), i.e. divided by the square root of its Gini impurity
  ``1 - sum(p²)``. So every attribute weighs one unit of variance whatever its number of levels: a
  50-level ``state`` weighs as much as ``tenure``, not 50 times as much (standardising each
  one-hot column, the former encoding, gave a categorical one unit per level). Any two customers
  with different levels of a categorical are the same distance apart (one-hot), and a yes/no
  column encodes exactly like a 0/1 numeric column (both standardised).
* **Value weight.** The value columns (:data:`VALUE_COLUMNS`) are scaled up by ``value_weight``
  (default 2.5) after standard scaling. Two leaves of different value tiers with the same
  favourite category and channel differ only on these 3 of 12 columns, and HDBSCAN merged them
  into one leaf. 2.5x recovered the most random ``make_customers`` designs; 3x and 4x split true
  leaves along the value axis more often (``benchmarks/bench_recovery.py``).
* **Counts are dequantised.** Integer-valued columns with more than two values (order and event
  counts) form spikes of identical values that a density method takes for clusters (and that make
  HDBSCAN's KD-tree slow). ``transform(X, jitter=rng)`` adds uniform noise in [0, 1) to them (used
  on the HDBSCAN sample only); a plain ``transform(X)`` adds the mean, 0.5, so a customer's
  coordinates never depend on the batch they come in.
* **Numbers**: NaN -> median (learned in ``fit``); ``log1p`` of non-negative columns whose skewness
  exceeds 1 (money, counts); then standard scaling (a zero spread becomes 1).
* ``discrete_share_``: the share of the space's variance held by categorical levels and yes/no
  columns (the leaves come from k-means, not density, when it exceeds half, see
  :mod:`segml.segments.leaves`).
* **PCA** to ``n_components`` dimensions (default 10) when there are more columns: HDBSCAN and the
  k-NN assignment are much faster in ~10 dimensions and the noise dimensions drop out. The axes
  are the eigenvectors of the covariance matrix (an exact, non-randomised solver), each signed
  so that its largest coefficient is positive: the same projection whatever the solver,
  scikit-learn version or BLAS build.
* **A fixed precision.** The space is rounded to :data:`DECIMALS` decimals (a grid of 1e-6 on
  axes of unit variance). CPUs differ in the last bits of ``log1p`` (SIMD implementations),
  of matrix products (BLAS kernels, thread counts) and of sums; on the grid those differences
  vanish, and customers with equal features get equal coordinates, so every tie in the
  clustering and the assignment breaks the same way on every machine (``docs/segments.md``,
  "Same segments on every machine").

Example
-------
>>> import numpy as np, pandas as pd
>>> X = pd.DataFrame({"monetary_mean": [10.0, 20, 30, 500], "ipt_mean_days": [5.0, np.nan, 30, 1],
...                   "recency_days": [3.0, 60, 9, 1], "region": pd.Categorical(["a", "b", "a", "b"])})
>>> pre = SegmentPreprocessor().fit(X)
>>> pre.columns_
['monetary_mean', 'ipt_mean_days']
>>> pre.transform(X).shape
(4, 2)
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted

from segml.errors import DataError, Problem

log = logging.getLogger(__name__)

#: Column-name prefixes of the behavioural features clustered by default.
BEHAVIOURAL_PREFIXES: tuple[str, ...] = (
    "monetary_mean", "ipt_mean_days", "monetary_sum", "share_category_", "share_channel_",
)
#: Columns describing how much and how often a customer buys, weighted by ``value_weight``.
VALUE_COLUMNS: tuple[str, ...] = (
    "monetary_mean", "ipt_mean_days", "monetary_sum", "monetary_max", "frequency",
)
#: In ``features``, stands for the behavioural core columns.
BEHAVIOURAL_TOKEN = "behavioural"
MISSING = "(missing)"
OTHER_LEVEL = "(other)"
_ID_LIKE_SHARE = 0.5  # a text column with more distinct values than this share of rows is an id
#: Decimals the clustering space is rounded to (see the module docstring).
DECIMALS = 6
#: Relative tolerance of "integer-valued" (a count read back as 2.9999999999999996 is a count).
_INTEGRAL_TOLERANCE = 1e-9


def _is_numeric(series: pd.Series) -> bool:
    return not isinstance(series.dtype, pd.CategoricalDtype) and series.dtype.kind in "biuf"


def _is_categorical(series: pd.Series) -> bool:
    return (isinstance(series.dtype, pd.CategoricalDtype) or series.dtype.kind in "OSU"
            or str(series.dtype) in ("str", "string"))


def behavioural_columns(X: pd.DataFrame) -> list[str]:
    """The numeric behavioural-core columns of ``X`` clustered by default, in their order.

    Example
    -------
    >>> import pandas as pd
    >>> behavioural_columns(pd.DataFrame({"age": [30.0], "monetary_mean": [2.0],
    ...                                   "orders_30d": [1.0], "share_channel_web": [0.5]}))
    ['monetary_mean', 'share_channel_web']
    """
    return [c for c in X.columns
            if isinstance(c, str) and c.startswith(BEHAVIOURAL_PREFIXES) and _is_numeric(X[c])]


def attribute_columns(X: pd.DataFrame) -> list[str]:
    """The columns clustered in attributes mode: numeric and categorical columns that vary.

    Left out: constant and all-missing columns (nothing to tell customers apart), text columns
    with a distinct value for most customers (identifiers, free text) and dates.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"age": np.arange(40.0), "plan": pd.Categorical(["a", "b"] * 20),
    ...                   "empty": np.nan, "one": "x", "code": [f"c{i}" for i in range(40)]})
    >>> attribute_columns(X)
    ['age', 'plan']
    """
    n = len(X)
    out = []
    for c in X.columns:
        series = X[c]
        if not (_is_numeric(series) or _is_categorical(series)):
            continue
        distinct = series.nunique(dropna=True)
        if distinct < 2 and not (distinct == 1 and series.isna().any()):
            continue
        if _is_categorical(series) and distinct > max(_ID_LIKE_SHARE * n, 20):
            log.info("segments: '%s' has %d distinct values for %d customers: not clustered "
                     "(an identifier or free text)", c, distinct, n)
            continue
        out.append(c)
    return out


def category_text(values: Any) -> np.ndarray:
    """Values of a categorical column as an object array of strings, missing as ``(missing)``.

    Example
    -------
    >>> category_text(pd.Series(["a", None, 3])).tolist()
    ['a', '(missing)', '3']
    """
    text = pd.Series(np.asarray(values, dtype=object)).astype("string").fillna(MISSING)
    return text.to_numpy(dtype=object)


def principal_axes(dense: np.ndarray, n_components: int) -> PCA:
    """A fitted :class:`~sklearn.decomposition.PCA` whose axes are the leading eigenvectors of
    the covariance of ``dense``, each signed so that its largest coefficient (the first of equal
    ones) is positive.

    The eigendecomposition of the small covariance matrix is exact and costs one pass over the
    rows, and the sign rule does not depend on the solver or the scikit-learn version (whose own
    sign convention changed in 1.5), so the projection is the same on every machine up to the
    last bits, which the clustering space's rounding removes.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> D = rng.normal(size=(500, 4)) * [3.0, 2.0, 1.0, 0.5]
    >>> pca = principal_axes(D, 2)
    >>> np.round(np.abs(pca.components_), 1).tolist()
    [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]
    >>> bool(np.allclose(np.abs(pca.transform(D)), np.abs(PCA(2).fit_transform(D)), atol=1e-6))
    True
    """
    mean = dense.mean(axis=0)
    centred = dense - mean
    covariance = centred.T @ centred / max(len(dense) - 1, 1)
    eigenvalues, eigenvectors = np.linalg.eigh((covariance + covariance.T) / 2)
    order = np.argsort(-eigenvalues, kind="stable")[:n_components]
    components = eigenvectors[:, order].T
    largest = np.argmax(np.abs(components), axis=1)
    components *= np.sign(components[np.arange(len(components)), largest])[:, None]
    return _fitted_pca(components, mean, np.clip(eigenvalues[order], 0.0, None))


def project(pca: PCA, dense: np.ndarray) -> np.ndarray:
    """``pca.transform(dense)`` for a float64 matrix, without scikit-learn's input checks
    (~0.1 ms a call, a tenth of serving one customer's segments): the same products in the same
    order, ``X @ C.T - mean @ C.T`` (``tests/segments/test_fast_assign.py`` checks it is bit for
    bit scikit-learn's answer).

    Example
    -------
    >>> D = np.random.default_rng(0).normal(size=(50, 4))
    >>> pca = principal_axes(D, 2)
    >>> bool(np.array_equal(project(pca, D), pca.transform(D)))
    True
    """
    components = pca.components_
    out = dense @ components.T
    out -= pca.mean_.reshape(1, -1) @ components.T
    return out


def _fitted_pca(components: np.ndarray, mean: np.ndarray, explained_variance: np.ndarray) -> PCA:
    """A PCA object that projects onto the given axes (its ``transform`` only)."""
    components = np.ascontiguousarray(components, dtype=np.float64)
    pca = PCA(len(components))
    pca.components_, pca.mean_ = components, np.asarray(mean, dtype=np.float64)
    pca.explained_variance_ = np.asarray(explained_variance, dtype=np.float64)
    pca.n_components_ = len(components)
    pca.n_features_in_ = components.shape[1]
    return pca


class SegmentPreprocessor(TransformerMixin, BaseEstimator):
    """Impute, log-transform, scale, one-hot and (optionally) PCA-reduce the clustering features.

    Parameters
    ----------
    features : list of str, optional
        Columns to cluster (``"behavioural"`` stands for the behavioural core); None:
        :func:`behavioural_columns`, or :func:`attribute_columns` when there are none.
    n_components : int or None
        PCA dimensions when there are more columns than this; None disables PCA.
    max_levels : int
        Most frequent levels one-hot encoded per categorical feature.
    min_level_share : float
        Share of the customers a level needs to get its own column (rarer ones: ``(other)``).
    categorical_weight : float
        Standard deviation of each categorical's block (see the module docstring): 1 weighs a
        categorical like one standardised numeric column.
    block_weight : float or None
        Columns of the ``share_category_*`` mix and of the ``share_channel_*`` mix are scaled by
        ``block_weight / sqrt(block size)`` so that a mix weighs like ``block_weight`` single
        columns; None (default): every share column weighs 1 (on ``make_customers`` data block
        weighting lowered the leaf ARI from 0.83 to 0.78 and on the test blobs it merged true
        leaves).
    value_weight : float
        Factor applied to the scaled :data:`VALUE_COLUMNS` that are clustered (see the module
        docstring); 1 weighs every column alike.
    random_state : int
        Kept for compatibility: the projection is exact (no random solver, see
        :func:`principal_axes`).

    Example
    -------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"monetary_sum": [1.0, 10, 100, 1000]})
    >>> SegmentPreprocessor().fit(X).log_columns_
    ['monetary_sum']
    """

    def __init__(self, *, features: list[str] | None = None, n_components: int | None = 10,
                 max_levels: int = 10, block_weight: float | None = None,
                 value_weight: float = 2.5, random_state: int = 0,
                 min_level_share: float = 0.01, categorical_weight: float = 1.0):
        self.features = features
        self.n_components = n_components
        self.max_levels = max_levels
        self.block_weight = block_weight
        self.value_weight = value_weight
        self.random_state = random_state
        self.min_level_share = min_level_share
        self.categorical_weight = categorical_weight

    def _select(self, X: pd.DataFrame) -> tuple[list[str], list[str]]:
        if self.features is not None:
            cols: list[str] = []
            for c in self.features:
                expanded = (behavioural_columns(X) if c == BEHAVIOURAL_TOKEN
                            and c not in X.columns else [c])
                cols += [e for e in expanded if e not in cols]
            missing = [c for c in cols if c not in X.columns]
            if missing:
                raise DataError([Problem(f"segment feature '{c}' is not in the feature matrix "
                                         "(key segments.features)", table="features", column=c)
                                 for c in missing])
        else:
            cols = behavioural_columns(X) or attribute_columns(X)
            if not cols:  # nothing varies: one group (the hierarchy says so)
                cols = [c for c in X.columns if _is_numeric(X[c]) or _is_categorical(X[c])][:1]
        numeric = [c for c in cols if _is_numeric(X[c])]
        categorical = [c for c in cols if c not in numeric and _is_categorical(X[c])]
        other = [c for c in cols if c not in numeric and c not in categorical]
        if other or not cols:
            raise DataError([Problem(f"segment feature '{c}' is neither numeric nor categorical "
                                     f"({X[c].dtype})", table="features", column=c)
                             for c in other]
                            or [Problem("no numeric or categorical column to cluster customers "
                                        "on", table="features")])
        return numeric, categorical

    def fit(self, X: pd.DataFrame, y: object = None) -> SegmentPreprocessor:
        """Learn medians, log columns, scaling, category levels and the PCA basis."""
        numeric, categorical = self._select(X)
        values = X[numeric].to_numpy(dtype=float, na_value=np.nan)
        with warnings.catch_warnings():  # an all-missing column: its median is 0 below
            warnings.simplefilter("ignore", RuntimeWarning)
            medians = np.nanmedian(values, axis=0) if len(values) else np.zeros(len(numeric))
        self.medians_ = np.nan_to_num(medians)
        values = np.where(np.isnan(values), self.medians_, values)
        integral = np.all(np.abs(values - np.round(values))
                          <= _INTEGRAL_TOLERANCE * np.maximum(1.0, np.abs(values)), axis=0)
        distinct = pd.DataFrame(values).nunique().to_numpy()
        self.count_mask_ = integral & (distinct > 2)
        values = values + 0.5 * self.count_mask_
        skew = pd.DataFrame(values).skew().to_numpy() if len(values) > 2 else np.zeros(
            len(numeric))
        self.log_mask_ = (values.min(axis=0, initial=0) >= 0) & (np.nan_to_num(skew) > 1)
        self.log_columns_ = [c for c, m in zip(numeric, self.log_mask_, strict=True) if m]
        self.levels_ = {c: self._frequent_levels(X[c]) for c in categorical}
        self.columns_ = numeric + categorical
        self.numeric_ = numeric
        self.feature_names_out_ = numeric + [f"{c}={v}" for c, lv in self.levels_.items()
                                             for v in lv]
        dense = self._dense({c: X[c] for c in categorical}, values, scale=False)
        self.mean_ = dense.mean(axis=0) if len(dense) else np.zeros(dense.shape[1])
        std = dense.std(axis=0) if len(dense) else np.ones(dense.shape[1])
        self.weights_ = self._weights(numeric)
        self.scale_ = np.where(std > 1e-12, std, 1.0) / self.weights_
        at = len(numeric)
        for levels in self.levels_.values():
            # a categorical's block is scaled as a whole: its total variance (the Gini
            # impurity) becomes categorical_weight ** 2, whatever its number of levels
            gini = float(np.sum(dense[:, at:at + len(levels)].var(axis=0)))
            self.scale_[at:at + len(levels)] = (np.sqrt(gini) if gini > 1e-12 else 1.0) / float(
                self.categorical_weight)
            at += len(levels)
        dense = (dense - self.mean_) / self.scale_
        variance = dense.var(axis=0) if len(dense) else np.zeros(dense.shape[1])
        discrete = np.concatenate([distinct <= 2, np.ones(dense.shape[1] - len(numeric), bool)])
        self.discrete_share_ = float(variance[discrete].sum() / variance.sum()) if variance.sum(
        ) > 1e-12 else 0.0
        self.pca_ = None
        if (self.n_components is not None and dense.shape[1] > self.n_components
                and len(dense) > self.n_components):
            self.pca_ = principal_axes(dense, self.n_components)
        self.n_features_out_ = self.n_components if self.pca_ is not None else dense.shape[1]
        return self

    def _frequent_levels(self, series: pd.Series) -> list[str]:
        counts = pd.Series(category_text(series)).value_counts()
        counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
        floor = self.min_level_share * max(len(series), 1)
        kept = [str(v) for v, k in counts.items() if k >= floor][: self.max_levels]
        if not kept:
            kept = [str(counts.index[0])] if len(counts) else [MISSING]
        if len(kept) < len(counts):
            kept.append(OTHER_LEVEL)
        return kept

    def _weights(self, numeric: list[str]) -> np.ndarray:
        names = numeric + [f"{c}={v}" for c, levels in self.levels_.items() for v in levels]
        value = np.where(np.isin(names, VALUE_COLUMNS), float(self.value_weight), 1.0)
        if self.block_weight is None:
            return value
        blocks = [next((p for p in ("share_category_", "share_channel_") if c.startswith(p)),
                       None) for c in names]
        sizes = pd.Series(blocks).map(pd.Series(blocks).value_counts()).to_numpy()
        return value * np.where([b is None for b in blocks], 1.0, self.block_weight / np.sqrt(sizes))

    def one_hot(self, column: str, values: Any) -> np.ndarray:
        """The 0/1 block of one categorical: kept levels, ``(other)`` for the rest and unseen."""
        levels = self.levels_[column]
        text = category_text(values)
        block = (text[:, None] == np.asarray(levels, dtype=object)[None, :]).astype(float)
        if levels[-1] == OTHER_LEVEL:
            block[:, -1] = block[:, :-1].sum(axis=1) == 0
        return block

    def _dense(self, categorical: Mapping[str, Any], values: np.ndarray,
               scale: bool = True) -> np.ndarray:
        values = values.copy()
        values[:, self.log_mask_] = np.log1p(np.clip(values[:, self.log_mask_], 0, None))
        blocks = [values] + [self.one_hot(c, categorical[c]) for c in self.levels_]
        dense = np.hstack(blocks) if len(blocks) > 1 else values
        if scale:
            dense = (dense - self.mean_) / self.scale_
        return dense

    def embed(self, columns: Mapping[str, Any], n: int,
              jitter: np.random.Generator | None = None, reduce: bool = True) -> np.ndarray:
        """The clustering space from plain arrays: ``columns`` maps each clustered column to its
        values (numeric: floats; categorical: the level values, NaN when missing or unseen)."""
        check_is_fitted(self, "columns_")
        missing = [c for c in self.columns_ if c not in columns]
        if missing:
            raise DataError([Problem(f"column '{c}' used by the segments is missing",
                                     table="features", column=c) for c in missing])
        values = np.empty((n, len(self.numeric_)), dtype=np.float64)
        for j, c in enumerate(self.numeric_):
            values[:, j] = columns[c]
        values = np.where(np.isnan(values), self.medians_, values)
        if jitter is None:
            values = values + 0.5 * self.count_mask_
        else:
            noise = jitter.random((len(values), int(self.count_mask_.sum())))
            values[:, self.count_mask_] += noise
        dense = self._dense(columns, values)
        if self.pca_ is not None and reduce:
            dense = project(self.pca_, dense)
        return np.ascontiguousarray(np.round(dense, DECIMALS), dtype=np.float64)

    def to_state(self) -> dict[str, Any]:
        """The fitted preprocessing as data (:mod:`segml.scoring.state`): medians, masks, levels,
        scaling and the PCA basis.

        Example
        -------
        >>> X = pd.DataFrame({"monetary_sum": [1.0, 10, 100, 1000], "plan": ["a", "b", "a", "a"]})
        >>> pre = SegmentPreprocessor(features=["monetary_sum", "plan"]).fit(X)
        >>> bool(np.array_equal(SegmentPreprocessor.from_state(pre.to_state()).transform(X),
        ...                     pre.transform(X)))
        True
        """
        check_is_fitted(self, "columns_")
        pca = None
        if self.pca_ is not None:
            pca = {"components": self.pca_.components_, "mean": self.pca_.mean_,
                   "explained_variance": self.pca_.explained_variance_,
                   "n_features_in": int(self.pca_.n_features_in_)}
        return {"params": self.get_params(),
                "fitted": {"medians": self.medians_, "count_mask": self.count_mask_,
                           "log_mask": self.log_mask_, "log_columns": list(self.log_columns_),
                           "levels": {c: list(v) for c, v in self.levels_.items()},
                           "columns": list(self.columns_), "numeric": list(self.numeric_),
                           "feature_names_out": list(self.feature_names_out_),
                           "mean": self.mean_, "weights": self.weights_, "scale": self.scale_,
                           "discrete_share": self.discrete_share_,
                           "n_features_out": int(self.n_features_out_)},
                "pca": pca}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SegmentPreprocessor:
        """The preprocessor :meth:`to_state` described (the same clustering space)."""
        out = cls(**state["params"])
        f = state["fitted"]
        out.medians_, out.count_mask_, out.log_mask_ = f["medians"], f["count_mask"], f["log_mask"]
        out.log_columns_ = list(f["log_columns"])
        out.levels_ = {c: list(v) for c, v in f["levels"].items()}
        out.columns_, out.numeric_ = list(f["columns"]), list(f["numeric"])
        out.feature_names_out_ = list(f["feature_names_out"])
        out.mean_, out.weights_, out.scale_ = f["mean"], f["weights"], f["scale"]
        out.discrete_share_ = float(f["discrete_share"])
        out.n_features_out_ = int(f["n_features_out"])
        out.pca_ = None
        if state["pca"] is not None:
            pca = state["pca"]
            out.pca_ = _fitted_pca(pca["components"], pca["mean"], pca["explained_variance"])
        return out

    def transform(self, X: pd.DataFrame, jitter: np.random.Generator | None = None,
                  reduce: bool = True) -> np.ndarray:
        """The clustering space: float array, one row per row of ``X``.

        ``jitter``: a random generator to dequantise count columns with uniform noise; None adds
        its mean (0.5). ``reduce=False`` skips the PCA: one column per :attr:`feature_names_out_`.
        """
        check_is_fitted(self, "columns_")
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise DataError([Problem(f"column '{c}' used by the segments is missing",
                                     table="features", column=c) for c in missing])
        columns: dict[str, Any] = {c: X[c] for c in self.levels_}
        if self.numeric_:
            block = X[self.numeric_].to_numpy(dtype=float, na_value=np.nan)
            columns.update({c: block[:, j] for j, c in enumerate(self.numeric_)})
        return self.embed(columns, len(X), jitter=jitter, reduce=reduce)
