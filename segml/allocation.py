"""How a segml run asks the operating system for memory (docs/benchmarks.md, "Allocation").

Two defaults of the libraries underneath cost more time than any stage of a run on Linux
machines whose kernel compacts memory for huge pages on demand (``transparent_hugepage/defrag``
set to ``madvise``, the kernel's default):

* NumPy asks for transparent huge pages on every large array (``madvise(MADV_HUGEPAGE)``). When
  memory is fragmented (a page cache full of Parquet files is enough) each such page fault waits
  for the kernel to compact memory: building one feature matrix of a million customers took
  14.4 s, 10 of them in the kernel, against 7.1 s without the request.
* Arrow's default pool (mimalloc) handed memory back and forth to the kernel the same way:
  reading and validating the tables of a million customers took 30.1 s (42 s of kernel time on
  two threads) against 6.8 s with the system allocator (glibc ``malloc``).

:func:`fast_allocation` turns both off for the duration of a run, and puts back what was there
when it ends; answers are the same, only where the bytes live changes. A setting the user made
wins: with ``NUMPY_MADVISE_HUGEPAGE`` or ``ARROW_DEFAULT_MEMORY_POOL`` in the environment, that
library is left as it is. The pipeline's entry points (:func:`segml.workflow.train.train`,
``retrain``, ``score``, :func:`segml.data.contract.load_tables` and every CLI command) run inside
it; nesting is free.

What glibc's ``malloc`` keeps of freed memory is the other half: :func:`return_freed_memory`
hands it back where a run has just let go of a large working set.

Example
-------
>>> import numpy as np
>>> with fast_allocation():
...     total = float(np.ones(10**6).sum())
>>> total
1000000.0
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

_LOCK = threading.Lock()
_depth = 0  # runs inside fast_allocation; the settings are changed by the outermost one only
_saved: dict[str, Any] = {}

F = TypeVar("F", bound=Callable[..., Any])


def _hugepage_switch() -> Callable[[bool], bool] | None:
    """NumPy's switch of the huge-page request (returns the previous value); None if absent."""
    try:
        from numpy._core import multiarray  # NumPy 2
    except ImportError:  # pragma: no cover - NumPy 1.26
        from numpy.core import multiarray
    return getattr(multiarray, "_set_madvise_hugepage", None)


def _enter() -> None:
    switch = _hugepage_switch()
    if switch is not None and "NUMPY_MADVISE_HUGEPAGE" not in os.environ:
        _saved["hugepage"] = switch(False)
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        import pyarrow as pa

        _saved["arrow_pool"] = pa.default_memory_pool()
        pa.set_memory_pool(pa.system_memory_pool())


def _exit() -> None:
    if "hugepage" in _saved:
        switch = _hugepage_switch()
        if switch is not None:
            switch(bool(_saved.pop("hugepage")))
    if "arrow_pool" in _saved:
        import pyarrow as pa

        pa.set_memory_pool(_saved.pop("arrow_pool"))


@contextmanager
def fast_allocation() -> Iterator[None]:
    """Inside the block NumPy makes no huge-page requests and Arrow allocates with the system
    allocator, unless the environment sets either (see the module docstring); the previous
    settings come back when the outermost block ends.

    Example
    -------
    >>> import pyarrow as pa
    >>> before = pa.default_memory_pool().backend_name
    >>> with fast_allocation():
    ...     inside = pa.default_memory_pool().backend_name
    >>> pa.default_memory_pool().backend_name == before
    True
    """
    global _depth
    with _LOCK:
        if _depth == 0:
            _enter()
        _depth += 1
    try:
        yield
    finally:
        with _LOCK:
            _depth -= 1
            if _depth == 0:
                _exit()


def with_fast_allocation(function: F) -> F:
    """``function`` run inside :func:`fast_allocation` (the pipeline's entry points)."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        with fast_allocation():
            return function(*args, **kwargs)

    return run  # type: ignore[return-value]



def return_freed_memory() -> bool:
    """Hand the memory the process has freed back to the system (glibc's ``malloc_trim``);
    False where the C library has none (not glibc). Answers nothing different.

    Between a target's fits the frames and matrices of the last one are freed, but glibc keeps
    the freed pages of its heaps (one per thread that allocated: the fits run on worker
    threads) for reuse, and the next fit's arrays land beside them: the resident size only
    grows. Trimmed between fits, the process measured 0.3-0.4 GiB smaller at 300k customers and
    its peak 0.1 GiB lower (``benchmarks/bench_training.py``).

    Example
    -------
    >>> return_freed_memory() in (True, False)
    True
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim`` among the process's own symbols (None elsewhere)."""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except (OSError, TypeError):  # no C library to open by None (Windows)
        return None


__all__ = ["fast_allocation", "return_freed_memory", "with_fast_allocation"]
