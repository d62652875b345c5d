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
import stat
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from segml.errors import DataError, Problem

TABLE_NAMES = ("customers", "transactions", "events")
_SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz")


def find_table_file(data_dir: str | os.PathLike[str], table: str) -> Path | None:
    """The file holding ``table`` in a folder of the ``segml generate`` layout, if any: a file
    (``transactions.parquet``, ``.csv``, ...) or a folder of Parquet part files
    (``transactions.parquet/`` or ``transactions/``, what Spark writes)."""
    folder = Path(data_dir)
    for suffix in _SUFFIXES:
        candidate = folder / f"{table}{suffix}"
        if candidate.is_file():
            return candidate
    for candidate in (folder / f"{table}.parquet", folder / table):
        if _parts(candidate):
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


def _parts(folder: Path) -> list[Path]:
    """The Parquet part files of a table folder (Spark's ``_SUCCESS`` and ``.crc`` files aside)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.parquet") if p.is_file()
                  and not p.name.startswith(("_", ".")))


def read_table(
    path: str | os.PathLike[str], *, table: str, string_columns: Iterable[str] = ()
) -> pd.DataFrame:
    """Read a CSV or Parquet file.

    ``string_columns`` (identifiers) are read as text from CSV so that ids such as ``00017`` keep
    their leading zeros; Parquet keeps the types it stores.
    """
    file = Path(path)
    name = file.name.lower()
    parts = _parts(file)
    if not file.is_file() and not parts:
        what = "folder holds no .parquet part files" if file.is_dir() else "file not found"
        raise DataError([Problem(message=what, file=str(file), table=table)])
    try:
        if parts:  # a folder of part files: one table (their schemas must agree)
            return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
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
    except (OSError, ValueError, EOFError, zlib.error, pd.errors.ParserError) as exc:
        # EOFError and zlib.error: a truncated or damaged .csv.gz
        detail = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise DataError(
            [Problem(message=f"cannot read: {detail}", file=str(file), table=table)]
        ) from None
    raise DataError(
        [
            Problem(
                message="unsupported file type (use .parquet or .csv)", file=str(file), table=table
            )
        ]
    )


_UMASK_LOCK = threading.Lock()


def _new_file_mode(target: Path) -> int:
    """The mode ``open(target, "w")`` would leave: the existing file's, else 0666 less the
    umask (a temporary file is created 0600, which would hide the output from its group)."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        with _UMASK_LOCK:  # the umask can only be read by setting it
            umask = os.umask(0o022)
            os.umask(umask)
        return 0o666 & ~umask


def replace_atomically(target: str | os.PathLike[str], write: Callable[[str], object]) -> Path:
    """``write(tmp_path)`` into a temporary file beside ``target``, then rename it into place:
    readers never see half an output, and a write that fails, or is interrupted by an exception
    (SIGINT, a SIGTERM turned into one), leaves no temporary file behind.

    Only a regular file is ever replaced: a device (``/dev/null``, ``/dev/full``), a FIFO, a
    folder or a link to one is refused with a :class:`~segml.errors.DataError` naming it,
    before anything is written. The new file gets the mode ``open()`` would give it.
    """
    target = Path(target)
    if os.path.lexists(target):
        try:
            mode = target.stat().st_mode
        except OSError:  # a dangling link: replaced like a missing file
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):
            kind = ("a folder" if stat.S_ISDIR(mode) else "a device" if stat.S_ISCHR(mode)
                    or stat.S_ISBLK(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a socket"
                    if stat.S_ISSOCK(mode) else "not a regular file")
            raise DataError([Problem(f"the output path is {kind}, not a regular file; segml "
                                     "only replaces regular files", file=str(target))])
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = _new_file_mode(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.close(fd)
        write(tmp_name)
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def write_text_atomic(text: str, path: Path) -> Path:
    """``text`` to ``path`` through :func:`replace_atomically` (never half-written)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return replace_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_frame_atomic(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write Parquet or CSV (by suffix) through :func:`replace_atomically`.

    A crash half-way never leaves a truncated output under the final name, nor a temp file.
    """
    target = Path(path)
    suffix = target.name.lower()
    if suffix.endswith((".parquet", ".pq")):
        return replace_atomically(target, lambda tmp: frame.to_parquet(tmp, index=False))
    if suffix.endswith((".csv", ".csv.gz")):
        compression = "gzip" if suffix.endswith(".gz") else None
        return replace_atomically(
            target, lambda tmp: frame.to_csv(tmp, index=False, compression=compression))
    raise DataError([Problem(message="output must end in .parquet or .csv", file=str(target))])


#: Rows hashed at a time by :func:`fingerprint`.
FINGERPRINT_BLOCK_ROWS = 1_000_000


#: Leading rows whose distinct share tells whether a text column is mostly unique.
_UNIQUE_PROBE_ROWS = 4096


def _row_hashes(block: pd.DataFrame) -> np.ndarray:
    """``pd.util.hash_pandas_object(block, index=False)`` as a uint64 array, the same values.

    pandas hashes an Arrow text column through a dictionary of its distinct values, a gain when
    values repeat (customer ids) and a loss of 3x when each row has its own (order ids: the
    dictionary is as long as the column and costs more than hashing the values themselves).
    Mostly-unique Arrow text columns are therefore hashed value by value; every other column
    goes through pandas unchanged.
    """
    columns = [block.iloc[:, i] for i in range(block.shape[1])]
    unique = [_mostly_unique_text(column) for column in columns]
    if not any(unique):
        return pd.util.hash_pandas_object(block, index=False).to_numpy()
    from pandas.core.util.hashing import combine_hash_arrays  # pandas' own way to join columns

    hashes = (_column_hashes(column, value_by_value=flag) for column, flag in zip(columns, unique, strict=True))
    return combine_hash_arrays(hashes, len(columns))


def _mostly_unique_text(column: pd.Series) -> bool:
    """Arrow-backed text whose first rows are mostly distinct (the probe only picks the faster
    of two ways to the same hashes, it never changes them)."""
    dtype = column.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return False
    probe = column.iloc[:_UNIQUE_PROBE_ROWS]
    return len(probe) > 1 and probe.nunique(dropna=False) * 2 > len(probe)


def _column_hashes(column: pd.Series, *, value_by_value: bool) -> np.ndarray:
    """One column's hashes as pandas computes them within ``hash_pandas_object``.

    With ``value_by_value`` (mostly-unique Arrow text) the column is hashed value by value
    (``categorize=False``: the same SipHash of each value's UTF-8 bytes as pandas' dictionary
    path); missing values get the hash that path gives them (the largest uint64).
    """
    if not value_by_value:
        return pd.util.hash_pandas_object(column, index=False).to_numpy()
    hashed = pd.util.hash_array(column.to_numpy(dtype=object), categorize=False)
    missing = column.isna().to_numpy()
    if missing.any():
        hashed[missing] = np.iinfo(np.uint64).max
    return hashed


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
        digest.update(_row_hashes(block).tobytes())
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
