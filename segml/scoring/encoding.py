"""The scorer's input: a frame of feature rows as the arrays the scoring core reads.

:class:`InputArrays` (a mixin of :class:`~segml.scoring.scorer.CustomerScorer`, reading its
``feature_names`` and ``categorical_levels``) turns a request or a batch into customer ids, one
NumPy array per feature (categoricals as their training levels, NaN when unseen or missing) and
the categoricals' codes in the training levels. A few rows (serving) come from one object array
of the frame (~0.2 ms); larger batches from the numeric block. :meth:`InputArrays.prepare` is the
same input as a typed DataFrame (the model matrix a notebook or a benchmark may want).

Example
-------
>>> class Scorer(InputArrays):
...     feature_names = ["days", "plan"]
...     categorical_levels = {"plan": ["basic", "pro"]}
>>> ids, columns, codes = Scorer().input_arrays(
...     pd.DataFrame({"customer_id": ["c1"], "days": [3.0], "plan": ["gold"]}))
>>> list(ids), columns["days"].tolist(), codes["plan"].tolist()
(['c1'], [3.0], [-1])
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd

from segml.errors import DataError, Problem

_FLOAT64 = np.dtype(np.float64)
_SMALL = 16  # rows up to which the arrays come from one object array (serving a few customers)


class InputArrays:
    """Feature rows -> arrays, for a class with ``feature_names`` and ``categorical_levels``.

    The per-process caches (dtypes, level look-ups, column positions) are built on first use.
    """

    feature_names: list[str]
    categorical_levels: dict[str, list[Any]]

    def input_arrays(self, features: pd.DataFrame) -> tuple[Any, dict[str, np.ndarray],
                                                           dict[str, np.ndarray]]:
        """Customer ids, every feature as a NumPy array (categoricals as their values) and the
        categoricals' codes in the training levels (-1: unseen or missing)."""
        frame = features
        if "customer_id" in frame.columns:
            ids = frame["customer_id"].array
        else:
            ids = frame.index.array
        missing = [c for c in self.feature_names if c not in frame.columns]
        if missing:
            raise DataError(
                [Problem(f"feature column missing: {c}", table="features", column=c) for c in missing]
            )
        numeric = self._numeric_names()
        present = [name for name in self.categorical_levels if name in frame]
        numeric_at = self._positions(frame.columns, numeric)
        small = self._small_arrays(frame, numeric_at, present) if len(frame) <= _SMALL else None
        if small is not None:
            values, codes = small
        else:
            values, codes = self._numeric_values(frame, numeric, numeric_at), {}
        columns = {name: values[:, j] for j, name in enumerate(numeric)}
        for name in present:
            if name not in codes:
                series = frame[name]
                dtype = self._category_dtype(name)
                if isinstance(series.dtype, pd.CategoricalDtype) and series.dtype.categories.equals(
                    dtype.categories
                ):
                    codes[name] = series.cat.codes.to_numpy()
                else:  # unseen -> -1
                    codes[name] = dtype.categories.get_indexer(series.to_numpy(dtype=object))
            columns[name] = self._level_values(name)[codes[name]]
        return ids, columns, codes

    def _numeric_values(self, frame: pd.DataFrame, numeric: list[str],
                        numeric_at: np.ndarray) -> np.ndarray:
        block = frame.take(numeric_at, axis=1)
        if all(pd.api.types.is_numeric_dtype(t) and not isinstance(t, pd.CategoricalDtype)
               for t in block.dtypes):
            return block.to_numpy(dtype=np.float64, na_value=np.nan)
        if not numeric:
            return np.empty((len(frame), 0))
        return np.column_stack([_as_float(block[name], name).to_numpy() for name in numeric])

    def _small_arrays(self, frame: pd.DataFrame, numeric_at: np.ndarray, present: list[str]
                      ) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
        """The numeric matrix and category codes of a few rows (serving) from one object array
        of the whole frame: ~0.2 ms, where selecting the column blocks and checking their dtypes
        cost ~1 ms. None unless every numeric column is float64 (then the general path)."""
        dtypes = frame.dtypes.to_numpy()
        if not all(dtype == _FLOAT64 for dtype in dtypes[numeric_at]):
            return None
        everything = frame.to_numpy(dtype=object)
        values = everything[:, numeric_at].astype(np.float64)
        codes = {}
        categorical_at = self._positions(frame.columns, present, "categorical")
        for name, row in zip(present, everything[:, categorical_at].T, strict=True):
            lookup = self._level_codes(name)
            codes[name] = np.array([lookup.get(v, -1) if isinstance(v, Hashable) else -1
                                    for v in row], dtype=np.intp)
        return values, codes

    def _positions(self, columns: pd.Index, names: list[str], kind: str = "numeric") -> np.ndarray:
        """Positions of ``names`` (the ``kind`` columns) in ``columns``; remembered for the last
        column layout (every served request has the schema's), as the label look-up costs more
        than the take."""
        layout = columns.tolist()
        cache = self.__dict__.setdefault("_layout_cache", {})
        entry = cache.get(kind)
        if entry is None or entry[0] != layout or entry[1] != names:
            entry = cache[kind] = (layout, names, columns.get_indexer(names))  # one atomic swap
        return entry[2]

    def _numeric_names(self) -> list[str]:
        cache = self.__dict__.setdefault("_numeric_cache", {})
        if "names" not in cache:
            cache["names"] = [c for c in self.feature_names if c not in self.categorical_levels]
        return cache["names"]

    def _level_codes(self, name: str) -> dict[Any, int]:
        cache = self.__dict__.setdefault("_code_cache", {})
        if name not in cache:
            cache[name] = {v: i for i, v in enumerate(self._category_dtype(name).categories)}
        return cache[name]

    def _level_values(self, name: str) -> np.ndarray:
        """The training levels of ``name`` as an object array, NaN appended (for code -1)."""
        cache = self.__dict__.setdefault("_level_cache", {})
        if name not in cache:
            levels = list(self._category_dtype(name).categories)
            cache[name] = np.array([*levels, np.nan], dtype=object)
        return cache[name]

    def prepare(self, features: pd.DataFrame) -> pd.DataFrame:
        """The model matrix: feature columns in training order, categoricals on training levels."""
        frame = features
        if "customer_id" in frame.columns:
            frame = frame.set_index("customer_id")
        missing = [c for c in self.feature_names if c not in frame.columns]
        if missing:
            raise DataError(
                [Problem(f"feature column missing: {c}", table="features", column=c) for c in missing]
            )
        numeric = [c for c in self.feature_names if c not in self.categorical_levels]
        block = frame[numeric]
        if all(pd.api.types.is_numeric_dtype(t) for t in block.dtypes):
            values = block.to_numpy(dtype=np.float64, na_value=np.nan)  # one conversion, not 60
            columns = {name: values[:, j] for j, name in enumerate(numeric)}
        else:
            columns = {name: _as_float(block[name], name).to_numpy() for name in numeric}
        for name in self.categorical_levels:
            if name in frame:
                dtype = self._category_dtype(name)
                codes = dtype.categories.get_indexer(frame[name].astype(object))  # unseen -> -1
                columns[name] = pd.Categorical.from_codes(codes, dtype=dtype)
        X = pd.DataFrame({name: columns[name] for name in self.feature_names}, index=frame.index)
        X.index.name = "customer_id"
        return X

    def _category_dtype(self, name: str) -> pd.CategoricalDtype:
        # Built once: validating the levels on every one-customer request costs ~1 ms a column.
        cache = self.__dict__.setdefault("_dtype_cache", {})
        if name not in cache:
            cache[name] = pd.CategoricalDtype(self.categorical_levels[name])
        return cache[name]


def _as_float(series: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return series.astype("float64")
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna() & series.notna()
    if bad.any():
        example = series[bad].iloc[0]
        raise DataError(
            [
                Problem(
                    f"column {name!r} must be numeric; got {example!r} ({int(bad.sum())} row(s))",
                    table="features",
                    column=name,
                )
            ]
        )
    return numbers.astype("float64")


__all__ = ["InputArrays"]
