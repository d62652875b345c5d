"""Checking one scoring request against the composite model's input schema.

:func:`validate_input` is what stands between a request and the scorer, in ``mlflow models
serve`` and in ``pyfunc.predict`` alike. Every refusal is an
:class:`~mlflow.exceptions.MlflowException` with ``INVALID_PARAMETER_VALUE`` (HTTP 400) naming
the column and, where it helps, the row positions, and **never a value of the request**: the
message goes back to the caller and into the server's log.

Refused: an empty table, missing or duplicated schema columns, text in a number column,
fractions in a whole-number column, infinities and values beyond +/-1e15 (overflows: the
features' sums and scalings would not stay finite; ``INFINITE_OK`` columns may be infinite), lists or objects inside a cell (MLflow's own
route turns them into text and scores them), and anything that is not a boolean in a boolean
column.

Example
-------
>>> import pandas as pd
>>> validate_input(pd.DataFrame({"x": ["1.5"]}), [("x", "double")]).dtypes["x"]
dtype('float64')
>>> validate_input(pd.DataFrame({"x": [1e308]}), [("x", "double")])
Traceback (most recent call last):
...
mlflow.exceptions.MlflowException: column 'x': 1 value(s) infinite or beyond +/-1e+15 (an overflow), at row(s) [0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

KINDS = {"string": "string", "category": "string", "double": "double", "long": "long",
         "boolean": "boolean"}
TRUE_WORDS = {"true", "1", "yes", "y", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "f", ""}
#: Numbers beyond this are overflows (the same bound the data contract puts on amounts).
MAX_ABS_VALUE = 1e15
#: Columns where infinity is a meaning, not an overflow: BG/NBD's expected days to the next
#: purchase of a customer who will never buy again.
INFINITE_OK = ("btyd_expected_next_purchase_days",)
#: What ``pandas.api.types.infer_dtype`` says of a column holding only scalars.
_SCALAR_KINDS = {"string", "empty", "integer", "floating", "mixed-integer-float", "decimal",
                 "boolean", "datetime", "date", "timedelta", "categorical", "bytes"}


def invalid_input(message: str) -> MlflowException:
    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise invalid_input(f"param '{name}' must be a boolean (true or false)")  # the value: never echoed


def as_date(value: Any) -> pd.Timestamp | None:
    """The ``as_of`` parameter: the date scores are made at (dates the next purchase).

    A day (``YYYY-MM-DD`` text, optionally with a time, as the Spark engine passes its cutoff;
    a date or a timestamp) that a nanosecond timestamp holds:
    ``9999-12-31`` would date the next purchase in the year 10000, ``now`` is not a date.

    Examples
    --------
    >>> str(as_date("2024-05-01").date())
    '2024-05-01'
    >>> as_date("9999-12-31")
    Traceback (most recent call last):
    ...
    mlflow.exceptions.MlflowException: parameter 'as_of' must be a date (YYYY-MM-DD) between 1677-09-22 and 2262-04-10
    """
    import datetime as dt
    import re

    if value is None or value == "":
        return None
    message = ("parameter 'as_of' must be a date (YYYY-MM-DD) between "
               f"{(pd.Timestamp.min + pd.Timedelta(days=1)).date()} and "
               f"{(pd.Timestamp.max - pd.Timedelta(days=1)).date()}")
    iso = r"\s*\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?\s*"
    if isinstance(value, str) and not re.fullmatch(iso, value):
        raise invalid_input(message)
    if not isinstance(value, str | dt.date | np.datetime64):
        raise invalid_input(message)
    try:
        day = pd.Timestamp(value)
        if pd.isna(day) or day.tzinfo is not None:
            raise ValueError
        day = day.as_unit("ns")
    except (TypeError, ValueError, OverflowError):  # OutOfBoundsDatetime is a ValueError
        raise invalid_input(message) from None
    if not (pd.Timestamp.min + pd.Timedelta(days=1) <= day <= pd.Timestamp.max - pd.Timedelta(days=1)):
        raise invalid_input(message)
    return day


def _rows(mask: Any, limit: int = 3) -> str:
    """Row positions (never values) for a message: ``[0, 4, 9]`` or ``[0, 4, 9, ...]``."""
    positions = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(str(int(i)) for i in positions[:limit])
    return f"[{shown}{', ...' if len(positions) > limit else ''}]"


def _no_nested(column: pd.Series, name: str) -> None:
    """Refuse lists, dicts and other containers inside the cells of ``column``."""
    if column.dtype != object or pd.api.types.infer_dtype(column, skipna=True) in _SCALAR_KINDS:
        return
    nested = column.map(lambda v: isinstance(v, list | tuple | dict | set | np.ndarray))
    if nested.any():
        raise invalid_input(f"column '{name}' must hold one value per row; row(s) {_rows(nested)} "
                       "hold a list or an object")


def _no_infinity(column: pd.Series, name: str) -> None:
    """Refuse an infinite number in a text column (JSON's ``Infinity`` literal would become the
    category ``'inf'``); NaN stays a missing value."""
    if pd.api.types.is_float_dtype(column.dtype):
        bad = np.isinf(column.to_numpy(dtype="float64", na_value=np.nan))
    elif column.dtype == object:
        bad = column.map(lambda v: isinstance(v, float) and np.isinf(v)).to_numpy(dtype=bool)
    else:
        return
    if bad.any():
        raise invalid_input(f"column '{name}' holds text; {int(bad.sum())} value(s) are an infinite "
                            f"number, at row(s) {_rows(bad)}")


def _bounded(values: np.ndarray, name: str) -> None:
    """Refuse infinities and overflows in a float column (NaN is a missing value: allowed)."""
    with np.errstate(invalid="ignore"):
        bad = np.abs(values) > MAX_ABS_VALUE
    if name in INFINITE_OK:
        bad &= ~np.isinf(values)
    if bad.any():
        raise invalid_input(f"column '{name}': {int(bad.sum())} value(s) infinite or beyond "
                       f"+/-{MAX_ABS_VALUE:.0e} (an overflow), at row(s) {_rows(bad)}")


def _all_bounded(frame: pd.DataFrame, names: list[str]) -> bool:
    """Whether the float64 columns ``names`` of ``frame`` pass :func:`_bounded` (one block)."""
    values = frame.take(frame.columns.get_indexer(names), axis=1).to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = np.abs(values) > MAX_ABS_VALUE
    if not bad.any():
        return True
    allowed = np.isin(names, INFINITE_OK)
    return not (bad & ~(np.isinf(values) & allowed)).any()


def validate_input(model_input: Any, schema: Sequence[tuple[str, str]],
                   strings_as_category: bool = True) -> pd.DataFrame:
    """Check and coerce one request to the scorer's input schema.

    Returns a frame with exactly the schema's columns in schema order: numbers as float64
    (``long`` as int64 when complete), booleans as bool, strings as ``category`` (``customer_id``
    is left as given; with ``strings_as_category=False`` string columns stay strings, values of
    other dtypes become strings). Columns that already have their type are not copied: a
    request whose columns all match costs a dtype and a bounds check, not a conversion per
    column. Raises ``MlflowException(INVALID_PARAMETER_VALUE)`` naming the column.

    Examples
    --------
    >>> validate_input(pd.DataFrame({"x": ["abc"]}), [("x", "double")])
    Traceback (most recent call last):
    ...
    mlflow.exceptions.MlflowException: column 'x' must be numeric (double); 1 value(s) are not, at row(s) [0]
    """
    if isinstance(model_input, dict | list):
        try:
            model_input = pd.DataFrame(model_input)
        except (ValueError, TypeError):
            raise invalid_input("input cannot be read as a table: send one row per customer with "
                           "the columns of the model's signature") from None
    if not isinstance(model_input, pd.DataFrame):
        raise invalid_input(f"input must be a DataFrame, got {type(model_input).__name__}")
    if len(model_input) == 0:
        raise invalid_input("input has no rows: send at least one customer")
    index = model_input.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        model_input = model_input.reset_index(drop=True)
    names = [name for name, _ in schema]
    present = set(model_input.columns)
    missing = [name for name in names if name not in present]
    if missing:
        raise invalid_input(f"missing required column(s) {missing}; expected columns {names}")
    if not model_input.columns.is_unique:
        # Only the schema's own names are quoted: any other column name came from the request.
        duplicated = sorted({str(c) for c in model_input.columns[model_input.columns.duplicated()]
                             if c in set(names)})
        raise invalid_input(f"duplicated column(s) {duplicated}" if duplicated
                       else "duplicated column names (columns outside the signature)")
    dtypes = dict(zip(model_input.columns, model_input.dtypes, strict=True))
    # The common case, float64 double columns (no copy), bounds-checked as one block: a column
    # at a time cost ~20 us each, most of a one-customer request. Where the block has a bad
    # value the loop below checks column by column, so the error is the one it always named.
    plain = [name for name, kind in schema if kind == "double" and dtypes[name] == np.float64]
    checked = set(plain) if plain and _all_bounded(model_input, plain) else set()
    converted = {}
    for name, kind in schema:
        if kind not in KINDS:
            raise ValueError(f"scorer input_schema: unknown kind {kind!r} for column {name!r}")
        if name in checked:
            continue
        dtype = dtypes[name]
        if kind == "double" and dtype == np.float64:  # the common case: no copy
            _bounded(model_input[name].to_numpy(), name)
            continue
        column = model_input[name]
        _no_nested(column, name)
        if kind in ("string", "category"):
            _no_infinity(column, name)
        if name == "customer_id" and kind == "string" and pd.api.types.is_numeric_dtype(dtype):
            converted[name] = column.astype("str")  # as MLflow's schema would
            continue
        if kind not in ("double", "long", "boolean") and (
            name == "customer_id" or isinstance(dtype, pd.CategoricalDtype)
            or (isinstance(dtype, pd.StringDtype) and not strings_as_category)
        ):
            continue
        if kind in ("double", "long"):
            converted[name] = _numeric(column, name, kind)
        elif kind == "boolean":
            converted[name] = _boolean(column, name)
        elif isinstance(dtype, pd.StringDtype):
            converted[name] = column.astype("category")
        else:
            text = column.astype("str").where(column.notna())
            converted[name] = text.astype("category") if strings_as_category else text
    if list(model_input.columns) == names:
        frame = model_input.copy(deep=False)  # copy-on-write: the caller's frame stays as is
    else:
        frame = model_input.loc[:, names]
    for name, values in converted.items():
        frame[name] = values
    return frame


def _numeric(column: pd.Series, name: str, kind: str) -> pd.Series:
    if column.dtype == bool or pd.api.types.is_bool_dtype(column.dtype):
        values = column.astype("float64")
    elif pd.api.types.is_numeric_dtype(column.dtype):
        values = column.astype("float64")
    else:
        values = pd.to_numeric(column, errors="coerce").astype("float64")
        bad = values.isna() & column.notna() & (column.astype("str").str.strip() != "")
        if bad.any():
            raise invalid_input(f"column '{name}' must be numeric ({kind}); {int(bad.sum())} value(s) "
                           f"are not, at row(s) {_rows(bad)}")
    _bounded(values.to_numpy(), name)
    if kind == "long":
        finite = values.dropna()
        if (finite != np.round(finite)).any():
            raise invalid_input(f"column '{name}' must hold whole numbers (long)")
        if not values.isna().any():
            values = values.astype("int64")
    return values


def _boolean(column: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.astype(bool)
    text = column.astype("str").str.strip().str.lower()
    ok = text.isin(TRUE_WORDS | FALSE_WORDS) & column.notna()
    if not ok.all():
        raise invalid_input(f"column '{name}' must be boolean (true/false); {int((~ok).sum())} "
                       f"value(s) are not, at row(s) {_rows(~ok)}")
    return text.isin(TRUE_WORDS)
