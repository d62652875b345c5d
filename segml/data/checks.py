"""Column-level checks of the data contract: ids, numbers, timestamps, labels, id alignment.

Each check appends :class:`~segml.errors.Problem` objects to a :class:`Collector` (one per table)
instead of raising, so :func:`segml.data.contract.validate_tables` reports every problem at once.

Example
-------
>>> import pandas as pd
>>> out = Collector("transactions", "tx.csv")
>>> numbers(pd.Series(["1.5", "inf"]), "amount", out, "amount").tolist()
[1.5, inf]
>>> print(out.problems[0])
error: file 'tx.csv', table 'transactions', column 'amount': 1 amount(s) infinite or beyond +/-1e+15 (an overflow or a unit error), e.g. 'inf'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segml.data.timestamps import parse_timestamps as read_timestamps
from segml.errors import Problem

_TRUE_WORDS = {"yes", "true", "y", "1", "churned", "t"}
_FALSE_WORDS = {"no", "false", "n", "0", "f"}
#: Amounts, quantities and numeric attributes beyond this are overflows or unit errors: sums and
#: squares of them (features, scaling, PCA) would not stay finite.
MAX_ABS_VALUE = 1e15


class Collector:
    """Accumulates problems for one table so each check stays a short function."""

    def __init__(self, table: str, file: str | None):
        self.table, self.file = table, file
        self.problems: list[Problem] = []

    def error(self, message: str, column: str | None = None) -> None:
        self.problems.append(Problem(message, "error", self.file, self.table, column))

    def warn(self, message: str, column: str | None = None) -> None:
        self.problems.append(Problem(message, "warning", self.file, self.table, column))


def examples(values: pd.Series, n: int = 3) -> str:
    return ", ".join(repr(v) for v in values.drop_duplicates().head(n).tolist())


def parse_timestamps(frame: pd.DataFrame, column: str, out: Collector, *, key: str,
                     fmt: str | None, unit: str | None, required: bool = True,
                     earliest: pd.Timestamp | None = None) -> pd.Series | None:
    """:func:`segml.data.timestamps.parse_timestamps` of ``frame[column]``, problems into ``out``."""
    extra = {} if earliest is None else {"earliest": earliest}
    parsed, problems = read_timestamps(frame[column], table=out.table, column=column, key=key,
                                        file=out.file, fmt=fmt, unit=unit, required=required,
                                        **extra)
    out.problems.extend(problems)
    return parsed


def numbers(raw: pd.Series, column: str, out: Collector, what: str) -> pd.Series:
    """float64 values of a numeric column; text, infinities and overflows are errors."""
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    not_numeric = values.isna() & raw.notna()
    if not_numeric.any():
        out.error(f"{int(not_numeric.sum())} non-numeric {what}(s), e.g. "
                  f"{examples(raw[not_numeric])}", column)
    too_large = ~np.isfinite(values) & values.notna() | (values.abs() > MAX_ABS_VALUE)
    if too_large.any():
        out.error(f"{int(too_large.sum())} {what}(s) infinite or beyond +/-{MAX_ABS_VALUE:.0e} "
                  f"(an overflow or a unit error), e.g. {examples(raw[too_large])}", column)
    return values


def check_ids(frame: pd.DataFrame, column: str, out: Collector, *, unique: bool) -> None:
    ids = frame[column]
    if ids.isna().any():
        out.error(f"{int(ids.isna().sum())} missing customer id(s)", column)
    if unique:
        dup = ids[ids.duplicated(keep=False) & ids.notna()]
        if len(dup):
            out.error(
                f"{dup.nunique()} duplicated customer id(s) ({len(dup)} rows), "
                f"e.g. {examples(dup)}",
                column,
            )


def require_columns(frame: pd.DataFrame, columns: dict[str, str], out: Collector) -> bool:
    """Every column of ``columns`` (role -> name) present; a missing one is a problem that lists
    the columns the table has and the config key naming the column (an export's own names,
    ``order_date`` for ``timestamp``, are one line of config away).

    Example
    -------
    >>> out = Collector("transactions", "orders.csv")
    >>> require_columns(pd.DataFrame(columns=["customer", "order_date", "total"]),
    ...                 {"timestamp": "timestamp"}, out)
    False
    >>> print(out.problems[0])
    error: file 'orders.csv', table 'transactions', column 'timestamp': required column 'timestamp' (timestamp) is missing; the table has customer, order_date, total (set data.transactions.timestamp to the column that holds it)
    """
    missing = [(role, col) for role, col in columns.items() if col not in frame.columns]
    present = [str(c) for c in frame.columns]
    listed = ", ".join(present[:20]) + (f" and {len(present) - 20} more" if len(present) > 20
                                        else "")
    for role, col in missing:
        key = f"data.{out.table}.{role.replace(' ', '_')}"
        out.error(f"required column '{col}' ({role}) is missing; the table has "
                  f"{listed or 'no columns'} (set {key} to the column that holds it)", col)
    return not missing


def check_future(ts: pd.Series, now: pd.Timestamp, column: str, out: Collector) -> None:
    future = ts > now
    if future.any():
        out.error(
            f"{int(future.sum())} timestamp(s) after today ({now.date()}), latest {ts.max()}",
            column,
        )


def binary_label(values: pd.Series, positive: str | None, column: str, out: Collector):
    """0/1 floats from a label column (bool, 0/1, or two values with a known positive)."""
    present = values.dropna()
    levels = pd.unique(present.astype(str).str.strip().str.lower())
    if len(present) == 0 or len(levels) < 2:
        out.error(f"label column is constant ({examples(present) or 'all missing'})", column)
        return None
    if len(levels) > 2:
        out.error(f"label column is not binary: {len(levels)} values, e.g. {examples(present)}", column)
        return None
    text = values.astype(str).str.strip().str.lower()
    if positive is not None:
        if positive.lower() not in levels:
            out.error(f"positive label {positive!r} not among values {sorted(levels)}", column)
            return None
        is_positive = text == positive.lower()
    elif set(levels) <= _TRUE_WORDS | _FALSE_WORDS and len(set(levels) & _TRUE_WORDS) == 1:
        is_positive = text.isin(_TRUE_WORDS)
    else:
        out.error(
            f"cannot tell the positive class among {sorted(levels)}; set "
            "data.customers.positive_label",
            column,
        )
        return None
    return is_positive.astype(float).where(values.notna())


def as_category(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series
    if pd.api.types.is_bool_dtype(series) or not (
        pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series)
    ):
        # LightGBM rejects pandas' `str` dtype: strings become categoricals once, here.
        return series.astype("string").astype("category")
    return series


#: Column names that hold personal data (tokens of the name, lower case, split at ``_``, ``-``,
#: spaces and camelCase): such a column that no config declares is called PII in the note.
_PII_TOKENS = frozenset({"name", "firstname", "lastname", "fullname", "surname", "email", "mail",
                         "phone", "telephone", "mobile", "cellphone", "address", "street", "ssn",
                         "passport", "iban", "dob", "birthdate", "birthday"})
_EMAIL = r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"
_PHONE = r"\+?[\d\s().\-/]{7,20}"


def looks_like_pii(name: str, values: pd.Series, sample: int = 1000) -> str | None:
    """Why a column looks like personal data (its name, or text values that are e-mail addresses
    or phone numbers in more than half of a sample), or None.

    Examples
    --------
    >>> looks_like_pii("contactEmail", pd.Series(["x"]))
    "its name ('contactEmail')"
    >>> looks_like_pii("notes", pd.Series(["ann@example.com", "bo@example.org", None]))
    'e-mail addresses'
    >>> looks_like_pii("ref", pd.Series(["+1-555-0100", "(555) 010-0200"]))
    'phone numbers'
    >>> looks_like_pii("plan", pd.Series(["basic", "pro"])) is None
    True
    >>> looks_like_pii("since", pd.Series(["2024-01-31", "2024-02-29"])) is None
    True
    """
    import re

    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name)).lower()
    tokens = [t for t in re.split(r"[^a-z0-9]+", words) if t]
    if any(t in _PII_TOKENS for t in tokens) or "".join(tokens) in _PII_TOKENS:
        return f"its name ({name!r})"
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return None
    text = values.dropna()
    text = text.iloc[:sample].astype(str).str.strip()
    if text.empty:
        return None
    if text.str.fullmatch(_EMAIL).mean() > 0.5:
        return "e-mail addresses"
    # A phone number: 7+ digits with a "+" or a separator; not a date nor a number written as text.
    phone = (text.str.fullmatch(_PHONE) & (text.str.count(r"\d") >= 7)
             & text.str.contains(r"^\+|[\s().\-/]") & ~text.str.fullmatch(r"\d{4}-\d{2}-\d{2}.*")
             & pd.to_numeric(text, errors="coerce").isna())
    if phone.mean() > 0.5:
        return "phone numbers"
    return None


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)


def _known_ids(values: pd.Series, ids: pd.Series) -> np.ndarray:
    """``values.isin(ids)`` as a boolean array; Arrow strings through Arrow's hash set (pandas'
    own ``isin`` on them builds a Python list of the ids: 2.5 s at 200k customers and 4M rows)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow" and (
            isinstance(ids.dtype, pd.StringDtype) and ids.dtype.storage == "pyarrow"):
        import pyarrow.compute as pc

        found = pc.is_in(values.array.__arrow_array__(),
                         value_set=ids.array.__arrow_array__().combine_chunks())
        return found.fill_null(False).to_numpy(zero_copy_only=False)
    return values.isin(ids).to_numpy()


def align_ids(customers: pd.DataFrame, other: pd.DataFrame, table: str, file: str | None):
    """Give ``other.customer_id`` the customers' dtype; warn about unknown customers.

    An id that cannot have the customers' type (``'abc'`` or ``2.5`` where the customers' ids are
    integers) is an error: it cannot belong to any customer, and dropping it would lose rows.
    """
    ids = customers["customer_id"]
    theirs = other["customer_id"]
    if theirs.dtype != ids.dtype:
        if pd.api.types.is_numeric_dtype(ids):
            values = pd.to_numeric(theirs, errors="coerce")
            if pd.api.types.is_integer_dtype(ids):
                values = values.where(values == values.round())
            wrong = values.isna() & theirs.notna()
            if wrong.any():
                return [Problem(
                    f"{int(wrong.sum())} row(s) with customer ids that cannot match the customers' "
                    f"numeric ids, e.g. {examples(theirs[wrong])}", "error", file, table,
                    "customer_id")], None
            other["customer_id"] = values.astype(ids.dtype)
        else:
            if pd.api.types.is_float_dtype(theirs) and (theirs.dropna() % 1 == 0).all():
                theirs = theirs.astype("Int64")  # 7.0 from a float column is customer "7"
            other["customer_id"] = theirs.astype(str).astype(ids.dtype)
    unknown = ~_known_ids(other["customer_id"], ids)
    if unknown.any():
        mistyped = _padding_lost(customers["customer_id"], other.loc[unknown, "customer_id"],
                                 retyped=theirs.dtype != ids.dtype)
        if mistyped is not None:
            return [Problem(mistyped, "error", file, table, "customer_id")], None
        if unknown.all():  # nothing would be left: a wrong table or wrongly typed ids, not orphans
            return [Problem(
                f"none of the {len(other):,} row(s) belongs to a customer of the customers table "
                f"(ids such as {examples(other['customer_id'])} here, "
                f"{examples(customers['customer_id'])} there): wrong file, or ids written "
                "differently in the two tables", "error", file, table, "customer_id")], None
        return [
            Problem(
                f"{int(unknown.sum())} row(s) of {other.loc[unknown, 'customer_id'].nunique()} "
                "customer(s) absent from the customers table (ignored)",
                "warning",
                file,
                table,
                "customer_id",
            )
        ], other.loc[~unknown].reset_index(drop=True)
    return [], other


def _padding_lost(ids: pd.Series, unknown: pd.Series, retyped: bool) -> str | None:
    """A message when unknown ids match customers' ids but for leading zeros (``17`` vs
    ``00017``): one table stored them as numbers, which dropped the zeros; else None."""
    if not retyped and not pd.api.types.is_string_dtype(ids):
        return None
    text_ids = ids.dropna().astype(str)
    padded = text_ids[text_ids.str.match(r"^0+\d", na=False)]
    if padded.empty:
        return None
    stripped = set(padded.str.lstrip("0"))
    # 17, 17.0 (a float column, or its text in a CSV) and "17" all lost the zeros of "00017"
    lost = unknown.dropna().astype(str).str.replace(r"\.0+$", "", regex=True).str.lstrip("0")
    hits = lost.isin(stripped)
    if not hits.any():
        return None
    return (f"{int(hits.sum())} row(s) with customer ids that match the customers' ids only without "
            f"their leading zeros (e.g. {examples(unknown.dropna()[hits.to_numpy()])} here, "
            f"{examples(padded)} in customers): the ids were stored as numbers in one table and "
            "as text in the other; export them as text in both")
