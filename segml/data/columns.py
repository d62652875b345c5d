"""Vectorised text columns: integer codes and numbers to Arrow strings (for the generator), and
the Arrow array behind a pandas text column (for the code that reads ids without making Python
strings).

Building 20M ids or category labels through Python strings takes minutes; writing the digits as
bytes into one buffer and wrapping it as an Arrow array takes a second.

Example
-------
>>> padded("C", np.array([7, 42]), 4).to_pylist()
['C0007', 'C0042']
>>> strings(pa.array(["web", "app"]), np.array([1, -1, 0])).tolist()
['app', nan, 'web']
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def arrow_text(values: pd.Series | pd.Index, complete: bool = False
               ) -> pa.Array | pa.ChunkedArray | None:
    """The Arrow array behind ``values``, a pandas text column or index held by Arrow (``str``,
    ``string[pyarrow]``), else None.

    ``complete``: one array (chunks combined), and None where a value is missing (for readers of
    the raw buffers, which do not look at the validity bitmap).

    Example
    -------
    >>> arrow_text(pd.Series(["a", "b"], dtype="string[pyarrow]")).to_pylist()
    ['a', 'b']
    >>> arrow_text(pd.Series(["a", None], dtype="string[pyarrow]"), complete=True) is None
    True
    >>> arrow_text(pd.Series(["a", "b"], dtype=object)) is None
    True
    """
    dtype = getattr(values, "dtype", None)
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return None
    array = values.array.__arrow_array__()
    if not complete:
        return array
    if array.null_count:
        return None
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def strings(values: pa.Array, codes: np.ndarray) -> pd.Series:
    """``values[codes]`` as a pandas ``str`` Series (codes < 0 become missing)."""
    mask = codes < 0
    taken = pc.take(values, pa.array(np.where(mask, 0, codes), mask=mask if mask.any() else None))
    return taken.to_pandas()


def draw_codes(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One categorical draw per row from ``probs[rows]`` (inverse CDF, loop over categories)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(rows))
    codes = np.zeros(len(rows), dtype=np.int8)
    for j in range(probs.shape[1] - 1):
        codes += u > cum[rows, j]
    return codes


def with_missing(rng: np.random.Generator, codes: np.ndarray, share: float) -> np.ndarray:
    if share <= 0:
        return codes
    return np.where(rng.random(len(codes)) < share, -1, codes).astype(np.int16)


def as_arrow(buf: np.ndarray) -> pa.Array:
    """Rows of a fixed-width ``uint8`` matrix as an Arrow string array (no copy of the bytes)."""
    rows, size = buf.shape
    offsets = np.arange(0, (rows + 1) * size, size, dtype=np.int64)
    data = np.ascontiguousarray(buf)
    return pa.Array.from_buffers(
        pa.large_string(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    ).cast(pa.string())


def digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers as a ``(n, width)`` byte matrix."""
    out = np.empty((width, len(numbers)), dtype=np.uint8)
    rest = np.asarray(numbers, dtype=np.uint64)
    for pos in range(width - 1, -1, -1):
        quotient = rest // 10
        out[pos] = rest - quotient * 10
        rest = quotient
    return (out + 48).T


def padded(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix + zero-padded number`` strings, e.g. ``padded("M", [2], 1)`` -> ``M2``."""
    numbers = np.asarray(numbers, dtype=np.int64)
    width = max(width, len(str(int(numbers.max()))) if len(numbers) else 1)
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    buf = np.empty((len(numbers), len(head) + width), dtype=np.uint8)
    buf[:, : len(head)] = head
    buf[:, len(head) :] = digits(numbers, width)
    return as_arrow(buf)


def sequence(prefix: str, n: int, width: int) -> pa.Array:
    """``prefix`` + ``1..n`` zero-padded: low 4 digits tiled, high digits repeated (fast at 20M)."""
    width = max(width, len(str(n)), 5)
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    blocks = n // 10_000 + 1
    buf = np.empty((blocks * 10_000, len(head) + width), dtype=np.uint8)
    buf[:, : len(head)] = head
    buf[:, len(head) : -4] = np.repeat(digits(np.arange(blocks), width - 4), 10_000, axis=0)
    buf[:, -4:] = np.tile(digits(np.arange(10_000), 4), (blocks, 1))
    return as_arrow(buf[1 : n + 1])
