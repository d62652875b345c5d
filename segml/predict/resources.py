"""How much of the machine and of the data a LightGBM fit uses (predictions:
:mod:`segml.predict.trees`).

Threads: OpenMP threads wait for each other at every histogram step, so small inputs and busy
machines train single-threaded. Rows: very large stacked training sets are cut to a seeded
sample that keeps every stratum's share (label x cutoff; :func:`segml.sampling.stratified_sample`).

Example
-------
>>> train_threads(5_000)
1
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from threadpoolctl import threadpool_limits

DEFAULT_THREADS = max(1, min(4, os.cpu_count() or 1))
# Below this many rows one thread is faster: OpenMP synchronisation dominates (and is ruinous on a
# busy machine), so small fits and cross-validation folds run single-threaded.
SINGLE_THREAD_ROWS = 100_000


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def train_threads(n_rows: int, num_threads: int | None = None) -> int:
    """LightGBM training threads: ``num_threads`` when set, else 1 below 100k rows and otherwise
    ``min(4, cores - 1)`` (at least 1).

    OpenMP threads wait for each other at every histogram step, so one thread stalled by another
    process stalls them all: on a 2-core machine with other work running, 2 threads trained the
    same model 1.7x *slower* than 1 (measured: 11.2 s vs 6.6 s, 200k rows). Leaving a core free
    keeps training robust on shared machines; set ``models.num_threads`` on a dedicated one.

    Example
    -------
    >>> train_threads(5_000), train_threads(10**6, num_threads=3)
    (1, 3)
    """
    if num_threads:
        return int(num_threads)
    if n_rows < SINGLE_THREAD_ROWS:
        return 1
    return max(1, min(4, available_cores() - 1))


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS on one thread inside the block (the logistic regressions).

    On a 2-core machine shared with other work, OpenBLAS's threads spin waiting for each other:
    a (4,500 x 125) matrix-vector product took 16 ms on 2 threads and 0.4 ms on one (measured
    here), and a logistic regression of the demo's size 5.7 s instead of under a second. At
    500k rows the two were equal, so one thread costs nothing where it matters.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        yield


#: Every logistic regression's solver (the linear candidate, its baseline, Platt scaling):
#: Newton steps to a gradient of 1e-10, i.e. the optimum itself, the same on every machine up
#: to the last bits. lbfgs stops at a gradient of 1e-4 wherever its path (which the machine's
#: rounding steers) happens to be: on two machines the same fit gave probabilities 5e-4 apart
#: and another candidate won.
EXACT_SOLVER: dict[str, Any] = {"solver": "newton-cholesky", "tol": 1e-10, "max_iter": 200}
