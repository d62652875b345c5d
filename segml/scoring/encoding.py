"""The scorer's input: its schema, and a frame of feature rows as the arrays the scoring core
reads.

:func:`input_schema` is the one definition of a model's served input (the customer id, then
every feature column as a string or a number); :func:`input_schema_of` is the same for a
feature matrix before any model is fitted, :attr:`CustomerScorer.input_schema
<segml.scoring.scorer.CustomerScorer.input_schema>` for a fitted scorer.

:class:`InputEncoder` (held by :class:`~segml.scoring.scorer.CustomerScorer` as its
``encoder``) turns a request or a batch into customer ids, one NumPy array per feature
(categoricals as their training levels, NaN when unseen or missing) and the categoricals' codes
in the training levels. A few rows (serving) come from one object array of the frame (~0.2 ms);
larger batches from the numeric block. :meth:`InputEncoder.prepare` is the same input as a typed
DataFrame (the model matrix a notebook or a benchmark may want).

Example
-------
>>> encoder = InputEncoder(["days", "plan"], {"plan": ["basic", "pro"]})
>>> ids, columns, codes = encoder.input_arrays(
...     pd.DataFrame({"customer_id": ["c1"], "days": [3.0], "plan": ["gold"]}))
>>> list(ids), columns["days"].tolist(), codes["plan"].tolist()
(['c1'], [3.0], [-1])
>>> input_schema(encoder.feature_names, encoder.categorical_levels, "string")
[('customer_id', 'string'), ('days', 'double'), ('plan', 'string')]
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from segml.errors import DataError, Problem

_FLOAT64 = np.dtype(np.float64)
_SMALL = 16  # rows up to which the arrays come from one object array (serving a few customers)


# ------------------------------------------------------------------------------ the schema
def input_schema(feature_names: Iterable[str], categorical: Iterable[str] | dict[str, Any],
                 id_kind: str) -> list[tuple[str, str]]:
    """(column, kind) of a model's served input: ``customer_id`` (``id_kind``, see
    :func:`id_kind_of`) then every feature in order, ``"string"`` for a categorical one (a name
    in ``categorical``) and ``"double"`` otherwise. The registry's schema guard, the dataset
    lineage and the served signature all read this one definition.

    Example
    -------
    >>> input_schema(["recency_days", "plan"], {"plan": ["basic", "pro"]}, "long")
    [('customer_id', 'long'), ('recency_days', 'double'), ('plan', 'string')]
    """
    categorical = set(categorical)
    return [("customer_id", id_kind),
            *((str(name), "string" if name in categorical else "double") for name in feature_names)]


def id_kind_of(index: pd.Index) -> str:
    """The schema kind of customer ids indexed by ``index``: ``"long"`` for integers, else
    ``"string"``.

    Example
    -------
    >>> id_kind_of(pd.Index([1, 2])), id_kind_of(pd.Index(["c1"]))
    ('long', 'string')
    """
    return "long" if pd.api.types.is_integer_dtype(index.dtype) else "string"


def categorical_levels_of(features: pd.DataFrame) -> dict[str, list[Any]]:
    """Categorical column -> its levels, for the category-typed columns of ``features``.

    Example
    -------
    >>> categorical_levels_of(pd.DataFrame({"days": [1.0], "plan": pd.Categorical(["pro"])}))
    {'plan': ['pro']}
    """
    return {c: list(features[c].cat.categories) for c in features.columns
            if isinstance(features[c].dtype, pd.CategoricalDtype)}


def input_schema_of(features: pd.DataFrame) -> list[tuple[str, str]]:
    """(column, kind) of the served input of a model trained on ``features`` (indexed by
    customer id): what :attr:`CustomerScorer.input_schema
    <segml.scoring.scorer.CustomerScorer.input_schema>` of its scorer will be, known before any
    model is fitted (a registry refuses a schema that differs from its champion's early).

    Example
    -------
    >>> X = pd.DataFrame({"recency_days": [3.0], "plan": pd.Categorical(["pro"])},
    ...                  index=pd.Index(["c1"], name="customer_id"))
    >>> input_schema_of(X)
    [('customer_id', 'string'), ('recency_days', 'double'), ('plan', 'string')]
    """
    return input_schema(features.columns, categorical_levels_of(features),
                        id_kind_of(features.index))


# ------------------------------------------------------------------------------ the encoder
class InputEncoder:
    """Feature rows -> arrays, for a model's ``feature_names`` (in training order) and
    ``categorical_levels`` (categorical feature -> its training levels).

    The per-process caches (dtypes, level look-ups, column positions) are built on first use;
    ``feature_names`` and ``categorical_levels`` are read, never copied or changed.
    """

    def __init__(self, feature_names: list[str], categorical_levels: dict[str, list[Any]]):
        self.feature_names = feature_names
        self.categorical_levels = categorical_levels
        self._layout_cache: dict[str, tuple] = {}
        self._numeric_cache: dict[str, list[str]] = {}
        self._code_cache: dict[str, dict[Any, int]] = {}
        self._level_cache: dict[str, np.ndarray] = {}
        self._dtype_cache: dict[str, pd.CategoricalDtype] = {}

    def __repr__(self) -> str:
        return (f"InputEncoder({len(self.feature_names)} features, "
                f"{len(self.categorical_levels)} categorical)")

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
                dtype = self.category_dtype(name)
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
        cache = self._layout_cache
        entry = cache.get(kind)
        if entry is None or entry[0] != layout or entry[1] != names:
            entry = cache[kind] = (layout, names, columns.get_indexer(names))  # one atomic swap
        return entry[2]

    def _numeric_names(self) -> list[str]:
        cache = self._numeric_cache
        if "names" not in cache:
            cache["names"] = [c for c in self.feature_names if c not in self.categorical_levels]
        return cache["names"]

    def _level_codes(self, name: str) -> dict[Any, int]:
        cache = self._code_cache
        if name not in cache:
            cache[name] = {v: i for i, v in enumerate(self.category_dtype(name).categories)}
        return cache[name]

    def _level_values(self, name: str) -> np.ndarray:
        """The training levels of ``name`` as an object array, NaN appended (for code -1)."""
        cache = self._level_cache
        if name not in cache:
            levels = list(self.category_dtype(name).categories)
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
                dtype = self.category_dtype(name)
                codes = dtype.categories.get_indexer(frame[name].astype(object))  # unseen -> -1
                columns[name] = pd.Categorical.from_codes(codes, dtype=dtype)
        X = pd.DataFrame({name: columns[name] for name in self.feature_names}, index=frame.index)
        X.index.name = "customer_id"
        return X

    def category_dtype(self, name: str) -> pd.CategoricalDtype:
        """The training levels of categorical ``name`` as a dtype."""
        # Built once: validating the levels on every one-customer request costs ~1 ms a column.
        cache = self._dtype_cache
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


__all__ = ["InputEncoder", "categorical_levels_of", "id_kind_of", "input_schema",
           "input_schema_of"]
