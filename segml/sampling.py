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

import numpy as np
import pandas as pd


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
    return _hash_texts(np.asarray(ids, dtype=object), seed, context)


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


def _siphash(text: np.ndarray, seed: int) -> np.ndarray:
    """SipHash of each text's UTF-8 bytes, keyed by ``seed``, as int64."""
    hashed = pd.util.hash_array(text, hash_key=f"segml{seed:011d}"[-16:], categorize=False)
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
                      context: str | np.ndarray = "") -> np.ndarray:
    """Sorted positions of a seeded sample of ``min(n_max, len(strata))`` rows, stratified.

    Every stratum keeps its share of the rows (largest-remainder rounding, :func:`quotas`), so
    the label rate and the share of each stacked cutoff are those of all rows. Within a stratum
    the rows with the smallest random keys are taken: by position (``ids`` None), or by
    :func:`hash_keys` of ``ids`` in ``context`` (one context, or one per row), the same keys on
    Spark.

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
    if ids is None:
        keys = np.random.default_rng(seed).random(n)
    else:  # one context, or one per row (a stack's cutoffs): each row's key is its own hash
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
