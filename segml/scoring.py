"""The composite scorer: features in, segments + scores + reasons out.

:class:`CustomerScorer` bundles everything a fitted segml pipeline learned (the feature settings,
the rule segmenter, the segment hierarchy with its names and the calibrated predictors) behind one
``score`` method. It is what the MLflow pyfunc model wraps, so batch scoring (``segml score``) and the
served model give identical answers.

Example
-------
>>> scorer = CustomerScorer(feature_names=["recency_days"], categorical_levels={},
...                         rules=None, hierarchy=None, predictors={})
>>> scorer.input_schema
[('customer_id', 'string'), ('recency_days', 'double')]
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from segml.errors import DataError, Problem
from segml.targets import TARGETS


def input_schema_of(features: pd.DataFrame) -> list[tuple[str, str]]:
    """(column, kind) of the served input of a model trained on ``features`` (indexed by
    customer id): what :attr:`CustomerScorer.input_schema` of its scorer will be, known before
    any model is fitted (a registry refuses a schema that differs from its champion's early).

    Example
    -------
    >>> X = pd.DataFrame({"recency_days": [3.0], "plan": pd.Categorical(["pro"])},
    ...                  index=pd.Index(["c1"], name="customer_id"))
    >>> input_schema_of(X)
    [('customer_id', 'string'), ('recency_days', 'double'), ('plan', 'string')]
    """
    kinds = [("customer_id", "long" if pd.api.types.is_integer_dtype(features.index.dtype)
              else "string")]
    for name in features.columns:
        categorical = isinstance(features[name].dtype, pd.CategoricalDtype)
        kinds.append((str(name), "string" if categorical else "double"))
    return kinds


@dataclass
class CustomerScorer:
    """Everything needed to score customers from their feature rows.

    Parameters
    ----------
    feature_names : list of str
        The model's feature columns, in training order.
    categorical_levels : dict
        Categorical feature -> its levels at training time (served strings are cast to these).
    rules, hierarchy : fitted ``RuleSegmenter`` / ``SegmentHierarchy`` or None
    predictors : dict
        Target -> fitted :class:`segml.predict.Predictor`.
    feature_spec : FeatureSpec or None
        The feature settings, to rebuild the features from raw tables (batch scoring).
    id_kind : {"string", "long"}
        The dtype of customer ids at training time.
    metadata : dict
        Example row, data end, mode, drift reference, fit cutoffs (JSON-able).
    activity_window_days : float or None
        A target whose population is the active customers (churn) is scored only for customers
        with a purchase within this many days (``recency_days``); the others get NaN (their
        ``lifecycle_stage`` says why). None: everyone is scored.
    evaluated : dict
        Target -> the predictor whose out-of-time metrics were reported (trained before the
        evaluation window). Never used to score; a retrain compares the champion's with its
        challenger on the challenger's evaluation window, which the registered predictors,
        refit on the freshest windows, have seen.
    predictive_grid : dict or None
        The value x risk bands learned from the training population (plain data,
        :mod:`segml.segments.predictive`): ``predictive_segment`` of every scored customer.
    audience_curves : dict or None
        Classifier -> its evaluation fit's operating curve (plain data,
        :mod:`segml.predict.operating`), read by ``segml audiences``.
    """

    feature_names: list[str]
    categorical_levels: dict[str, list[Any]]
    rules: Any
    hierarchy: Any
    predictors: dict[str, Any]
    feature_spec: Any = None
    id_kind: str = "string"
    metadata: dict[str, Any] = field(default_factory=dict)
    activity_window_days: float | None = None
    evaluated: dict[str, Any] = field(default_factory=dict)
    predictive_grid: dict[str, Any] | None = None
    audience_curves: dict[str, Any] | None = None
    #: ``validate_input`` may hand string columns over as strings (no category dtype needed).
    accepts_string_columns: ClassVar[bool] = True

    # ------------------------------------------------------------------------------ schema
    @property
    def input_schema(self) -> list[tuple[str, str]]:
        """(column, kind) of the served input: the customer id then every feature column."""
        kinds = [("customer_id", self.id_kind)]
        for name in self.feature_names:
            kinds.append((name, "string" if name in self.categorical_levels else "double"))
        return kinds

    def example_input(self, n: int = 3) -> pd.DataFrame:
        """A PII-free input example from the stored feature medians (never a real customer)."""
        example = self.metadata.get("example_row")
        rows = {}
        for name, kind in self.input_schema[1:]:
            if kind == "string":
                levels = self.categorical_levels.get(name) or [""]
                rows[name] = [str(levels[i % len(levels)]) for i in range(n)]
            else:
                value = (example or {}).get(name, 0.0)
                rows[name] = [float(value) if value is not None else np.nan] * n
        frame = pd.DataFrame(rows)
        ids = [f"example-{i + 1}" for i in range(n)] if self.id_kind == "string" else list(range(n))
        frame.insert(0, "customer_id", ids)
        return frame

    # ------------------------------------------------------------------------------ scoring
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

    def __getstate__(self) -> dict[str, Any]:  # the per-process caches are rebuilt on demand
        return {k: v for k, v in self.__dict__.items()
                if not (k.startswith("_") and k.endswith("_cache"))}

    def _category_dtype(self, name: str) -> pd.CategoricalDtype:
        # Built once: validating the levels on every one-customer request costs ~1 ms a column.
        cache = self.__dict__.setdefault("_dtype_cache", {})
        if name not in cache:
            cache[name] = pd.CategoricalDtype(self.categorical_levels[name])
        return cache[name]

    def score(
        self, features: pd.DataFrame, reasons: bool = False, as_of: pd.Timestamp | None = None
    ) -> pd.DataFrame:
        """Segments, scores and (optionally) reasons for each customer row.

        ``as_of`` dates ``expected_next_purchase_date`` (default: the training data's end).
        The work is done on NumPy arrays (one float matrix, category codes), whatever the number
        of rows: serving one customer is not dominated by pandas, and one row or a million go
        through the same code, so served and batch answers are identical.
        """
        ids, columns, codes = self._arrays(features)
        n = len(ids)
        out: dict[str, Any] = {"customer_id": ids}
        rule = (self.rules.transform_arrays(columns, n) if self.rules is not None else None)
        if self.hierarchy is not None:
            for name, values in self.hierarchy.assign_arrays(columns, n, rule).items():
                out[name] = (pd.Series(values, dtype=object)
                             if name == "segment_path" or name.startswith("segment_level_")
                             else values)
        if rule is not None:
            for column in ("rfm_segment", "lifecycle_stage"):
                if column in rule:
                    out[column] = rule[column]
        matrices: dict[tuple, np.ndarray] = {}
        X = None
        outside: dict[str, np.ndarray] = {}  # target -> customers it does not apply to
        window = getattr(self, "activity_window_days", None)  # absent in older pickles
        for target, spec in TARGETS.items():
            if target in self.predictors:
                predictor = self.predictors[target]
                key = _matrix_key(predictor)
                if key not in matrices:
                    matrix = self._predictor_matrix(predictor, columns, codes, n)
                    if matrix is None:  # encodings differ from the scorer's: the pandas route
                        X = self.prepare(features) if X is None else X
                        matrix = predictor.matrix(X)
                    matrices[key] = matrix
                values = predictor.predict_matrix(matrices[key])
                applies = spec.in_population(columns, n, window)
                if applies is not None and not applies.all():
                    outside[target] = ~applies
                    values = np.where(applies, values, np.nan)
                out[spec.output_column] = values
        grid = getattr(self, "predictive_grid", None)  # absent in older pickles
        if grid and (grid.get("value") or grid.get("risk")):
            from segml.segments.predictive import COLUMN, assign

            out[COLUMN] = assign(grid, out, n)
        if "btyd_p_alive" in columns:
            out["p_alive"] = columns["btyd_p_alive"]
        if "btyd_expected_next_purchase_days" in columns:
            start = pd.Timestamp(as_of if as_of is not None else self.metadata.get("data_end"))
            out["expected_next_purchase_date"] = pd.Series(
                next_purchase_dates(columns["btyd_expected_next_purchase_days"], start),
                dtype=object)
        if reasons:
            from segml.predict.explain import reasons_from_contributions

            for target, spec in TARGETS.items():
                if target in self.predictors and spec.reasons_column is not None:
                    predictor = self.predictors[target]
                    contrib = predictor.contributions_matrix(matrices[_matrix_key(predictor)])
                    text = reasons_from_contributions(contrib[:, :-1], predictor.feature_names_, k=3)
                    if target in outside:  # no score, no reasons
                        text[outside[target]] = None
                    out[spec.reasons_column] = text
        return pd.DataFrame(out)

    def _arrays(self, features: pd.DataFrame) -> tuple[Any, dict[str, np.ndarray],
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

    def _predictor_matrix(self, predictor: Any, columns: dict[str, np.ndarray],
                          codes: dict[str, np.ndarray], n: int) -> np.ndarray | None:
        """``predictor._matrix(prepare(features))`` from the arrays (None: not expressible)."""
        plan = self._plan(predictor)
        if plan is None:
            return None
        names, numeric_dst, categorical = plan
        matrix = np.empty((n, len(names)), dtype=np.float64)
        for j in numeric_dst:
            matrix[:, j] = columns[names[j]]
        for j, name, lookup in categorical:
            matrix[:, j] = lookup[codes[name]]
        return matrix

    def _plan(self, predictor: Any) -> tuple | None:
        cache = self.__dict__.setdefault("_plan_cache", {})
        key = id(predictor)
        if key not in cache or cache[key][0] is not predictor:
            cache[key] = (predictor, self._make_plan(predictor))
        return cache[key][1]

    def _make_plan(self, predictor: Any) -> tuple | None:
        names = list(getattr(predictor, "feature_names_", []))
        categories = getattr(predictor, "categories_", None)
        if not names or categories is None or any(c not in self.feature_names for c in names):
            return None
        numeric_dst, categorical = [], []
        for j, name in enumerate(names):
            if (name in categories) != (name in self.categorical_levels):
                return None
            if name in categories:
                # scorer code -> model code (as float, missing = NaN); the last slot is code -1
                target = pd.CategoricalDtype(categories[name]).categories
                found = target.get_indexer(self._category_dtype(name).categories)
                lookup = np.append(np.where(found < 0, np.nan, found), np.nan)
                categorical.append((j, name, lookup.astype(np.float64)))
            else:
                numeric_dst.append(j)
        return names, numeric_dst, categorical


def next_purchase_dates(days: np.ndarray, start: pd.Timestamp) -> np.ndarray:
    """``start`` (normalised) + ceil(``days``) days as ``YYYY-MM-DD`` strings; NaN where unknown.

    Example
    -------
    >>> next_purchase_dates(np.array([0.2, np.nan, 31.0]), pd.Timestamp("2024-01-31 10:00"))
    array(['2024-02-01', nan, '2024-03-02'], dtype=object)
    """
    days = np.asarray(days, dtype=float)
    out = np.full(len(days), np.nan, dtype=object)
    finite = np.isfinite(days)
    if not finite.any() or pd.isna(start):  # no date to count from (e.g. no data end known)
        return out
    steps = np.ceil(days[finite])
    if np.abs(steps).max() > _MAX_STEP_DAYS:  # pandas' own bounds and errors
        dates = pd.Series(pd.NaT, index=range(len(days)), dtype="datetime64[ns]")
        dates[finite] = start.normalize() + pd.to_timedelta(steps, unit="D")
        return dates.dt.strftime("%Y-%m-%d").astype("object").to_numpy()
    day = np.datetime64(start.normalize().date(), "D")
    out[finite] = np.datetime_as_string(day + steps.astype(np.int64), unit="D").astype(object)
    return out


_FLOAT64 = np.dtype(np.float64)
_SMALL = 16  # rows up to which the arrays come from one object array (serving a few customers)
_MAX_STEP_DAYS = 50_000  # beyond: pandas' datetime64[ns] range checks decide


def _matrix_key(predictor: Any) -> tuple:
    """Predictors with equal columns and category levels read the same matrix."""
    categories = getattr(predictor, "categories_", {})
    return (
        tuple(predictor.feature_names_),
        tuple((k, tuple(v)) for k, v in sorted(categories.items())),
    )


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

