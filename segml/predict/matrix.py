"""The predictors' view of a feature frame: training columns, categories and the float matrix.

Every candidate model reads the same numbers: numeric columns as float64, categorical columns
(pandas ``category``, ``str``/``object`` or ``bool``) as the code of the value in the training
categories, NaN for missing and unseen values, exactly what LightGBM derives from a categorical
frame. :class:`FeatureColumns` (held by a fitted :class:`~segml.predict.models.Predictor` as
``columns_``) learns the columns (:meth:`~FeatureColumns.fit`) and builds either the frame
LightGBM trains on (:meth:`~FeatureColumns.frame`) or the float matrix
(:meth:`~FeatureColumns.matrix`).

Example
-------
>>> import pandas as pd
>>> X = pd.DataFrame({"days": [3.0, 9.0], "plan": ["basic", "pro"]})
>>> cols = FeatureColumns().fit(X)
>>> cols.matrix(pd.DataFrame({"days": [1.0], "plan": ["gold"]})).tolist()   # unseen -> NaN
[[1.0, nan]]
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from segml.errors import DataError, Problem


def as_frame(X: Any) -> pd.DataFrame:
    """``X`` as a DataFrame (an array's columns named ``x0``, ``x1``, ...).

    Example
    -------
    >>> list(as_frame(np.zeros((1, 2))).columns)
    ['x0', 'x1']
    """
    if isinstance(X, pd.DataFrame):
        return X
    values = np.asarray(X)
    if values.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got shape {values.shape}")
    return pd.DataFrame(values, columns=[f"x{j}" for j in range(values.shape[1])])


def safe_names(names: list[str]) -> list[str]:
    """LightGBM-safe, unique feature names (JSON special characters replaced).

    Example
    -------
    >>> safe_names(["a b", "a_b", "é"])
    ['a_b', 'a_b_1', '_']
    """
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        safe = re.sub(r"[^0-9A-Za-z_]", "_", str(name)) or "f"
        base, i = safe, 1
        while safe in seen:
            safe, i = f"{base}_{i}", i + 1
        seen.add(safe)
        out.append(safe)
    return out


def is_categorical(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series)
    ) or pd.api.types.is_bool_dtype(series)


def recode(series: pd.Series, known: list[Any]) -> pd.Series:
    """``series`` as a categorical with exactly the training categories (unseen -> missing)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.set_categories(known)
    return pd.Series(pd.Categorical(series.where(series.isin(known)), categories=known),
                     index=series.index)


def codes_of(frame: pd.DataFrame) -> np.ndarray:
    """The float matrix of a frame of floats and categoricals (codes; -1 -> NaN)."""
    out = np.empty(frame.shape, dtype=np.float64)
    for j, column in enumerate(frame.columns):
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = values.cat.codes.to_numpy()
            out[:, j] = np.where(codes < 0, np.nan, codes)
        else:
            out[:, j] = values.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


class FeatureColumns:
    """The training columns of a model and their categories: a small fitted encoder.

    Parameters
    ----------
    owner : str
        What the columns belong to, named in the error of a missing column (e.g. "churn model").

    Attributes
    ----------
    feature_names_ : list of str
    categories_ : dict
        Training categories per categorical column.
    booster_feature_names_ : list of str
        LightGBM-safe names, in the same order.
    n_features_in_ : int
    """

    def __init__(self, owner: str = "model"):
        self.owner = owner

    def fit(self, X: pd.DataFrame) -> FeatureColumns:
        """Learn the columns of ``X`` and the categories of its categorical columns."""
        problems = []
        names = [str(c) for c in X.columns]
        categories: dict[str, list[Any]] = {}
        for column in X.columns:
            series = X[column]
            if pd.api.types.is_datetime64_any_dtype(series):
                problems.append(Problem(f"feature column has a datetime dtype ({series.dtype}); "
                                        "convert it to days first", table="features",
                                        column=str(column)))
            elif is_categorical(series):
                values = (series.astype("category")
                          if not isinstance(series.dtype, pd.CategoricalDtype) else series)
                categories[str(column)] = list(
                    values.cat.remove_unused_categories().cat.categories)
        if problems:
            raise DataError(problems)
        return self._set(names, categories, safe_names(names))

    @classmethod
    def fitted(cls, feature_names: list[str], categories: dict[str, list[Any]],
               booster_feature_names: list[str], owner: str = "model") -> FeatureColumns:
        """The columns as they were learnt (from a model state)."""
        return cls(owner)._set(list(feature_names), dict(categories), list(booster_feature_names))

    def _set(self, names: list[str], categories: dict[str, list[Any]],
             booster_names: list[str]) -> FeatureColumns:
        self.feature_names_ = names
        self.categories_ = categories
        self.booster_feature_names_ = booster_names
        self.n_features_in_ = len(names)
        self._dtype_cache: dict[str, pd.CategoricalDtype] = {}
        return self

    def categorical_positions(self) -> list[int]:
        return [j for j, name in enumerate(self.feature_names_) if name in self.categories_]

    def frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` restricted to the training columns, with training dtypes and safe names."""
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            raise DataError([Problem(f"feature column '{c}' used by the {self.owner} is missing",
                                     table="features", column=c) for c in missing])
        columns = {}
        for name, safe in zip(self.feature_names_, self.booster_feature_names_, strict=True):
            series = X[name]
            if name in self.categories_:
                columns[safe] = recode(series, self.categories_[name])
                continue
            try:
                columns[safe] = pd.to_numeric(series, errors="raise").to_numpy(
                    dtype="float64", na_value=np.nan)
            except (TypeError, ValueError):
                bad = series[pd.to_numeric(series, errors="coerce").isna() & series.notna()]
                raise DataError([Problem(f"non-numeric value(s) in a numeric feature, e.g. "
                                         f"{bad.head(3).tolist()}", table="features",
                                         column=name)]) from None
        return pd.DataFrame(columns, index=X.index)

    def matrix(self, X: pd.DataFrame) -> np.ndarray:
        """``X`` as the float matrix every candidate reads (categoricals as training codes).

        Built column by column without an intermediate frame when the dtypes allow: scoring one
        customer per request is dominated by pandas overhead.
        """
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            return self.frame(X).to_numpy()  # raises the DataError naming the column
        matrix = np.empty((len(X), len(self.feature_names_)), dtype=np.float64)
        for j, name in enumerate(self.feature_names_):
            series = X[name]
            if name in self.categories_:
                dtype = self._category_dtype(name)
                if isinstance(series.dtype, pd.CategoricalDtype) and series.dtype.categories.equals(
                    dtype.categories
                ):
                    codes = series.cat.codes.to_numpy()
                else:  # unseen values and missing -> -1 -> missing
                    codes = dtype.categories.get_indexer(series.astype(object))
                matrix[:, j] = np.where(codes < 0, np.nan, codes)
            elif pd.api.types.is_numeric_dtype(series.dtype) and not isinstance(
                series.dtype, pd.CategoricalDtype
            ):
                matrix[:, j] = series.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                return codes_of(self.frame(X))
        return matrix

    def _category_dtype(self, name: str) -> pd.CategoricalDtype:
        # Validating the levels costs ~1 ms per column and call: build each dtype once.
        if name not in self._dtype_cache:
            self._dtype_cache[name] = pd.CategoricalDtype(self.categories_[name])
        return self._dtype_cache[name]


__all__ = ["FeatureColumns", "codes_of", "is_categorical", "recode", "safe_names"]
