"""Reading tables from CSV/Parquet, writing outputs atomically, fingerprinting data.

Example
-------
>>> import pandas as pd
>>> fp = fingerprint(pd.DataFrame({"customer_id": ["1"], "amount": [2.0]}))
>>> fp["rows"]
1
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from segml.errors import DataError, Problem

TABLE_NAMES = ("customers", "transactions", "events")
_SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz")


def find_table_file(data_dir: str | os.PathLike[str], table: str) -> Path | None:
    """The file holding ``table`` in a folder of the ``segml generate`` layout, if any."""
    folder = Path(data_dir)
    for suffix in _SUFFIXES:
        candidate = folder / f"{table}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def table_file_names(table: str) -> str:
    """The file names :func:`find_table_file` looks for, for messages.

    Example
    -------
    >>> table_file_names("transactions")
    'transactions.parquet, transactions.pq, transactions.csv or transactions.csv.gz'
    """
    names = [f"{table}{suffix}" for suffix in _SUFFIXES]
    return ", ".join(names[:-1]) + " or " + names[-1]


def missing_table_hint(table: str, folder: str | os.PathLike[str] | None) -> str:
    """Where segml looked for ``table`` and what the folder holds instead (an export named
    ``orders.csv`` is one rename, or one ``data.<table>.path``, away)."""
    hint = f"looked for {table_file_names(table)}"
    if folder is not None and Path(folder).is_dir():
        files = sorted(p.name for p in Path(folder).iterdir()
                       if p.is_file() and p.name.lower().endswith(_SUFFIXES))
        shown = ", ".join(files[:10]) + (f" and {len(files) - 10} more" if len(files) > 10 else "")
        hint += f" in {folder}, which holds {shown or 'no table file'}"
    return f"{hint}; rename the file or set data.{table}.path"


def read_table(
    path: str | os.PathLike[str], *, table: str, string_columns: Iterable[str] = ()
) -> pd.DataFrame:
    """Read a CSV or Parquet file.

    ``string_columns`` (identifiers) are read as text from CSV so that ids such as ``00017`` keep
    their leading zeros; Parquet keeps the types it stores.
    """
    file = Path(path)
    name = file.name.lower()
    if not file.is_file():
        raise DataError([Problem(message="file not found", file=str(file), table=table)])
    try:
        if name.endswith((".parquet", ".pq")):
            return pd.read_parquet(file)
        if name.endswith((".csv", ".csv.gz")):
            header = pd.read_csv(file, nrows=0).columns
            dtype = {c: "string" for c in string_columns if c in header}
            frame = pd.read_csv(file, dtype=dtype, keep_default_na=True)
            for column in dtype:
                frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
                frame[column] = frame[column].astype("str")
            return frame
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(
            [Problem(message=f"cannot read: {exc}", file=str(file), table=table)]
        ) from None
    raise DataError(
        [
            Problem(
                message="unsupported file type (use .parquet or .csv)", file=str(file), table=table
            )
        ]
    )


def write_frame_atomic(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write Parquet or CSV (by suffix) to a temporary file, then rename it into place.

    A crash half-way never leaves a truncated output under the final name.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = target.name.lower()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        if suffix.endswith((".parquet", ".pq")):
            frame.to_parquet(tmp_name, index=False)
        elif suffix.endswith((".csv", ".csv.gz")):
            frame.to_csv(tmp_name, index=False)
        else:
            raise DataError([Problem(message="output must end in .parquet or .csv", file=str(target))])
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def write_text_atomic(text: str, path: Path) -> Path:
    """``text`` to ``path`` through a temporary sibling renamed into place (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return path


#: Rows hashed at a time by :func:`fingerprint`.
FINGERPRINT_BLOCK_ROWS = 1_000_000


def fingerprint(frame: pd.DataFrame | None, *, timestamp: str | None = None) -> dict[str, object]:
    """Row count, date range and a content hash of a table (order-sensitive).

    The hash covers values and column names, so two exports that differ in one cell differ here.
    """
    if frame is None:
        return {"rows": 0}
    digest = hashlib.sha256()
    # Row hashes by blocks of rows (each row's hash is its own): hashing a 22M-row table at once
    # turns its text columns into Python strings side by side (a few GiB); the digest is the same.
    for start in range(0, len(frame), FINGERPRINT_BLOCK_ROWS):
        block = frame.iloc[start : start + FINGERPRINT_BLOCK_ROWS]
        digest.update(pd.util.hash_pandas_object(block, index=False).to_numpy().tobytes())
    digest.update("|".join(map(str, frame.columns)).encode())
    result: dict[str, object] = {
        "rows": int(len(frame)),
        "columns": int(frame.shape[1]),
        "sha256": digest.hexdigest()[:16],
    }
    if timestamp is not None and timestamp in frame and len(frame):
        result["min_timestamp"] = str(frame[timestamp].min())
        result["max_timestamp"] = str(frame[timestamp].max())
    return result
