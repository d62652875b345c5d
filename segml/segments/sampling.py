"""The stratified sample the leaves are found on (HDBSCAN's cost grows steeply with n).

The draw itself is :func:`segml.sampling.take_quotas`, the one stratified draw of segml (the
training rows use it with largest-remainder quotas). Strata: guided-level values x a 5 x 5 grid of quantile bins on the first two dimensions of the
clustering space (its first principal components); proportional allocation, at least one customer
per stratum (so the sample may be a little larger than asked). A held-out set of customers outside the sample measures the assignment's agreement
with ``hdbscan.approximate_predict``.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> sample, holdout = stratified_sample(rng.normal(size=(1000, 2)), [], 200, 50, rng)
>>> len(sample), len(holdout), len(np.intersect1d(sample, holdout))
(202, 50, 0)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segml.sampling import take_quotas


def stratified_sample(Z: np.ndarray, keys: list[np.ndarray], size: int, holdout: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sorted positions of the sample (everyone when ``len(Z) <= size``) and of the held-out
    customers (none then)."""
    n = len(Z)
    if n <= size:
        return np.arange(n), np.arange(0)
    strata = np.zeros(n, dtype=np.int64)
    for dim in range(min(2, Z.shape[1])):
        edges = np.quantile(Z[:, dim], [0.2, 0.4, 0.6, 0.8])
        strata = strata * 5 + np.searchsorted(edges, Z[:, dim])
    for key in keys:
        codes = pd.factorize(key, sort=True)[0]
        strata = strata * (codes.max() + 1) + codes
    strata = pd.factorize(strata, sort=True)[0]
    counts = np.bincount(strata)
    # proportional, at least one customer per stratum (the strata are small grid cells)
    quota = np.maximum(np.round(counts * size / n), 1).astype(np.int64)
    sample, rest = take_quotas(strata, quota, rng.random(n))
    out = np.sort(rng.choice(rest, size=min(holdout, len(rest)), replace=False))
    return sample, out
