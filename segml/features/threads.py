"""Feature work run on a second thread beside the caller's, above a size where it pays.

NumPy's bincounts, gathers, sorts and comparisons release the GIL, so two parts of one feature
matrix that share only read-only caches (:func:`segml.features.timeline.cached`, which takes a
lock) each take a core: a transaction part beside an event part, the purchase summary beside
the other transaction features, the event sort beside the feature settings' fit. Below
:data:`PARALLEL_ROWS` rows a thread costs more than it saves, and the work runs when asked for.

Example
-------
>>> with beside(lambda: 2 + 2, rows=10) as result:
...     result()
4
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

#: From this many rows read on, a part of the feature work runs on a second thread.
PARALLEL_ROWS = 1_000_000


@contextmanager
def beside(work: Callable[[], T] | None, rows: int) -> Iterator[Callable[[], T] | None]:
    """Yield the getter of ``work()``'s result (None without ``work``).

    When ``work`` reads at least :data:`PARALLEL_ROWS` rows it starts on a second thread while
    the block runs, and it has ended when the block does (its error raised, asked for or not);
    below that it runs when its result is asked for, on the caller's thread.
    """
    if work is None or rows < PARALLEL_ROWS:
        yield work
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(work)
        yield future.result
        future.result()
