"""The data contract (SPEC section 1): map user columns to roles, validate, canonicalise.

:func:`validate_tables` collects *every* problem before anything is raised, so a user fixes their
export once. :func:`load_tables` is the entry point used by the pipeline; it drops PII columns at
load time, so nothing downstream can use, profile or log them.

Example
-------
>>> import pandas as pd
>>> from segml.config import SegmlConfig
>>> customers = pd.DataFrame({"customer_id": ["001", "002"], "age": [30, 40]})
>>> tx = pd.DataFrame({"customer_id": ["001"], "timestamp": ["2024-01-02"], "amount": [9.5]})
>>> tables = load_tables(SegmlConfig(), customers=customers, transactions=tx)
>>> tables.customers["customer_id"].tolist()
['001', '002']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from segml.config import ATTRIBUTE_ROLES, SegmlConfig
from segml.data.io import find_table_file, read_table
from segml.errors import DataError, Problem

_TX_OPTIONAL = ("order_id", "quantity", "category", "product_id", "channel")
_TRUE_WORDS = {"yes", "true", "y", "1", "churned", "t"}
_FALSE_WORDS = {"no", "false", "n", "0", "f"}


@dataclass
class Tables:
    """Validated tables with canonical column names (see ``docs/dev/interfaces.md``)."""

    customers: pd.DataFrame
    transactions: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    attribute_roles: dict[str, list[str]] = field(default_factory=dict)
    label_columns: dict[str, str] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        """``behavioural`` when transactions exist, else ``attributes``."""
        return "behavioural" if self.transactions is not None else "attributes"

    @property
    def attribute_columns(self) -> list[str]:
        return [c for cols in self.attribute_roles.values() for c in cols]


# --------------------------------------------------------------------------------- validation
class _Collector:
    """Accumulates problems for one table so each check stays a short function."""

    def __init__(self, table: str, file: str | None):
        self.table, self.file = table, file
        self.problems: list[Problem] = []

    def error(self, message: str, column: str | None = None) -> None:
        self.problems.append(Problem(message, "error", self.file, self.table, column))

    def warn(self, message: str, column: str | None = None) -> None:
        self.problems.append(Problem(message, "warning", self.file, self.table, column))


def _examples(values: pd.Series, n: int = 3) -> str:
    return ", ".join(repr(v) for v in values.drop_duplicates().head(n).tolist())


def _parse_timestamps(frame: pd.DataFrame, column: str, out: _Collector) -> pd.Series | None:
    raw = frame[column]
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    else:
        parsed = pd.to_datetime(raw, errors="coerce", format="mixed", utc=True)
        parsed = parsed.dt.tz_localize(None)
    bad = parsed.isna() & raw.notna()
    if bad.any():
        out.error(
            f"{int(bad.sum())} unparseable timestamp(s), e.g. {_examples(raw[bad])}", column
        )
        return None
    return parsed.astype("datetime64[ns]")


def _check_ids(frame: pd.DataFrame, column: str, out: _Collector, *, unique: bool) -> None:
    ids = frame[column]
    if ids.isna().any():
        out.error(f"{int(ids.isna().sum())} missing customer id(s)", column)
    if unique:
        dup = ids[ids.duplicated(keep=False) & ids.notna()]
        if len(dup):
            out.error(
                f"{dup.nunique()} duplicated customer id(s) ({len(dup)} rows), "
                f"e.g. {_examples(dup)}",
                column,
            )


def _require_columns(frame: pd.DataFrame, columns: dict[str, str], out: _Collector) -> bool:
    missing = [(role, col) for role, col in columns.items() if col not in frame.columns]
    for role, col in missing:
        out.error(f"required column '{col}' ({role}) is missing", col)
    return not missing


def _check_future(ts: pd.Series, now: pd.Timestamp, column: str, out: _Collector) -> None:
    future = ts > now
    if future.any():
        out.error(
            f"{int(future.sum())} timestamp(s) after today ({now.date()}), latest {ts.max()}",
            column,
        )


def _binary_label(values: pd.Series, positive: str | None, column: str, out: _Collector):
    """0/1 floats from a label column (bool, 0/1, or two values with a known positive)."""
    present = values.dropna()
    levels = pd.unique(present.astype(str).str.strip().str.lower())
    if len(present) == 0 or len(levels) < 2:
        out.error(f"label column is constant ({_examples(present) or 'all missing'})", column)
        return None
    if len(levels) > 2:
        out.error(f"label column is not binary: {len(levels)} values, e.g. {_examples(present)}", column)
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


def _as_category(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series
    if pd.api.types.is_bool_dtype(series) or not (
        pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series)
    ):
        # LightGBM rejects pandas' `str` dtype: strings become categoricals once, here.
        return series.astype("string").astype("category")
    return series


def _validate_customers(raw: pd.DataFrame, cfg: SegmlConfig, file: str | None, mode: str):
    spec = cfg.data.customers
    out = _Collector("customers", file)
    if raw.empty:
        out.error("required table is empty")
        return None, out.problems, {}, {}
    if not _require_columns(raw, {"customer id": spec.customer_id}, out):
        return None, out.problems, {}, {}
    _check_ids(raw, spec.customer_id, out, unique=True)
    frame = pd.DataFrame({"customer_id": raw[spec.customer_id]})
    declared = spec.model_fields_set
    if spec.signup_date:
        if spec.signup_date in raw.columns:
            parsed = _parse_timestamps(raw, spec.signup_date, out)
            if parsed is not None:
                frame["signup_date"] = parsed
        elif "signup_date" in declared:
            out.error(f"declared column '{spec.signup_date}' (signup date) does not exist", spec.signup_date)
    for pii in spec.pii:
        if pii not in raw.columns:
            out.warn(f"declared PII column '{pii}' does not exist", pii)
    roles: dict[str, list[str]] = {}
    pii = set(spec.pii)
    for role in ATTRIBUTE_ROLES:
        for column in spec.attributes.get(role, []):
            if column in pii:
                out.error(f"column '{column}' is declared both PII and {role} attribute", column)
            elif column not in raw.columns:
                report = out.error if "attributes" in declared else out.warn
                report(f"declared {role} attribute '{column}' does not exist", column)
            else:
                frame[column] = _as_category(raw[column])
                roles.setdefault(role, []).append(column)
    labels: dict[str, str] = {}
    for target, column in spec.labels.items():
        if column not in raw.columns:
            out.error(f"declared label column '{column}' ({target}) does not exist", column)
            continue
        values = _binary_label(raw[column], spec.positive_label, column, out)
        if values is not None:
            frame[f"label_{target}"] = values.to_numpy()
            labels[target] = column
    if mode == "attributes" and not spec.labels:
        out.error(
            "attributes mode needs at least one label column (data.customers.labels), "
            "or provide a transactions table"
        )
    return (frame if not _has_errors(out.problems) else None), out.problems, roles, labels


def _validate_transactions(raw: pd.DataFrame, cfg: SegmlConfig, file: str | None, now,
                           partition: bool = False):
    spec = cfg.data.transactions
    out = _Collector("transactions", file)
    if raw.empty and not partition:
        out.error("required table is empty")
        return None, out.problems
    required = {"customer id": spec.customer_id, "timestamp": spec.timestamp, "amount": spec.amount}
    if not _require_columns(raw, required, out):
        return None, out.problems
    _check_ids(raw, spec.customer_id, out, unique=False)
    frame = pd.DataFrame({"customer_id": raw[spec.customer_id]})
    ts = _parse_timestamps(raw, spec.timestamp, out)
    if ts is not None:
        _check_future(ts, now, spec.timestamp, out)
        frame["timestamp"] = ts
    amount = pd.to_numeric(raw[spec.amount], errors="coerce")
    not_numeric = amount.isna() & raw[spec.amount].notna()
    if not_numeric.any():
        out.error(
            f"{int(not_numeric.sum())} non-numeric amount(s), e.g. {_examples(raw[spec.amount][not_numeric])}",
            spec.amount,
        )
    elif raw[spec.amount].isna().any():
        out.error(f"{int(raw[spec.amount].isna().sum())} missing (NaN) amount(s)", spec.amount)
    frame["amount"] = amount.astype("float64")
    declared = spec.model_fields_set
    for role in _TX_OPTIONAL:
        column = getattr(spec, role)
        if column is None:
            continue
        if column not in raw.columns:
            if role in declared:
                out.error(f"declared column '{column}' ({role}) does not exist", column)
            continue
        values = raw[column]
        if role == "quantity":
            values = pd.to_numeric(values, errors="coerce").astype("float64")
        elif role in ("category", "channel"):
            values = _as_category(values)
        frame[role] = values
    return (frame if not _has_errors(out.problems) else None), out.problems


def _validate_events(raw: pd.DataFrame, cfg: SegmlConfig, file: str | None, now,
                     partition: bool = False):
    spec = cfg.data.events
    out = _Collector("events", file)
    if raw.empty and not partition:
        out.warn("events table is empty; engagement features are skipped")
        return None, out.problems
    required = {"customer id": spec.customer_id, "timestamp": spec.timestamp, "event type": spec.event_type}
    if not _require_columns(raw, required, out):
        return None, out.problems
    _check_ids(raw, spec.customer_id, out, unique=False)
    ts = _parse_timestamps(raw, spec.timestamp, out)
    frame = pd.DataFrame({"customer_id": raw[spec.customer_id]})
    if ts is not None:
        _check_future(ts, now, spec.timestamp, out)
        frame["timestamp"] = ts
    frame["event_type"] = _as_category(raw[spec.event_type])
    return (frame if not _has_errors(out.problems) else None), out.problems


def _has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)


def _align_ids(customers: pd.DataFrame, other: pd.DataFrame, table: str, file: str | None):
    """Give ``other.customer_id`` the customers' dtype; warn about unknown customers."""
    ids = customers["customer_id"]
    if other["customer_id"].dtype != ids.dtype:
        if pd.api.types.is_numeric_dtype(ids) and pd.api.types.is_numeric_dtype(other["customer_id"]):
            other["customer_id"] = other["customer_id"].astype(ids.dtype)
        else:
            other["customer_id"] = other["customer_id"].astype(str).astype(ids.dtype)
    unknown = ~other["customer_id"].isin(ids)
    if unknown.any():
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


# ------------------------------------------------------------------------------------ loading
def resolve_sources(config: SegmlConfig, data_dir: str | None = None) -> dict[str, str | None]:
    """The file for each table: explicit ``path`` first, else the data folder's file."""
    folder = data_dir or config.data.dir
    sources: dict[str, str | None] = {}
    for table in ("customers", "transactions", "events"):
        spec = getattr(config.data, table)
        if spec is None:
            sources[table] = None
        elif spec.path:
            sources[table] = spec.path
        elif folder:
            found = find_table_file(folder, table)
            sources[table] = str(found) if found else None
        else:
            sources[table] = None
    return sources


def read_raw_tables(config: SegmlConfig, data_dir: str | None = None) -> dict[str, pd.DataFrame | None]:
    """Read each configured table from disk (no validation yet)."""
    sources = resolve_sources(config, data_dir)
    if sources["customers"] is None:
        where = data_dir or config.data.dir or "<config>"
        raise DataError(
            [Problem("no customers table found (customers.parquet or customers.csv)", file=where, table="customers")]
        )
    id_columns = {
        table: [getattr(config.data, table).customer_id]
        for table in sources
        if getattr(config.data, table) is not None
    }
    return {
        table: read_table(path, table=table, string_columns=id_columns[table]) if path else None
        for table, path in sources.items()
    } | {"_sources": sources}  # type: ignore[dict-item]


def validate_tables(
    config: SegmlConfig,
    customers: pd.DataFrame,
    transactions: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    *,
    sources: dict[str, str | None] | None = None,
    partition: bool = False,
) -> tuple[Tables | None, list[Problem]]:
    """Check every rule of the data contract; return canonical tables (or None) and all problems.

    ``partition=True``: the tables hold one partition of the customers of larger tables (the
    Spark engine), so an empty transactions or events table is valid and kept, empty.
    """
    sources = sources or {}
    now = pd.Timestamp(config.data.now or date.today()) + pd.Timedelta(days=1)
    mode = config.data.mode
    if mode == "auto":
        mode = "behavioural" if transactions is not None else "attributes"
    if mode == "behavioural" and transactions is None:
        return None, [Problem("behavioural mode needs a transactions table", table="transactions")]
    cust, problems, roles, labels = _validate_customers(customers, config, sources.get("customers"), mode)
    tx = ev = None
    if transactions is not None and config.data.transactions is not None:
        tx, found = _validate_transactions(transactions, config, sources.get("transactions"), now,
                                           partition)
        problems += found
    if events is not None and config.data.events is not None:
        ev, found = _validate_events(events, config, sources.get("events"), now, partition)
        problems += found
    if _has_errors(problems) or cust is None:
        return None, problems
    if tx is not None:
        found, tx = _align_ids(cust, tx, "transactions", sources.get("transactions"))
        problems += found
    if ev is not None:
        found, ev = _align_ids(cust, ev, "events", sources.get("events"))
        problems += found
    tables = Tables(
        customers=cust.reset_index(drop=True),
        transactions=tx,
        events=ev,
        attribute_roles=roles,
        label_columns=labels,
        warnings=[p for p in problems if p.severity == "warning"],
        sources={k: v for k, v in sources.items() if v},
    )
    return tables, problems


def load_tables(
    config: SegmlConfig | None = None,
    *,
    data_dir: str | Path | None = None,
    customers: pd.DataFrame | None = None,
    transactions: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
) -> Tables:
    """Load and validate the tables from files (config/``data_dir``) or DataFrames.

    Raises
    ------
    DataError
        With every blocking problem (each naming file, table, column and value).
    """
    config = config or SegmlConfig()
    sources: dict[str, str | None] = {}
    if customers is None:
        raw = read_raw_tables(config, str(data_dir) if data_dir else None)
        sources = raw.pop("_sources")  # type: ignore[assignment]
        customers, transactions, events = raw["customers"], raw["transactions"], raw["events"]
    tables, problems = validate_tables(
        config, customers, transactions, events, sources=sources  # type: ignore[arg-type]
    )
    if tables is None:
        raise DataError([p for p in problems if p.severity == "error"] or problems)
    return tables
