"""Turn a feature matrix into the numeric space the segment hierarchy clusters in.

Design (decided for segml, see SPEC section 3):

* **Columns.** By default a compact *behavioural core* is clustered: ``monetary_mean`` (order
  value), ``ipt_mean_days`` (days between purchases, i.e. the purchase rate), ``monetary_sum`` and
  the ``share_category_*`` / ``share_channel_*`` mixes (:data:`BEHAVIOURAL_PREFIXES`): how much,
  how often, what and where customers buy. Left out, measured on ``segml.datasets.make_customers``
  (share of a column's variance explained by the true segments, 4 designs): ``recency_days``
  (0.00: it is a state that changes every month, covered by lifecycle rules and guided levels,
  not a kind of customer) and ``frequency`` (0.35, as much a count of tenure as of rate); trend
  windows (``orders_30d``...), event counts, ``days_since_*`` and BG/NBD outputs are noisy copies
  of these (0.00-0.29) that left HDBSCAN with ~65% noise. They (and the attributes: region,
  device, age, NPS, ...) describe the segments in the profiles instead; attributes can also be
  guided levels. ``features=[...]`` clusters any columns, attributes included; with no core
  column (attributes mode) all numeric columns are used.
* **Value weight.** The value columns (:data:`VALUE_COLUMNS`) are scaled up by ``value_weight``
  (default 2.5) after standard scaling. Two leaves of different value tiers with the same
  favourite category and channel differ only on these 3 of 12 columns, and HDBSCAN merged them
  into one leaf. 2.5x recovered the most random ``make_customers`` designs; 3x and 4x split true
  leaves along the value axis more often (``benchmarks/bench_recovery.py``).
* **Categoricals** listed in ``features`` are one-hot encoded on their ``max_levels`` most frequent
  values (rarer values share an all-zero row); by default there are none.
* **Counts are dequantised.** Integer-valued columns with more than two values (order and event
  counts) form spikes of identical values that a density method takes for clusters (and that make
  HDBSCAN's KD-tree slow). ``transform(X, jitter=rng)`` adds uniform noise in [0, 1) to them (used
  on the HDBSCAN sample only); a plain ``transform(X)`` adds the mean, 0.5, so a customer's
  coordinates never depend on the batch they come in.
* **Numbers**: NaN -> median (learned in ``fit``); ``log1p`` of non-negative columns whose skewness
  exceeds 1 (money, counts); then standard scaling (a zero spread becomes 1).
* **PCA** to ``n_components`` dimensions (default 10) when there are more columns: HDBSCAN and the
  k-NN assignment are much faster in ~10 dimensions and the noise dimensions drop out.

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


def behavioural_columns(X: pd.DataFrame) -> list[str]:
    """The numeric behavioural-core columns of ``X`` clustered by default, in their order.

    Example
    -------
    >>> import pandas as pd
    >>> behavioural_columns(pd.DataFrame({"age": [30.0], "monetary_mean": [2.0],
    ...                                   "orders_30d": [1.0], "share_channel_web": [0.5]}))
    ['monetary_mean', 'share_channel_web']
    """
    return [
        c for c in X.columns
        if isinstance(c, str) and c.startswith(BEHAVIOURAL_PREFIXES)
        and not isinstance(X[c].dtype, pd.CategoricalDtype) and X[c].dtype.kind in "biuf"
    ]


def _block_of(column: str) -> str | None:
    for prefix in ("share_category_", "share_channel_"):
        if column.startswith(prefix):
            return prefix
    return column.split("=", 1)[0] if "=" in column else None


class SegmentPreprocessor(TransformerMixin, BaseEstimator):
    """Impute, log-transform, scale, one-hot and (optionally) PCA-reduce the clustering features.

    Parameters
    ----------
    features : list of str, optional
        Columns to cluster; None: :func:`behavioural_columns` (all numeric columns if none match).
    n_components : int or None
        PCA dimensions when there are more columns than this; None disables PCA.
    max_levels : int
        Most frequent levels one-hot encoded per categorical feature.
    block_weight : float or None
        Columns that form one block (the ``share_category_*`` mix, the ``share_channel_*`` mix,
        the one-hot levels of a categorical) are scaled by ``block_weight / sqrt(block size)``
        so that a block weighs like ``block_weight`` single columns whatever its number of
        levels; None (default): every column weighs 1 (on ``make_customers`` data block
        weighting lowered the leaf ARI from 0.83 to 0.78 and on the test blobs it merged true
        leaves).
    value_weight : float
        Factor applied to the scaled :data:`VALUE_COLUMNS` that are clustered (see the module
        docstring); 1 weighs every column alike.
    random_state : int
        Seed of the (randomised) PCA solver.

    Example
    -------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"monetary_sum": [1.0, 10, 100, 1000]})
    >>> SegmentPreprocessor().fit(X).log_columns_
    ['monetary_sum']
    """

    def __init__(self, features: list[str] | None = None, n_components: int | None = 10,
                 max_levels: int = 10, block_weight: float | None = None,
                 value_weight: float = 2.5, random_state: int = 0):
        self.features = features
        self.n_components = n_components
        self.max_levels = max_levels
        self.block_weight = block_weight
        self.value_weight = value_weight
        self.random_state = random_state

    def _select(self, X: pd.DataFrame) -> tuple[list[str], list[str]]:
        if self.features is not None:
            missing = [c for c in self.features if c not in X.columns]
            if missing:
                raise DataError([Problem(f"segment feature '{c}' is not in the feature matrix",
                                         table="features", column=c) for c in missing])
            cols = list(self.features)
        else:
            cols = behavioural_columns(X)
            if not cols:
                cols = [c for c in X.columns if X[c].dtype.kind in "biuf"
                        and not isinstance(X[c].dtype, pd.CategoricalDtype)]
        numeric = [c for c in cols if X[c].dtype.kind in "biuf"
                   and not isinstance(X[c].dtype, pd.CategoricalDtype)]
        categorical = [c for c in cols if c not in numeric]
        if not numeric and not categorical:
            raise DataError([Problem("no numeric feature to cluster customers on",
                                     table="features")])
        return numeric, categorical

    def fit(self, X: pd.DataFrame, y: object = None) -> SegmentPreprocessor:
        """Learn medians, log columns, scaling, category levels and the PCA basis."""
        numeric, categorical = self._select(X)
        values = X[numeric].to_numpy(dtype=float, na_value=np.nan)
        self.medians_ = np.nan_to_num(np.nanmedian(values, axis=0)) if len(values) else np.zeros(
            len(numeric))
        values = np.where(np.isnan(values), self.medians_, values)
        integral = np.all(values == np.round(values), axis=0) if len(values) else np.zeros(
            len(numeric), dtype=bool)
        distinct = pd.DataFrame(values).nunique().to_numpy() if len(values) else np.zeros(
            len(numeric))
        self.count_mask_ = integral & (distinct > 2)
        values = values + 0.5 * self.count_mask_
        skew = pd.DataFrame(values).skew().to_numpy()
        self.log_mask_ = (values.min(axis=0, initial=0) >= 0) & (np.nan_to_num(skew) > 1)
        self.log_columns_ = [c for c, m in zip(numeric, self.log_mask_, strict=True) if m]
        self.levels_ = {
            c: X[c].astype("string").value_counts().index[: self.max_levels].tolist()
            for c in categorical
        }
        self.columns_ = numeric + categorical
        self.feature_names_out_ = numeric + [f"{c}={v}" for c, lv in self.levels_.items()
                                             for v in lv]
        self.numeric_ = numeric
        dense = self._dense(X, values, scale=False)
        self.mean_ = dense.mean(axis=0)
        std = dense.std(axis=0)
        self.weights_ = self._weights(numeric)
        self.scale_ = np.where(std > 1e-12, std, 1.0) / self.weights_
        dense = (dense - self.mean_) / self.scale_
        self.pca_ = None
        if self.n_components is not None and dense.shape[1] > self.n_components:
            self.pca_ = PCA(self.n_components, random_state=self.random_state).fit(dense)
        self.n_features_out_ = self.n_components if self.pca_ is not None else dense.shape[1]
        return self

    def _weights(self, numeric: list[str]) -> np.ndarray:
        names = numeric + [f"{c}={v}" for c, levels in self.levels_.items() for v in levels]
        value = np.where(np.isin(names, VALUE_COLUMNS), float(self.value_weight), 1.0)
        if self.block_weight is None:
            return value
        blocks = [_block_of(c) for c in names]
        sizes = pd.Series(blocks).map(pd.Series(blocks).value_counts()).to_numpy()
        return value * np.where([b is None for b in blocks], 1.0, self.block_weight / np.sqrt(sizes))

    def _dense(self, X: pd.DataFrame, values: np.ndarray, scale: bool = True) -> np.ndarray:
        values = values.copy()
        values[:, self.log_mask_] = np.log1p(np.clip(values[:, self.log_mask_], 0, None))
        blocks = [values]
        for c, levels in self.levels_.items():
            text = X[c].astype("string").to_numpy(dtype=object, na_value=None)
            blocks.append((text[:, None] == np.asarray(levels, dtype=object)[None, :]).astype(float))
        dense = np.hstack(blocks) if len(blocks) > 1 else values
        if scale:
            dense = (dense - self.mean_) / self.scale_
        return dense

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
        values = X[self.numeric_].to_numpy(dtype=float, na_value=np.nan)
        values = np.where(np.isnan(values), self.medians_, values)
        if jitter is None:
            values = values + 0.5 * self.count_mask_
        else:
            noise = jitter.random((len(values), int(self.count_mask_.sum())))
            values[:, self.count_mask_] += noise
        dense = self._dense(X, values)
        if self.pca_ is not None and reduce:
            dense = self.pca_.transform(dense)
        return np.ascontiguousarray(dense, dtype=np.float64)
