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

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segml.errors import DataError, Problem

#: Output column of each target's probability (or amount for spend), in SPEC section 6 order.
SCORE_COLUMNS = {
    "churn": "churn_probability",
    "purchase": "purchase_probability",
    "high_clv": "high_clv_probability",
    "spend": "predicted_spend",
}
REASON_TARGETS = ("churn", "purchase", "high_clv")


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
    """

    feature_names: list[str]
    categorical_levels: dict[str, list[Any]]
    rules: Any
    hierarchy: Any
    predictors: dict[str, Any]
    feature_spec: Any = None
    id_kind: str = "string"
    metadata: dict[str, Any] = field(default_factory=dict)

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
        """
        X = self.prepare(features)
        out = pd.DataFrame(index=X.index)
        rule_segments = self.rules.transform(X) if self.rules is not None else None
        if self.hierarchy is not None:
            out = out.join(self.hierarchy.assign(X, rule_segments=rule_segments))
        if rule_segments is not None:
            for column in ("rfm_segment", "lifecycle_stage"):
                if column in rule_segments:
                    out[column] = rule_segments[column].astype("object").to_numpy()
        matrices: dict[tuple, np.ndarray] = {}
        for target, column in SCORE_COLUMNS.items():
            if target in self.predictors:
                predictor = self.predictors[target]
                key = _matrix_key(predictor)
                if key not in matrices:
                    matrices[key] = predictor._matrix(X)
                out[column] = predictor.predict_matrix(matrices[key])
        if "btyd_p_alive" in X:
            out["p_alive"] = X["btyd_p_alive"].to_numpy()
        if "btyd_expected_next_purchase_days" in X:
            start = pd.Timestamp(as_of if as_of is not None else self.metadata.get("data_end"))
            days = X["btyd_expected_next_purchase_days"].to_numpy(dtype=float)
            finite = np.isfinite(days)
            dates = pd.Series(pd.NaT, index=X.index, dtype="datetime64[ns]")
            dates[finite] = start.normalize() + pd.to_timedelta(np.ceil(days[finite]), unit="D")
            out["expected_next_purchase_date"] = dates.dt.strftime("%Y-%m-%d").astype("object")
        if reasons:
            from segml.predict import top_reasons

            for target in REASON_TARGETS:
                if target in self.predictors:
                    found = top_reasons(self.predictors[target], X, k=3)
                    out[f"{target}_reasons"] = [_as_json(r) for r in found]
        return out.reset_index()


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


def _as_json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=float)
