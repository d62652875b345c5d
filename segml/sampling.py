"""Seeded samples that keep every stratum's share (labels x cutoffs, at any scale).

Example
-------
>>> import numpy as np
>>> stratified_sample(4, np.array([0, 0, 1, 1, 1, 1, 1, 1]), seed=0).size
4
"""

from __future__ import annotations

import numpy as np


def stratified_sample(n_max: int, strata: np.ndarray, seed: int) -> np.ndarray:
    """Sorted positions of a seeded sample of ``min(n_max, len(strata))`` rows, stratified.

    Every stratum keeps its share of the rows (largest-remainder rounding), so the label rate and
    the share of each stacked cutoff are those of all rows.

    Example
    -------
    >>> strata = np.repeat([0, 1], [900, 100])
    >>> keep = stratified_sample(100, strata, seed=0)
    >>> keep.size, int((strata[keep] == 1).sum())
    (100, 10)
    """
    n = strata.size
    if n <= n_max:
        return np.arange(n)
    codes = np.unique(strata, return_inverse=True)[1].ravel()
    counts = np.bincount(codes)
    exact = counts * (n_max / n)
    quota = np.floor(exact).astype(np.int64)
    short = n_max - int(quota.sum())
    quota[np.argsort(quota - exact, kind="stable")[:short]] += 1  # largest remainders first
    return take_quotas(codes, quota, np.random.default_rng(seed).random(n))[0]


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
    order = np.lexsort((random_keys, codes))  # random within stratum
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(codes.size) - starts[codes[order]]
    take = rank < quota[codes[order]]
    return np.sort(order[take]), np.sort(order[~take])
