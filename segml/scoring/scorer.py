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

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from segml.errors import DataError, Problem, SegmlError
from segml.predict.explain import reasons_from_contributions
from segml.scoring.encoding import InputEncoder, input_schema
from segml.scoring.state import (
    DECLARED_TARGETS_FORMAT,
    STATE_FORMAT_VERSION,
    read_state,
    write_state,
)
from segml.segments.predictive import COLUMN
from segml.segments.predictive import assign as assign_cells
from segml.targets import TARGETS, Target, declared_target

STATE_KIND = "segml.CustomerScorer"
#: Rows from which a batch's segments are placed on a second thread while the predictors
#: score: the KD-tree search and the compiled tree walk both release the GIL, so the NumPy
#: parts of each phase, which use one core, run beside the other's work (``docs/benchmarks.md``,
#: "Batch scoring and the served model"). Fewer rows (serving) never touch a thread.
_CONCURRENT_ROWS = 10_000
_PLACEMENT_POOL: list[ThreadPoolExecutor] = []
_PLACEMENT_LOCK = threading.Lock()


def _placement_pool() -> ThreadPoolExecutor:
    """One thread for placement, made on first use and shared by every scorer."""
    with _PLACEMENT_LOCK:
        if not _PLACEMENT_POOL:
            _PLACEMENT_POOL.append(ThreadPoolExecutor(1, thread_name_prefix="segml-placement"))
    return _PLACEMENT_POOL[0]


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
    declared_targets : dict
        Declared target (config ``targets:``) -> its definition as plain data
        (:func:`segml.targets.declared_target`): what scoring needs of it (kind, population,
        output and reasons columns) without the config that declared it. Default: read from
        the predictors of declared targets (their ``target`` is the :class:`Target`).

    Attributes
    ----------
    encoder : InputEncoder
        Turns feature rows into the arrays :meth:`score_arrays` reads
        (:class:`~segml.scoring.encoding.InputEncoder`), built from ``feature_names`` and
        ``categorical_levels`` (the same objects, not copies).
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
    declared_targets: dict[str, Any] = field(default_factory=dict)
    encoder: InputEncoder = field(init=False, repr=False, compare=False)
    _targets: dict[str, Target] = field(init=False, repr=False, compare=False)
    #: ``validate_input`` may hand string columns over as strings (no category dtype needed).
    accepts_string_columns: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self.encoder = InputEncoder(self.feature_names, self.categorical_levels)
        for name, predictor in self.predictors.items():
            spec = getattr(predictor, "target", None)
            if (name not in TARGETS and name not in self.declared_targets
                    and isinstance(spec, Target) and spec.definition is not None):
                self.declared_targets[name] = dict(spec.definition)
        missing = [n for n in self.predictors if n not in TARGETS and n not in self.declared_targets]
        if missing:
            raise DataError([Problem(f"model: no definition of the declared target(s) {missing} "
                                     "(declared_targets)", key="model")])
        try:
            declared = {n: declared_target(n, d) for n, d in self.declared_targets.items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError([Problem(f"model state: a declared target's definition is "
                                     f"malformed ({exc!r})", key="model")]) from None
        # this scorer's own targets, never a process-wide list: two models declaring the same
        # name differently score side by side (docs/dev/targets.md)
        self._targets = {name: spec for name, spec in {**TARGETS, **declared}.items()
                         if name in self.predictors}

    def targets(self) -> dict[str, Target]:
        """The targets this scorer outputs, in output order: the built-in ones, then the
        declared ones (rebuilt from their stored definitions)."""
        return self._targets

    # ------------------------------------------------------------------------------ input
    @property
    def input_schema(self) -> list[tuple[str, str]]:
        """(column, kind) of the served input: the customer id then every feature column
        (:func:`~segml.scoring.encoding.input_schema`)."""
        return input_schema(self.feature_names, self.categorical_levels, self.id_kind)

    def input_arrays(self, features: pd.DataFrame) -> tuple[Any, dict[str, np.ndarray],
                                                           dict[str, np.ndarray]]:
        """Customer ids, every feature as a NumPy array and the categoricals' codes
        (:meth:`InputEncoder.input_arrays <segml.scoring.encoding.InputEncoder.input_arrays>`)."""
        return self.encoder.input_arrays(features)

    def prepare(self, features: pd.DataFrame) -> pd.DataFrame:
        """The model matrix: feature columns in training order, categoricals on training levels
        (:meth:`InputEncoder.prepare <segml.scoring.encoding.InputEncoder.prepare>`)."""
        return self.encoder.prepare(features)

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

    # ------------------------------------------------------------------------------ state
    def to_state(self) -> dict[str, Any]:
        """Everything the scorer learned, as data (:mod:`segml.scoring.state`): what the
        registered model stores instead of pickled objects."""
        return {
            "kind": STATE_KIND,
            "feature_names": list(self.feature_names),
            "categorical_levels": {k: list(v) for k, v in self.categorical_levels.items()},
            "id_kind": self.id_kind,
            "metadata": dict(self.metadata),
            "activity_window_days": self.activity_window_days,
            "predictive_grid": self.predictive_grid,
            "audience_curves": self.audience_curves,
            "feature_spec": None if self.feature_spec is None else self.feature_spec.to_dict(),
            "rules": None if self.rules is None else self.rules.to_state(),
            "hierarchy": None if self.hierarchy is None else self.hierarchy.to_state(),
            "predictors": {t: p.to_state() for t, p in self.predictors.items()},
            "evaluated": {t: p.to_state() for t, p in self.evaluated.items()},
            "declared_targets": {n: dict(d) for n, d in self.declared_targets.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CustomerScorer:
        """The scorer :meth:`to_state` described: the same answers, rebuilt from data."""
        from segml.features.behaviour import FeatureSpec
        from segml.predict.models import Predictor
        from segml.segments.hierarchy import SegmentHierarchy
        from segml.segments.rules import RuleSegmenter

        if state.get("kind") != STATE_KIND:
            raise DataError([Problem(f"model state of kind {state.get('kind')!r}, not a "
                                     f"{STATE_KIND}", key="model")])
        window = state["activity_window_days"]
        # absent from states written before targets could be declared
        declared = dict(state.get("declared_targets") or {})
        try:
            targets = {n: declared_target(n, d) for n, d in declared.items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError([Problem(f"model state: a declared target's definition is "
                                     f"malformed ({exc!r})", key="model")]) from None
        return cls(
            feature_names=list(state["feature_names"]),
            categorical_levels={k: list(v) for k, v in state["categorical_levels"].items()},
            rules=None if state["rules"] is None else RuleSegmenter.from_state(state["rules"]),
            hierarchy=(None if state["hierarchy"] is None
                       else SegmentHierarchy.from_state(state["hierarchy"])),
            predictors={t: Predictor.from_state(p, targets)
                        for t, p in state["predictors"].items()},
            feature_spec=(None if state["feature_spec"] is None
                          else FeatureSpec.from_dict(state["feature_spec"])),
            id_kind=state["id_kind"],
            metadata=dict(state["metadata"]),
            activity_window_days=None if window is None else float(window),
            evaluated={t: Predictor.from_state(p, targets)
                       for t, p in state["evaluated"].items()},
            predictive_grid=state["predictive_grid"],
            audience_curves=state["audience_curves"],
            declared_targets=declared,
        )

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_state` into ``folder`` (a new folder; :func:`segml.scoring.state.write_state`).

        Example
        -------
        >>> import tempfile
        >>> scorer = CustomerScorer(feature_names=["recency_days"], categorical_levels={},
        ...                         rules=None, hierarchy=None, predictors={})
        >>> path = scorer.save(Path(tempfile.mkdtemp()) / "state")
        >>> CustomerScorer.load(path).input_schema
        [('customer_id', 'string'), ('recency_days', 'double')]
        """
        return write_state(self.to_state(), folder,
                           DECLARED_TARGETS_FORMAT if self.declared_targets else
                           STATE_FORMAT_VERSION)

    @classmethod
    def load(cls, folder: str | os.PathLike[str], where: str | None = None) -> CustomerScorer:
        """The scorer :meth:`save` wrote (``where`` names the model in errors).

        A state that reads but does not rebuild (a missing key, a value of the wrong type, a
        booster text LightGBM cannot parse) was changed after it was written: one
        :class:`~segml.errors.SegmlError` naming the model, never an internal error.
        """
        state = read_state(folder, where)
        try:
            return cls.from_state(state)
        except Exception as exc:  # noqa: BLE001 - any way a tampered state fails: one line
            text = exc.problems[0].message if isinstance(exc, SegmlError) else str(exc)
            detail = text.splitlines()[0][:120] if text else ""
            raise SegmlError([Problem(
                f"{where or folder}: model artifact state does not rebuild a segml scorer "
                f"({type(exc).__name__}{': ' + detail if detail else ''}); the model was changed "
                "or damaged after it was registered, so it is not loaded", key="model")]
            ) from None

    # ------------------------------------------------------------------------------ scoring
    def score(
        self, features: pd.DataFrame, reasons: bool = False, as_of: pd.Timestamp | None = None,
        *, segments: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Segments, scores and (optionally) reasons for each customer row.

        ``as_of`` dates ``expected_next_purchase_date`` (default: the training data's end).
        The rows become arrays (:meth:`~segml.scoring.encoding.InputEncoder.input_arrays`) and go
        through :meth:`score_arrays`, whatever their number: serving one customer is not
        dominated by pandas, and one row or a million give identical answers.

        ``segments``: what this scorer's hierarchy already assigned to these customers
        (``SegmentHierarchy.assign`` + names, indexed like ``features``), e.g. the training
        run's own segmentation of the current customers; they are not placed a second time.
        """
        ids, columns, codes = self.encoder.input_arrays(features)
        placed = None
        if segments is not None and self.hierarchy is not None:
            aligned = segments if segments.index.equals(features.index) else segments.reindex(
                features.index)
            placed = {c: aligned[c].to_numpy() for c in aligned.columns
                      if c.startswith("segment_")}
        return pd.DataFrame(self.score_arrays(ids, columns, codes, reasons=reasons, as_of=as_of,
                                              placed=placed))

    def score_arrays(self, ids: Any, columns: dict[str, np.ndarray], codes: dict[str, np.ndarray],
                     *, reasons: bool = False, as_of: pd.Timestamp | None = None,
                     placed: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
        """The scoring core: output columns from one array per feature (categoricals as their
        training levels) and the categoricals' codes in the training levels (``placed``: the
        hierarchy's columns already assigned to these rows, see :meth:`score`)."""
        n = len(ids)
        out: dict[str, Any] = {"customer_id": ids}
        rule = (self.rules.transform_arrays(columns, n) if self.rules is not None else None)
        placing = None
        if self.hierarchy is not None and placed is None:
            if n >= _CONCURRENT_ROWS:  # placed while the predictors score (see below)
                placing = _placement_pool().submit(self.hierarchy.assign_arrays, columns, n, rule)
            else:
                placed = self.hierarchy.assign_arrays(columns, n, rule)
        try:
            matrices, outside, scores = self._scores(columns, codes, n)
        except BaseException:
            if placing is not None:  # a placement error comes first, as when run in turn
                placing.result()
            raise
        if placing is not None:
            placed = placing.result()
        if self.hierarchy is not None:
            for name, values in placed.items():
                out[name] = (pd.Series(values, dtype=object)
                             if name == "segment_path" or name.startswith("segment_level_")
                             else values)
        if rule is not None:
            for column in ("rfm_segment", "lifecycle_stage"):
                if column in rule:
                    out[column] = rule[column]
        out.update(scores)
        grid = self.predictive_grid
        if grid and (grid.get("value") or grid.get("risk")):
            out[COLUMN] = assign_cells(grid, out, n)
        if "btyd_p_alive" in columns:
            out["p_alive"] = columns["btyd_p_alive"]
        if "btyd_expected_next_purchase_days" in columns:
            start = pd.Timestamp(as_of if as_of is not None else self.metadata.get("data_end"))
            out["expected_next_purchase_date"] = pd.Series(
                next_purchase_dates(columns["btyd_expected_next_purchase_days"], start),
                dtype=object)
        if reasons:
            for target, spec in self.targets().items():
                if target in self.predictors and spec.reasons_column is not None:
                    predictor = self.predictors[target]
                    contrib = predictor.contributions_matrix(matrices[_matrix_key(predictor)])
                    text = reasons_from_contributions(contrib[:, :-1], predictor.feature_names_, k=3)
                    if target in outside:  # no score, no reasons
                        text[outside[target]] = None
                    out[spec.reasons_column] = text
        return out

    def _scores(self, columns: dict[str, np.ndarray], codes: dict[str, np.ndarray],
                n: int) -> tuple[dict[tuple, np.ndarray], dict[str, np.ndarray],
                                 dict[str, np.ndarray]]:
        """Every predictor's output column (NaN outside its target's population), with the
        matrices they read (by :func:`_matrix_key`) and, per target, the rows outside it."""
        matrices: dict[tuple, np.ndarray] = {}
        outside: dict[str, np.ndarray] = {}  # target -> customers it does not apply to
        scores: dict[str, np.ndarray] = {}
        for target, spec in self.targets().items():
            if target in self.predictors:
                predictor = self.predictors[target]
                key = _matrix_key(predictor)
                if key not in matrices:
                    matrices[key] = self._predictor_matrix(predictor, columns, codes, n)
                values = predictor.predict_matrix(matrices[key])
                applies = spec.in_population(columns, n, self.activity_window_days)
                if applies is not None and not applies.all():
                    outside[target] = ~applies
                    values = np.where(applies, values, np.nan)
                scores[spec.output_column] = values
        return matrices, outside, scores

    def _predictor_matrix(self, predictor: Any, columns: dict[str, np.ndarray],
                          codes: dict[str, np.ndarray], n: int) -> np.ndarray:
        """The float matrix ``predictor`` reads (:meth:`FeatureColumns.matrix
        <segml.predict.matrix.FeatureColumns.matrix>` of the same rows), from the arrays."""
        plan = self._plan(predictor)
        if plan is None:  # columns or categories other than the scorer's: level by level
            return _general_matrix(predictor, columns, n)
        names, numeric_dst, categorical = plan
        # column by column: each feature is one contiguous copy (row by row, every column
        # strode across the whole matrix: 0.1-0.3 s per 100k customers), and the compiled trees
        # read a block's values feature by feature (segml.predict.trees.raw_score)
        matrix = np.empty((n, len(names)), dtype=np.float64, order="F")
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
                found = target.get_indexer(self.encoder.category_dtype(name).categories)
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
    # a few hundred distinct day counts among 100k customers: each is written once
    codes, distinct = pd.factorize(steps)
    text = np.datetime_as_string(day + distinct.astype(np.int64), unit="D").astype(object)
    out[finite] = text[codes]
    return out


_MAX_STEP_DAYS = 50_000  # beyond: pandas' datetime64[ns] range checks decide


def _general_matrix(predictor: Any, columns: dict[str, np.ndarray], n: int) -> np.ndarray:
    """The predictor's matrix when its columns or categories differ from the scorer's: each
    categorical's values looked up in the predictor's training categories (unseen -> NaN)."""
    names = list(predictor.feature_names_)
    missing = [c for c in names if c not in columns]
    if missing:
        owner = f"{predictor.target} model" if getattr(predictor, "target", None) else "model"
        raise DataError([Problem(f"feature column '{c}' used by the {owner} is missing",
                                 table="features", column=c) for c in missing])
    matrix = np.empty((n, len(names)), dtype=np.float64, order="F")  # as _predictor_matrix
    for j, name in enumerate(names):
        values = columns[name]
        if name in predictor.categories_:
            found = pd.CategoricalDtype(predictor.categories_[name]).categories.get_indexer(
                np.asarray(values, dtype=object))
            matrix[:, j] = np.where(found < 0, np.nan, found)
        else:
            matrix[:, j] = pd.to_numeric(pd.Series(values), errors="raise").to_numpy(
                dtype=np.float64, na_value=np.nan)
    return matrix


def _matrix_key(predictor: Any) -> tuple:
    """Predictors with equal columns and category levels read the same matrix."""
    categories = getattr(predictor, "categories_", {})
    return (
        tuple(predictor.feature_names_),
        tuple((k, tuple(v)) for k, v in sorted(categories.items())),
    )
