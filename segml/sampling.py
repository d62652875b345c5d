"""Seeded samples that keep every stratum's share (labels x cutoffs, at any scale).

Two kinds of random keys order the rows inside a stratum:

* positions (``seed`` only): a seeded generator draws one key per row, so the sample depends on
  the rows' order. Fine where the rows already sit in one process (a predictor's training rows);
* customer ids (``ids`` and a ``context``): :func:`hash_keys`, a seeded hash of each id's text,
  so the sample depends on who the customers are, not where their rows sit. Spark computes the
  same keys with the same function on its executors, so a sample drawn there selects exactly the
  customers a single-machine run selects (docs/spark.md, "Training on Spark").

Example
-------
>>> import numpy as np
>>> stratified_sample(4, np.array([0, 0, 1, 1, 1, 1, 1, 1]), seed=0).size
4
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from segml.data.columns import arrow_text


def hash_keys(ids: pd.Series | pd.Index | np.ndarray, seed: int, context: str = "") -> np.ndarray:
    """A seeded pseudo-random int64 key per customer id, independent of row order.

    The key hashes the text of ``context`` and the id (SipHash, keyed by ``seed``), so the same
    customer gets independent keys in different contexts (one cutoff's block and another's) and
    the same key on every engine and machine.

    Examples
    --------
    >>> a = hash_keys(pd.Series(["a", "b"]), seed=0, context="2024-01-31")
    >>> bool((hash_keys(pd.Series(["b", "a"]), 0, "2024-01-31")[::-1] == a).all())
    True
    >>> bool((hash_keys(pd.Series(["a", "b"]), 0, "2024-02-29") == a).any())
    False
    """
    text = arrow_text(ids, complete=True)
    if text is not None:  # Arrow text without missing ids: hashed in place, the same keys
        return _siphash_arrow(text, seed, (context + "|") if context else "")
    return _hash_texts(np.asarray(ids, dtype=object), seed, context)


def _siphash_arrow(text: Any, seed: int, prefix: str) -> np.ndarray:
    """:func:`_siphash` of ``prefix + value`` for each value of the Arrow text array ``text``,
    read from its buffers: no Python string is made. At a million ids the object path made
    a few hundred MB of Python strings per draw, whose memory the process kept (measured:
    +1.3 GiB held after the draws of a 1M training run's first target); this gives the same
    keys (tests/test_sampling_keys.py compares them with pandas' on every kind of text)."""
    global _SIPHASH_ROWS
    if _SIPHASH_ROWS is None:
        from numba import njit

        try:  # numba's on-disk cache, or none where it finds no writable place
            _SIPHASH_ROWS = njit(cache=True)(_siphash_rows)
        except RuntimeError:  # pragma: no cover
            _SIPHASH_ROWS = njit(_siphash_rows)
    offsets_type = np.int64 if pa.types.is_large_string(text.type) else np.int32
    buffers = text.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offsets_type)[text.offset:text.offset + len(text) + 1]
    data = (np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None
            else np.zeros(0, dtype=np.uint8))
    key = _hash_key(seed).encode("utf8")
    out = np.empty(len(text), dtype=np.uint64)
    _SIPHASH_ROWS(data, offsets.astype(np.int64), np.frombuffer(prefix.encode("utf8"), np.uint8),
                  np.uint64(int.from_bytes(key[:8], "little")),
                  np.uint64(int.from_bytes(key[8:], "little")), out)
    return out.view(np.int64)


_SIPHASH_ROWS = None  # the compiled kernel, made on first use (numba's cache keeps it on disk)


def _siphash_rows(data, offsets, prefix, k0, k1, out):  # pragma: no cover - compiled
    """SipHash-2-4 of ``prefix + data[offsets[i]:offsets[i + 1]]`` per row, then pandas' final
    mix of every hash (``pd.util.hash_array``), into ``out``: pandas' keys bit for bit.

    The message is read as little-endian 8-byte words, the last one padded with the length in
    its top byte; each word gets two rounds, the finalisation four (one round body below)."""
    p = prefix.size
    for i in range(offsets.size - 1):
        start = offsets[i]
        total = p + offsets[i + 1] - start
        v0 = np.uint64(0x736F6D6570736575) ^ k0
        v1 = np.uint64(0x646F72616E646F6D) ^ k1
        v2 = np.uint64(0x6C7967656E657261) ^ k0
        v3 = np.uint64(0x7465646279746573) ^ k1
        n_words = total // 8 + 1
        for w in range(n_words + 1):
            word = np.uint64(0)
            rounds = 4
            if w < n_words:
                stop = min(8 * w + 8, total)
                for j in range(8 * w, stop):
                    byte = prefix[j] if j < p else data[start + j - p]
                    word |= np.uint64(byte) << np.uint64(8 * (j - 8 * w))
                if w == n_words - 1:
                    word |= np.uint64(total & 0xFF) << np.uint64(56)
                v3 ^= word
                rounds = 2
            else:
                v2 ^= np.uint64(0xFF)
            for _ in range(rounds):
                v0 += v1
                v1 = ((v1 << np.uint64(13)) | (v1 >> np.uint64(51))) ^ v0
                v0 = (v0 << np.uint64(32)) | (v0 >> np.uint64(32))
                v2 += v3
                v3 = ((v3 << np.uint64(16)) | (v3 >> np.uint64(48))) ^ v2
                v0 += v3
                v3 = ((v3 << np.uint64(21)) | (v3 >> np.uint64(43))) ^ v0
                v2 += v1
                v1 = ((v1 << np.uint64(17)) | (v1 >> np.uint64(47))) ^ v2
                v2 = (v2 << np.uint64(32)) | (v2 >> np.uint64(32))
            if w < n_words:
                v0 ^= word
        h = v0 ^ v1 ^ v2 ^ v3
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
        out[i] = h


def _hash_texts(ids: np.ndarray, seed: int, context: str | np.ndarray) -> np.ndarray:
    """:func:`hash_keys` of object ``ids`` in ``context`` (one, or one per row)."""
    if pd.api.types.infer_dtype(ids, skipna=False) != "string":
        return _hash_any(ids, seed, context)
    # Ids that are all Python text already (the common case) are joined to their context as
    # they are: the same strings as _hash_any makes, without a round trip through an Arrow
    # text column and back to Python objects, and one join per row.
    if isinstance(context, str):
        text = ids if not context else (context + "|") + ids
    else:
        text = _prefixes(np.asarray(context, dtype=object)) + ids
    return _siphash(text, seed)


def _prefixes(context: np.ndarray) -> np.ndarray:
    """Each row's ``context + "|"`` ("" for no context), made once per run of equal contexts
    (a stack's rows come block by block, one cutoff each)."""
    if context.size == 0:
        return context
    starts = np.flatnonzero(np.r_[True, context[1:] != context[:-1]])
    made = np.array([value + "|" if value else "" for value in context[starts]], dtype=object)
    return np.repeat(made, np.diff(np.r_[starts, context.size]))


def _hash_any(ids: np.ndarray, seed: int, context: str | np.ndarray) -> np.ndarray:
    """:func:`hash_keys` of any ids (ints, missing ids, ...): pandas' text of each (a missing
    id stays missing), one context at a time."""
    if not isinstance(context, str):
        keys = np.empty(ids.size, dtype=np.int64)
        for value in pd.unique(context):
            rows = context == value
            keys[rows] = _hash_texts(ids[rows], seed, value)
        return keys
    text = pd.Series(ids).astype(str)
    if context:
        text = context + "|" + text
    return _siphash(np.asarray(text.to_numpy(), dtype=object), seed)


def _hash_key(seed: int) -> str:
    """The 16-character SipHash key of ``seed``."""
    return f"segml{seed:011d}"[-16:]


def _siphash(text: np.ndarray, seed: int) -> np.ndarray:
    """SipHash of each text's UTF-8 bytes, keyed by ``seed``, as int64."""
    hashed = pd.util.hash_array(text, hash_key=_hash_key(seed), categorize=False)
    return hashed.view(np.int64)


def sample_context(role: str, cutoff: object) -> str:
    """The context of a customer's key in one draw: ``role`` ("stack", "evaluation",
    "discovery") and the cutoff, so a customer's keys at two cutoffs are independent.

    Example
    -------
    >>> sample_context("stack", pd.Timestamp("2024-01-31 23:59:59"))
    'stack 2024-01-31T23:59:59'
    """
    return f"{role} {pd.Timestamp(cutoff).isoformat()}"


def discovery_rows(ids: pd.Index | pd.Series | np.ndarray, max_rows: int | None, seed: int,
                   cutoff: object = None) -> np.ndarray:
    """Sorted positions of the customers segment discovery is fitted on: every one when there
    are at most ``max_rows`` (or ``max_rows`` is None), else the ``max_rows`` with the smallest
    :func:`hash_keys` of their ids in the ``"discovery"`` context of ``cutoff``. The keys depend
    on who the customers are, not on their order, so Spark picks the same customers
    (docs/segments.md, "Discovery on a sample").

    Example
    -------
    >>> ids = np.array([f"c{i}" for i in range(10)])
    >>> rows = discovery_rows(ids, 4, seed=0, cutoff="2024-01-31")
    >>> rows.size, sorted(ids[rows]) == sorted(ids[::-1][discovery_rows(ids[::-1], 4, 0,
    ...                                                                  "2024-01-31")])
    (4, True)
    >>> discovery_rows(ids, None, seed=0).size
    10
    """
    n = len(ids)
    if max_rows is None or n <= max_rows:
        return np.arange(n)
    keys = hash_keys(ids, seed, sample_context("discovery", cutoff))
    # a stable argsort: equal keys (never seen for distinct ids) would keep the table's order
    return np.sort(np.argsort(keys, kind="stable")[:max_rows])


def quotas(counts: np.ndarray, n_max: int) -> np.ndarray:
    """Rows to take from each stratum (``counts`` rows each, in stratum order) so that the
    ``n_max`` taken keep every stratum's share: largest-remainder rounding.

    Example
    -------
    >>> quotas(np.array([900, 100]), 100).tolist()
    [90, 10]
    """
    counts = np.asarray(counts, dtype=np.int64)
    exact = counts * (n_max / counts.sum())
    quota = np.floor(exact).astype(np.int64)
    short = n_max - int(quota.sum())
    quota[np.argsort(quota - exact, kind="stable")[:short]] += 1  # largest remainders first
    return quota


def stratified_sample(n_max: int, strata: np.ndarray, seed: int,
                      ids: pd.Series | pd.Index | np.ndarray | None = None,
                      context: str | np.ndarray = "", keys: np.ndarray | None = None
                      ) -> np.ndarray:
    """Sorted positions of a seeded sample of ``min(n_max, len(strata))`` rows, stratified.

    Every stratum keeps its share of the rows (largest-remainder rounding, :func:`quotas`), so
    the label rate and the share of each stacked cutoff are those of all rows. Within a stratum
    the rows with the smallest random keys are taken: by position (``ids`` None), or by
    :func:`hash_keys` of ``ids`` in ``context`` (one context, or one per row), the same keys on
    Spark; or by ``keys`` given (such hashes, made block by block by the caller).

    Example
    -------
    >>> strata = np.repeat([0, 1], [900, 100])
    >>> keep = stratified_sample(100, strata, seed=0)
    >>> keep.size, int((strata[keep] == 1).sum())
    (100, 10)
    >>> ids = np.array([f"c{i}" for i in range(1000)])
    >>> by_id = stratified_sample(100, strata, 0, ids=ids, context="x")
    >>> shuffled = np.random.default_rng(1).permutation(1000)  # the same rows in another order
    >>> again = stratified_sample(100, strata[shuffled], 0, ids=ids[shuffled], context="x")
    >>> sorted(ids[shuffled][again]) == sorted(ids[by_id])
    True
    """
    n = strata.size
    if n <= n_max:
        return np.arange(n)
    codes = _stratum_codes(strata)
    quota = quotas(np.bincount(codes), n_max)
    if keys is not None:
        keys = np.asarray(keys)
        if keys.shape != (n,):
            raise ValueError(f"{keys.size} sample keys for {n} rows")
    elif ids is None:
        keys = np.random.default_rng(seed).random(n)
    elif isinstance(context, str):
        keys = hash_keys(ids, seed, context)
    else:  # one context per row (a stack's cutoffs): each row's key is its own hash
        keys = _hash_texts(np.asarray(ids, dtype=object), seed, context)
    return take_quotas(codes, quota, keys)[0]


def _stratum_codes(strata: np.ndarray) -> np.ndarray:
    """``np.unique(strata, return_inverse=True)[1]``: each row's rank among the distinct strata.

    Small non-negative integer strata (labels x blocks) are ranked by counting, without the
    sort ``np.unique`` does on every row.
    """
    strata = np.asarray(strata).ravel()
    if strata.dtype.kind in "iub" and strata.size and 0 <= strata.min() and strata.max() < 2**16:
        values = strata.astype(np.int64)
        return (np.cumsum(np.bincount(values) > 0) - 1)[values]
    return np.unique(strata, return_inverse=True)[1].ravel()


def take_quotas(codes: np.ndarray, quota: np.ndarray,
                random_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The one stratified draw: from each stratum (``codes``: 0..k-1 per row) the ``quota`` rows
    with the smallest ``random_keys``. Returns the sorted positions taken and the rest.

    Example
    -------
    >>> taken, rest = take_quotas(np.array([0, 0, 1, 1, 1]), np.array([1, 2]),
    ...                           np.array([0.9, 0.1, 0.5, 0.2, 0.7]))
    >>> taken.tolist(), rest.tolist()
    ([1, 2, 3], [0, 4])
    """
    counts = np.bincount(codes, minlength=len(quota))
    order = _by_stratum_then_key(codes, random_keys)  # random within stratum
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(codes.size) - starts[codes[order]]
    take = rank < quota[codes[order]]
    return np.sort(order[take]), np.sort(order[~take])


def _by_stratum_then_key(codes: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``np.lexsort((keys, codes))``, the same order, in two cheaper sorts.

    A (non-stable, vectorised) sort of the keys, then a stable counting sort of the strata
    (few, so 16-bit). Only rows with equal keys could end up in another order than lexsort's;
    if there are any, lexsort decides.
    """
    if codes.size == 0 or len(np.bincount(codes)) > 2**15:
        return np.lexsort((keys, codes))
    order = np.argsort(keys)
    ranked = keys[order]
    if (ranked[1:] == ranked[:-1]).any() or (ranked.dtype.kind == "f" and np.isnan(ranked[-1])):
        return np.lexsort((keys, codes))
    return order[np.argsort(codes.astype(np.int16)[order], kind="stable")]
