"""Cutoffs, windows and the customers known at a cutoff (docs/cutoffs.md).

Time conventions used by every feature and label module:

* a cutoff is a :class:`pandas.Timestamp`; features use rows with ``timestamp <= cutoff`` and a
  label window of ``h`` days is ``(cutoff, cutoff + h days]``;
* a trailing window of ``w`` days is ``(cutoff - w days, cutoff]``;
* durations are fractional days ``(later - earlier) / 1 day``;
* the data end is the end of the last day that has a transaction (or event):
  ``23:59:59.999999999`` of that day, the same convention as a configured ``time.cutoff``.

Customer ids are hashed once per table into integer positions in ``tables.customers``
(:func:`row_positions`, cached); every aggregate is then a vectorised ``np.bincount`` /
``reduceat`` over those positions, so ids are never converted (string ids keep their leading
zeros, ints stay ints) and the output index is the customers' own id column.

Each target's training, evaluation and refit cutoffs are placed by :mod:`segml.features.plan`.

Example
-------
>>> end_of_day("2025-12-31 10:00")
Timestamp('2025-12-31 23:59:59.999999999')
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from segml.data.columns import arrow_text
from segml.errors import DataError, Problem

if TYPE_CHECKING:
    from segml.data.contract import Tables

log = logging.getLogger(__name__)

DAY = pd.Timedelta(days=1)
DAY_NS = 86_400_000_000_000
_END_OF_DAY = DAY - pd.Timedelta(1, "ns")


# ------------------------------------------------------------------------------------ cutoffs
def as_cutoff(value: object) -> pd.Timestamp:
    """A cutoff as a naive ``Timestamp`` (dates mean their midnight, as pandas reads them).

    Examples
    --------
    >>> as_cutoff("2024-03-01")
    Timestamp('2024-03-01 00:00:00')
    """
    if value is None:
        raise DataError([Problem("a cutoff is required in behavioural mode", key="time.cutoff")])
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.as_unit("ns")


def end_of_day(value: object) -> pd.Timestamp:
    """The last nanosecond of the day ``value`` falls on.

    Examples
    --------
    >>> end_of_day("2024-03-01 10:00")
    Timestamp('2024-03-01 23:59:59.999999999')
    """
    return as_cutoff(value).normalize() + _END_OF_DAY


def data_end(tables: Tables) -> pd.Timestamp:
    """End of the day of the last transaction (or, without transactions, the last event).

    Raises
    ------
    DataError
        When there is no transaction nor event to take the date from (attributes mode).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> tx = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-02-03 08:00"])})
    >>> data_end(SimpleNamespace(transactions=tx, events=None))
    Timestamp('2024-02-03 23:59:59.999999999')
    """
    for name in ("transactions", "events"):
        frame = getattr(tables, name, None)
        if frame is not None and len(frame):
            return end_of_day(frame["timestamp"].max())
    raise DataError([Problem("no transactions or events: the data end is undefined",
                             table="transactions", column="timestamp")])


def data_start(tables: Tables) -> pd.Timestamp | None:
    """The first transaction (or event) timestamp, ``None`` without any.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> tx = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-05", "2024-02-03"])})
    >>> data_start(SimpleNamespace(transactions=tx, events=None))
    Timestamp('2024-01-05 00:00:00')
    """
    starts = [f["timestamp"].min() for f in (getattr(tables, "transactions", None),
                                             getattr(tables, "events", None))
              if f is not None and len(f)]
    return min(starts) if starts else None


# ---------------------------------------------------------------------------------- DuckDB glue
def to_ns(ts: pd.Timestamp) -> int:
    """Nanoseconds since the epoch (the unit every time comparison here uses)."""
    return int(as_cutoff(ts).value)


_CACHE: dict[tuple[str, int, int], tuple[weakref.ref, weakref.ref, int, object]] = {}
#: Guards _CACHE: the transaction and event features of one matrix are built side by side.
_CACHE_LOCK = threading.Lock()
#: One lock per cached value: a thread asking for a value another is computing waits for it.
_KEY_LOCKS: dict[tuple[str, int, int], threading.Lock] = {}


def cached(name: str, customers: pd.DataFrame, frame: pd.DataFrame, compute):
    """``compute()`` memoised for the lifetime of the two frames (canonical tables are never
    modified in place), so features and labels at several cutoffs share the id hashing and
    sorting work."""
    key = (name, id(customers), id(frame))

    def hit() -> tuple[bool, object]:
        with _CACHE_LOCK:
            found = _CACHE.get(key)
        valid = (found is not None and found[0]() is customers and found[1]() is frame
                 and found[2] == len(frame))
        return valid, found[3] if valid else None

    valid, value = hit()
    if valid:
        return value
    with _CACHE_LOCK:
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:
        valid, value = hit()
        if not valid:
            value = compute()
            store(name, customers, frame, value)
    return value


def store(name: str, customers: pd.DataFrame, frame: pd.DataFrame, value: object) -> None:
    """Put ``value`` in the cache of :func:`cached` (dropping entries of collected frames)."""
    with _CACHE_LOCK:
        for stale in [k for k, v in _CACHE.items() if v[0]() is None or v[1]() is None]:
            del _CACHE[stale]
            _KEY_LOCKS.pop(stale, None)
        _CACHE[(name, id(customers), id(frame))] = (weakref.ref(customers), weakref.ref(frame),
                                                    len(frame), value)


def compact(index: np.ndarray, limit: int) -> np.ndarray:
    """``index`` (row numbers, customer positions or keys below ``limit``) as int32 when every
    value fits: the per-row arrays cached beside a million customers' tables take half the
    memory (``np.bincount`` reads int32 about 30% slower, far less than the cache saves).

    Example
    -------
    >>> compact(np.array([0, 5, -1]), 6).dtype, compact(np.array([0, 2**31]), 2**32).dtype
    (dtype('int32'), dtype('int64'))
    """
    return index.astype(index_dtype(limit), copy=False)


def index_dtype(limit: int) -> type:
    """int32 when every index below ``limit`` fits, else int64 (see :func:`compact`)."""
    return np.int32 if limit < 2**31 else np.int64


def release(customers: pd.DataFrame) -> int:
    """Drop every value cached for the tables of ``customers`` (the caches are rebuilt when
    asked for again); returns how many. A run calls it once its feature matrices are built:
    at a million customers the caches hold about 2.5 GiB the scoring stages do not need.

    Example
    -------
    >>> cust, rows = pd.DataFrame({"customer_id": ["a"]}), pd.DataFrame({"customer_id": ["a"]})
    >>> _ = row_positions(cust, rows)
    >>> release(cust)
    1
    """
    with _CACHE_LOCK:
        mine = [k for k, v in _CACHE.items() if v[0]() is customers]
        for key in mine:
            del _CACHE[key]
            _KEY_LOCKS.pop(key, None)
    return len(mine)


def is_among(values: pd.Series, ids: pd.Index) -> np.ndarray:
    """``values.isin(ids)`` as a boolean array. Arrow text on both sides is looked up by Arrow's
    hash (``pyarrow.compute.is_in``): pandas' ``isin`` of Arrow text makes a Python string of
    every value (1.3 s for a million customers, against milliseconds).

    Example
    -------
    >>> is_among(pd.Series(["a", "b", "c"], dtype="str"), pd.Index(["c", "a", "z"], dtype="str")).tolist()
    [True, False, True]
    """
    left, right = arrow_text(values), arrow_text(ids)
    if left is not None and right is not None:
        found = pc.is_in(left, value_set=right.combine_chunks())
        return found.to_numpy(zero_copy_only=False).astype(bool, copy=False)
    return values.isin(ids).to_numpy(dtype=bool)


def _customer_codes(customers: pd.DataFrame, frame: pd.DataFrame) -> np.ndarray | None:
    """The codes of ``frame``'s customer ids when they are held as codes into the customers'
    own ids (:func:`encode_customer_ids`), else None."""
    values = frame["customer_id"]
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return None
    if not values.cat.categories.equals(pd.Index(customers["customer_id"])):
        return None
    return values.array.codes


def _positions(customers: pd.DataFrame, frame: pd.DataFrame) -> np.ndarray:
    """:func:`row_positions` without the cache (a new array)."""
    n = len(customers)
    codes = _customer_codes(customers, frame)
    if codes is not None:
        return codes.astype(index_dtype(n))
    keys, values = arrow_text(customers["customer_id"]), arrow_text(frame["customer_id"])
    if keys is not None and values is not None:
        found = pc.index_in(values, value_set=keys.combine_chunks())
        return compact(found.fill_null(-1).to_numpy(), n)
    ids = pd.concat([customers["customer_id"], frame["customer_id"]], ignore_index=True)
    codes, _ = pd.factorize(ids)
    pos = compact(codes[n:], n).copy()
    pos[pos >= n] = -1
    return pos


def row_positions(customers: pd.DataFrame, frame: pd.DataFrame) -> np.ndarray:
    """Per row of ``frame``, the position of its customer in ``customers`` (-1: unknown).

    One hash pass over the ids (Arrow ``index_in`` for Arrow strings, else ``pd.factorize`` of
    both columns: customers come first and are unique, so their codes are their positions);
    ids held as codes into the customers' ids (:func:`encode_customer_ids`) are their
    positions already (a read-only view, no copy). Cached for the lifetime of the two frames.

    Examples
    --------
    >>> cust = pd.DataFrame({"customer_id": ["07", "03"]})
    >>> row_positions(cust, pd.DataFrame({"customer_id": ["03", "03", "07", "09"]})).tolist()
    [1, 1, 0, -1]
    """

    def compute() -> np.ndarray:
        codes = _customer_codes(customers, frame)
        if codes is not None and codes.dtype == index_dtype(len(customers)):
            pos = codes.view()  # the column's own codes: read-only here, not copied
        else:
            pos = _positions(customers, frame)
        pos.flags.writeable = False
        return pos

    return cached("positions", customers, frame, compute)


def encode_customer_ids(tables: Tables) -> Tables:
    """``tables`` with the customer ids of transactions and events held as codes into the
    customers' own ids (a pandas ``Categorical`` whose categories are ``customers.customer_id``).

    The values read the same (``==``, ``isin``, ``astype(str)``); a row of an unknown customer
    (warned about when the tables were loaded, and read by no feature or label) holds a missing
    id. Every feature and label finds its customers through :func:`row_positions`, which reads
    the codes as they are. A training run encodes its tables once they are fingerprinted: at a
    million customers the text ids of 54M transaction and event rows take 0.8 GiB, their codes
    0.2 GiB, and those codes are the positions the run would otherwise cache beside the text.

    Example
    -------
    >>> from segml.data.contract import Tables
    >>> cust = pd.DataFrame({"customer_id": ["07", "03"]})
    >>> tx = pd.DataFrame({"customer_id": ["03", "09", "07"], "amount": [1.0, 2.0, 3.0]})
    >>> coded = encode_customer_ids(Tables(cust, tx))
    >>> coded.transactions["customer_id"].array.codes.tolist(), row_positions(cust, coded.transactions).tolist()
    ([1, -1, 0], [1, -1, 0])
    """
    customers = tables.customers
    dtype = pd.CategoricalDtype(pd.Index(customers["customer_id"]))
    coded = {}
    for name in ("transactions", "events"):
        frame = getattr(tables, name)
        if frame is None or _customer_codes(customers, frame) is not None:
            continue
        codes = pd.Categorical.from_codes(_positions(customers, frame), dtype=dtype)
        coded[name] = frame.assign(customer_id=codes)
    return replace(tables, **coded) if coded else tables


_NEVER = np.iinfo(np.int64).max


def first_row_times(customers: pd.DataFrame, frame: pd.DataFrame) -> np.ndarray:
    """Per customer row, the epoch-ns time of their first row in ``frame`` (int64 max: none).

    Cached for the lifetime of the two frames: whether a customer has a row by a cutoff is then
    one comparison per customer at every cutoff, not a pass over every row of ``frame``.
    """

    def compute() -> np.ndarray:
        pos = row_positions(customers, frame)
        ts = frame["timestamp"].to_numpy().astype("datetime64[ns]").view(np.int64)
        keep = (pos >= 0) & (ts != np.iinfo(np.int64).min)  # NaT is never "at or before"
        first = np.full(len(customers), _NEVER, dtype=np.int64)
        np.minimum.at(first, pos[keep], ts[keep])
        first.flags.writeable = False
        return first

    return cached("first_rows", customers, frame, compute)


def any_rows_until(customers: pd.DataFrame, frame: pd.DataFrame | None,
                   cutoff: pd.Timestamp) -> np.ndarray:
    """Boolean per customer row: has at least one row in ``frame`` at or before ``cutoff``.

    Example
    -------
    >>> cust = pd.DataFrame({"customer_id": ["a", "b", "c"]})
    >>> rows = pd.DataFrame({"customer_id": ["b", "b", "z"],
    ...                      "timestamp": pd.to_datetime(["2024-03-02", "2024-02-01", "2024-01-01"])})
    >>> any_rows_until(cust, rows, pd.Timestamp("2024-02-15")).tolist()
    [False, True, False]
    """
    n = len(customers)
    if frame is None or not len(frame):
        return np.zeros(n, dtype=bool)
    return first_row_times(customers, frame) <= to_ns(cutoff)


def time_order(ts: np.ndarray) -> np.ndarray:
    """Stable argsort of int64 times (ties keep their order).

    Fast path: one unstable argsort of unique ``(second, index)`` keys (about twice as fast as
    a stable sort), kept when it also sorts the nanoseconds (always for whole seconds).

    Examples
    --------
    >>> time_order(np.array([5, 1, 5, 0])).tolist()
    [3, 1, 0, 2]
    """
    n = len(ts)
    if 0 < n < 2**25:
        sec = (ts - ts.min()) // 1_000_000_000
        if sec.max() < 2**38:
            order = np.argsort((sec << 25) | np.arange(n))
            if (np.diff(ts[order]) >= 0).all():
                return order
    return np.argsort(ts, kind="stable")


@dataclass(frozen=True)
class TimeSorted:
    """The rows of a table with a known customer, sorted by time: the rows at or before a cutoff
    are the first :meth:`upto` ones and a trailing window is a slice (no mask, no copy).

    Attributes
    ----------
    rows : ndarray of intp
        Row numbers in the frame, by time (ties in row order).
    ts : ndarray of int64
        Their epoch-ns times (ascending).
    pos : ndarray of intp
        Their customer positions.
    """

    rows: np.ndarray
    ts: np.ndarray
    pos: np.ndarray

    def upto(self, ns: int) -> int:
        """Number of rows with a time at or before ``ns`` (epoch nanoseconds)."""
        return int(np.searchsorted(self.ts, ns, side="right"))


def by_time(customers: pd.DataFrame, frame: pd.DataFrame) -> TimeSorted:
    """:class:`TimeSorted` rows of ``frame`` (cached for the lifetime of the two frames).

    Examples
    --------
    >>> cust = pd.DataFrame({"customer_id": ["a", "b"]})
    >>> ev = pd.DataFrame({"customer_id": ["b", "a", "z"],
    ...                    "timestamp": pd.to_datetime(["2024-02-01", "2024-01-01", "2023-01-01"])})
    >>> rows = by_time(cust, ev)
    >>> rows.rows.tolist(), rows.pos.tolist(), rows.upto(to_ns(pd.Timestamp("2024-01-15")))
    ([1, 0], [0, 1], 1)
    """

    def compute() -> TimeSorted:
        pos = row_positions(customers, frame)
        rows = np.flatnonzero(pos >= 0)
        ts = frame["timestamp"].to_numpy().astype("datetime64[ns]").view(np.int64)[rows]
        order = time_order(ts)
        rows = compact(rows[order], len(frame))
        return TimeSorted(rows, ts[order], pos[rows])

    return cached("by_time", customers, frame, compute)


def days_since_first(customers: pd.DataFrame, frame: pd.DataFrame, c: int) -> np.ndarray:
    """Per customer row, days from their first row in ``frame`` to ``c`` (epoch ns; NaN: no row
    at or before it). The first times are cached for the lifetime of the frames.

    Examples
    --------
    >>> cust = pd.DataFrame({"customer_id": ["a", "b"]})
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...                    "timestamp": pd.to_datetime(["2024-01-03", "2024-01-01", "2024-03-01"])})
    >>> days_since_first(cust, tx, to_ns(pd.Timestamp("2024-01-11"))).tolist()
    [10.0, nan]
    """
    first = first_row_times(customers, frame)
    return np.where(first <= c, (c - first) / DAY_NS, np.nan)


def known_at(tables: Tables, cutoff: pd.Timestamp) -> np.ndarray:
    """Boolean mask over ``tables.customers`` rows: customers known at ``cutoff``.

    A customer is known when their signup date is at or before the cutoff, or (signup unknown or
    later) when they have any transaction or event at or before it.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> cust = pd.DataFrame({"customer_id": [1, 2, 3],
    ...                      "signup_date": pd.to_datetime(["2024-01-01", "2024-05-01", None])})
    >>> tx = pd.DataFrame({"customer_id": [3], "timestamp": pd.to_datetime(["2024-02-01"])})
    >>> known_at(SimpleNamespace(customers=cust, transactions=tx, events=None),
    ...          pd.Timestamp("2024-03-01")).tolist()
    [True, False, True]
    """
    customers = tables.customers
    known = np.zeros(len(customers), dtype=bool)
    if "signup_date" in customers.columns:
        known |= (customers["signup_date"] <= cutoff).to_numpy(dtype=bool, na_value=False)
    for frame in (tables.transactions, tables.events):
        known |= any_rows_until(customers, frame, cutoff)
    return known
