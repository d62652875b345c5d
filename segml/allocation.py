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

Example
-------
>>> import numpy as np
>>> with fast_allocation():
...     total = float(np.ones(10**6).sum())
>>> total
1000000.0
"""

from __future__ import annotations

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


__all__ = ["fast_allocation", "with_fast_allocation"]
