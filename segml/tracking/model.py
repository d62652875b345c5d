"""The one servable unit: a composite pyfunc model around a fitted *scorer*.

The scorer (``segml.scoring.scorer``) holds the feature settings, the segment hierarchy, the rule
segmenter and the four boosters. This module only needs its duck-typed protocol::

    scorer.input_schema -> list[tuple[str, str]]   # (column, kind); kind in KINDS
    scorer.score(features, reasons=False) -> pd.DataFrame
    scorer.example_input(n=3) -> pd.DataFrame      # PII-free rows

:class:`SegmlModel` validates every request before scoring: an empty frame, a missing column or a
value of the wrong type raises :class:`~mlflow.exceptions.MlflowException` with
``INVALID_PARAMETER_VALUE`` naming the column, which the scoring server turns into HTTP 400.

Example
-------
>>> import pandas as pd
>>> class Tiny:
...     input_schema = [("customer_id", "string"), ("recency_days", "double")]
...     def score(self, features, reasons=False):
...         return pd.DataFrame({"customer_id": features["customer_id"],
...                              "churn_probability": features["recency_days"] / 365})
...     def example_input(self, n=3):
...         return pd.DataFrame({"customer_id": ["a"], "recency_days": [10.0]})
>>> model = SegmlModel.from_scorer(Tiny())
>>> model.predict(None, pd.DataFrame({"customer_id": ["c1"], "recency_days": [73]}))
  customer_id  churn_probability
0          c1                0.2
>>> model.predict(None, pd.DataFrame({"customer_id": ["c1"]}))
Traceback (most recent call last):
...
mlflow.exceptions.MlflowException: missing required column(s) ['recency_days']; ...
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import cloudpickle
import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

from segml.errors import Problem, SegmlError
from segml.scoring.state import STATE_FORMAT_VERSION, state_digest
from segml.tracking import serving
from segml.tracking.model_files import (
    DIGEST_KEY,
    MODEL_CODE,
    SCORER_ARTIFACT,
    STATE_ARTIFACT,
    check_served_digest,
    checked_state,
    pickles_allowed,
    refuse_pickle,
)
from segml.tracking.validation import (
    KINDS,
    as_bool,
    as_date,
    invalid_input,
    validate_input,
)

log = logging.getLogger(__name__)

#: What a pickled scorer artifact holds when a segml release before the state format wrote it.
_PICKLED_SEGML = (b"segml.scoring", b"CustomerScorer")
DATE_OFFSET_COLUMN = "btyd_expected_next_purchase_days"  # the input the scorer turns into a date
REQUIREMENTS = ("mlflow", "cloudpickle", "pandas", "numpy", "scipy", "scikit-learn", "lightgbm",
                "hdbscan", "shap", "pyarrow", "pydantic", "PyYAML")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def serialise_output(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding lists/dicts (the ``*_reasons``) become JSON strings.

    Examples
    --------
    >>> serialise_output(pd.DataFrame({"r": [[("recency_days", 0.25)]]}))["r"][0]
    '[["recency_days", 0.25]]'
    """
    if not len(frame):
        return frame
    nested = [  # dtypes read once: one look per object column, not two per column
        name for name, dtype in frame.dtypes.items()
        if dtype == np.dtype(object) and isinstance(frame[name].iloc[0], list | tuple | dict | np.ndarray)
    ]
    if not nested:
        return frame
    out = frame.copy(deep=False)
    for name in nested:  # JSON per row, only when reasons were asked for
        out[name] = [v if v is None or isinstance(v, str) else json.dumps(v, default=_jsonable)
                     for v in frame[name].tolist()]
    return out


def json_nulls(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns holding missing values as objects with ``None`` (JSON null, not NaN).

    Example
    -------
    >>> json_nulls(pd.DataFrame({"p": [0.5, np.nan], "q": [1.0, 2.0]})).to_dict("list")
    {'p': [0.5, None], 'q': [1.0, 2.0]}
    """
    missing = frame.isna().any()
    if not missing.any():
        return frame
    out = frame.copy(deep=False)
    for name in missing.index[missing.to_numpy()]:
        column = out[name]
        out[name] = column.astype(object).where(column.notna(), None)
    return out


class SegmlModel(mlflow.pyfunc.PythonModel):
    """Composite pyfunc: validated features in, segments + scores (+ reasons) out.

    MLflow builds it from code (``pyfunc_code.py``, nothing pickled) and :meth:`load_context`
    rebuilds the scorer from the ``state`` artifact :func:`log_segml_model` stored (data only,
    :mod:`segml.scoring.state`). ``params={"reasons": True}`` adds the
    ``*_reasons`` columns as JSON strings; ``params={"as_of": "YYYY-MM-DD"}`` dates
    ``expected_next_purchase_date`` from that day (default: the training data's end).
    """

    #: ``segml.tracking.serving`` hands JSON tables straight to :meth:`predict`, which checks
    #: them against the schema itself (MLflow's per-column casts cost ~15 ms a request).
    serves_tables = True

    def __init__(self) -> None:
        self._scorer: Any = None
        self._schema: list[tuple[str, str]] = []
        self._served = False

    @classmethod
    def from_scorer(cls, scorer: Any) -> SegmlModel:
        """A ready model around an in-memory scorer (no MLflow artifact needed)."""
        model = cls()
        model._attach(scorer)
        return model

    def _attach(self, scorer: Any) -> None:
        self._scorer = scorer
        self._schema = [(str(c), str(k)) for c, k in scorer.input_schema]

    def __getstate__(self) -> dict[str, Any]:  # never pickle the scorer twice
        return {"_scorer": None, "_schema": [], "_served": False}

    @classmethod
    def from_state_folder(cls, folder: str | Path, where: str | None = None) -> SegmlModel:
        """A ready model around the scorer rebuilt from a state folder
        (:meth:`segml.scoring.scorer.CustomerScorer.save`)."""
        return cls.from_scorer(_scorer_from_state(folder, where))

    def load_context(self, context: Any) -> None:
        artifacts = context.artifacts
        if SCORER_ARTIFACT in artifacts and not pickles_allowed():
            raise refuse_pickle("the model")
        if STATE_ARTIFACT in artifacts:
            state = Path(artifacts[STATE_ARTIFACT])
            check_served_digest(state)
            self._attach(_scorer_from_state(state))
        else:
            self._attach(_unpickled_scorer(artifacts[SCORER_ARTIFACT]))
        if serving.install():  # inside `mlflow models serve`: quiet errors, fast JSON tables
            self._served = True
            self._warm_up()

    def _warm_up(self) -> None:
        """Score the PII-free example once, with reasons, when the server loads the model: the
        compiled tree walks and the SHAP tables are built before the first request instead of
        during it (1-3 s on a machine that has not cached the compiled code yet)."""
        try:
            self.predict(None, safe_example(self._scorer, n=1), params={"reasons": True})
        except Exception:  # noqa: BLE001 - a failed warm-up must not stop the model loading
            log.warning("segml: warm-up scoring failed; the first request will be slower",
                        exc_info=True)

    @property
    def scorer(self) -> Any:
        return self._scorer

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Score ``model_input`` (one row per customer); ``params={"reasons": bool}``."""
        if self._scorer is None:
            raise MlflowException("SegmlModel has no scorer: load it through MLflow")
        reasons = as_bool((params or {}).get("reasons", False), "reasons")
        as_of = as_date((params or {}).get("as_of"))
        features = validate_input(
            model_input, self._schema,
            strings_as_category=not getattr(self._scorer, "accepts_string_columns", False))
        try:
            dated = {"as_of": as_of} if as_of is not None else {}  # stand-in scorers lack it
            scored = self._scorer.score(features, reasons=reasons, **dated)
        except SegmlError as exc:  # bad values the scorer found: a 4xx naming them, not a 500
            raise invalid_input(str(exc)) from None
        except (OverflowError, pd.errors.OutOfBoundsDatetime, pd.errors.OutOfBoundsTimedelta):
            # Finite days that still overflow a date (pandas ends in 2262): name the column.
            raise invalid_input(f"column '{DATE_OFFSET_COLUMN}' (or param 'as_of'): the expected next "
                           "purchase date falls outside the dates pandas can hold (1677-2262)"
                           ) from None
        out = serialise_output(scored.reset_index(drop=True))
        # The server writes the answer with json.dump, which spells a missing value NaN (not
        # JSON): inside it, missing values (a churn probability outside the churn population,
        # no expected purchase date) go out as null.
        return json_nulls(out) if getattr(self, "_served", False) else out


def _scorer_from_state(folder: str | Path, where: str | None = None) -> Any:
    from segml.scoring.scorer import CustomerScorer

    return CustomerScorer.load(folder, where)


def _unpickled_scorer(path: str | Path, where: str = "the model") -> Any:
    """A scorer that is not segml's, pickled by value: refused unless :func:`pickles_allowed`;
    a segml scorer pickled by a release before the state format is refused in any case (its
    classes have moved since)."""
    data = Path(path).read_bytes()
    if not all(name in data for name in _PICKLED_SEGML) and not pickles_allowed():
        raise refuse_pickle(where)
    if all(name in data for name in _PICKLED_SEGML):
        raise SegmlError([Problem(
            "this model was registered by a segml release before model state format "
            f"{STATE_FORMAT_VERSION} (a pickled scorer), which this segml does not load: train "
            "it again (segml train, then segml promote --version N), or serve it with the segml "
            "release that registered it", key="model")])
    return cloudpickle.loads(data)


# ---------------------------------------------------------------------------------- logging
def input_signature_schema(input_schema: Sequence[tuple[str, str]]) -> Schema:
    """MLflow input schema from the scorer's ``(column, kind)`` pairs.

    Examples
    --------
    >>> input_signature_schema([("customer_id", "string"), ("age", "double")]).input_names()
    ['customer_id', 'age']
    """
    specs = []
    for name, kind in input_schema:
        if kind not in KINDS:
            raise ValueError(f"scorer input_schema: unknown kind {kind!r} for column {name!r}")
        specs.append(ColSpec(KINDS[kind], name))
    return Schema(specs)


def default_requirements() -> list[str]:
    """Pinned versions of what the composite needs, as installed here (segml included)."""
    reqs = []
    for name in ("segml", *REQUIREMENTS):
        try:
            reqs.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return reqs


def _infer_columns(frame: pd.DataFrame) -> list[ColSpec]:
    import warnings

    from mlflow.models import infer_signature

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        return list(infer_signature(frame).inputs.inputs)


def build_signature(scorer: Any, example: pd.DataFrame) -> ModelSignature:
    """Input from ``scorer.input_schema``; output inferred from scoring ``example``."""
    model = SegmlModel.from_scorer(scorer)
    plain = model.predict(None, example)
    output = _infer_columns(plain)
    specs = list(output)
    try:
        with_reasons = model.predict(None, example, params={"reasons": True})
        extra = with_reasons[[c for c in with_reasons.columns if c not in plain.columns]]
        if len(extra.columns):
            specs += [ColSpec(s.type, s.name, required=False)
                      for s in _infer_columns(extra)]
    except Exception:  # noqa: BLE001 - reasons are optional in the output schema
        log.debug("no reasons output for the signature", exc_info=True)
    params = ParamSchema([ParamSpec("reasons", "boolean", False), ParamSpec("as_of", "string", "")])
    return ModelSignature(inputs=input_signature_schema(model._schema), outputs=Schema(specs),
                          params=params)


def safe_example(scorer: Any, n: int = 3) -> pd.DataFrame:
    """``scorer.example_input(n)`` restricted to the schema columns (nothing else can leak).

    Category columns become strings: MLflow's schema enforcement rejects the category dtype for
    ``string`` columns (so in-process ``pyfunc.predict`` callers must send strings too).
    """
    example = scorer.example_input(n)
    columns = [name for name, _ in scorer.input_schema]
    missing = [c for c in columns if c not in example.columns]
    if missing:
        raise ValueError(f"scorer.example_input() lacks schema column(s) {missing}")
    example = example.loc[:, columns].head(n).reset_index(drop=True)
    for name, kind in scorer.input_schema:  # MLflow's string columns refuse the category dtype
        if KINDS.get(kind) == "string" and isinstance(example[name].dtype, pd.CategoricalDtype):
            example[name] = example[name].astype("str").where(example[name].notna())
    return example


def log_segml_model(
    scorer: Any,
    name: str = "model",
    registered_model_name: str | None = None,
    pip_requirements: list[str] | None = None,
    code_paths: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Any:
    """Log the composite model in the active run (or a new one); returns MLflow's ``ModelInfo``.

    Parameters
    ----------
    scorer : object
        Fitted scorer (see the module docstring). A segml scorer (with ``to_state``) is stored
        as data (:mod:`segml.scoring.state`), rebuilt when the model loads. Any other scorer (a
        test fake, a notebook's) is pickled by value with cloudpickle, so serving only needs
        segml and its dependencies.
    name : str
        Model name inside the run.
    registered_model_name : str, optional
        Also register a new version under this name (no alias is set here).
    pip_requirements : list of str, optional
        Default: the installed versions of segml and its dependencies, which is what
        ``mlflow models serve --env-manager local`` in this environment needs.

    Examples
    --------
    >>> info = log_segml_model(scorer, registered_model_name="segml-customer")  # doctest: +SKIP
    >>> info.model_uri  # doctest: +SKIP
    'models:/m-...'
    """
    example = safe_example(scorer)
    signature = build_signature(scorer, example)
    metadata = {"segml_columns": [c for c, _ in scorer.input_schema], **(metadata or {})}
    with tempfile.TemporaryDirectory() as tmp:
        if hasattr(scorer, "to_state"):
            state = scorer.save(Path(tmp) / "state")
            artifacts = {STATE_ARTIFACT: str(state)}
            metadata[DIGEST_KEY] = state_digest(state)  # checked before every load
        else:
            artifacts = {SCORER_ARTIFACT: str(_pickle_by_value(scorer, Path(tmp) / "scorer.pkl"))}
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(MODEL_CODE),  # models from code: MLflow pickles nothing itself
            artifacts=artifacts,
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements or default_requirements(),
            code_paths=code_paths,
            registered_model_name=registered_model_name,
            metadata=metadata,
        )


def _pickle_by_value(scorer: Any, path: Path) -> Path:
    import sys

    module = sys.modules.get(type(scorer).__module__)
    by_value = (module is not None and module.__name__ != "__main__"
                and not module.__name__.split(".")[0] == "segml")
    if by_value:
        cloudpickle.register_pickle_by_value(module)
    try:
        path.write_bytes(cloudpickle.dumps(scorer))
    finally:
        if by_value:
            cloudpickle.unregister_pickle_by_value(module)
    return path


def load_scorer(model_uri: str, tracking: Any = None) -> Any:
    """The fitted scorer inside a logged composite (e.g. ``models:/segml-customer@champion``).

    ``tracking`` is a TrackingConfig, a SegmlConfig, an URI or None (see ``resolve_tracking_uri``).

    A registered model is untrusted input: segml reads it as data and runs none of its code
    (MLflow's own loader would execute the model's code file and unpickle a ``scorer``). The
    checks of :func:`segml.tracking.model_files.checked_state` (plain-YAML ``MLmodel``, the
    state inside the model folder and matching its recorded digests) come first, then
    :mod:`segml.scoring.state` rebuilds the scorer; any failure is one
    :class:`~segml.errors.SegmlError` naming the model and the artifact.
    """
    from segml.tracking.store import model_store

    with model_store(model_uri, tracking) as uri, tempfile.TemporaryDirectory() as tmp:
        state = checked_state(model_uri, uri, Path(tmp))
        if state is not None:
            return _scorer_from_state(state, model_uri)
        loaded = mlflow.pyfunc.load_model(model_uri)  # a fake or notebook scorer, opted in
    model = loaded.unwrap_python_model()
    if not isinstance(model, SegmlModel):
        raise TypeError(f"{model_uri} is not a segml composite model")
    return model.scorer
