"""SIGTERM and SIGINT during a tracked run: the run ends KILLED, and a commit is never cut in half.

A scheduler stops a job with SIGTERM (Airflow, Kubernetes, systemd) and a person with Ctrl-C.
Python's default for SIGTERM is to die on the spot, which leaves the MLflow run ``RUNNING`` for
ever. Inside :func:`interrupts_raise` both signals raise :class:`RunInterrupted`, so the run's
``except`` clauses mark it ``KILLED``. Inside :func:`interrupts_deferred` (promotion, then the
run's end) a signal is only noted, and raised once the block is over: the champion alias and
the run's status are changed together or not at all.

``kill -9`` cannot be caught: its run stays ``RUNNING``, which is why a version is promoted only
when its run has FINISHED (``segml.tracking.registry.promote``).

Example
-------
>>> import os, signal
>>> with interrupts_raise():
...     try:
...         os.kill(os.getpid(), signal.SIGTERM)
...     except RunInterrupted as exc:
...         print(exc.signal_name, exc.exit_code)
SIGTERM 143
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_state = threading.local()


class RunInterrupted(KeyboardInterrupt):
    """A SIGTERM or SIGINT received during a tracked run.

    A :class:`KeyboardInterrupt`, so no ``except Exception`` swallows it on its way out.
    ``killed_run`` is set to the run marked KILLED, if any.
    """

    def __init__(self, signum: int):
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        self.exit_code = 128 + signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM
        self.killed_run: str | None = None
        super().__init__(f"interrupted by {self.signal_name}")


def _handler(signum: int, _frame: Any) -> None:
    if getattr(_state, "deferring", 0):
        _state.pending = signum
        return
    raise RunInterrupted(signum)


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """SIGTERM and SIGINT raise :class:`RunInterrupted` inside the block (main thread only;
    elsewhere the process's handlers cannot be changed and the block changes nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    for sig in _SIGNALS:
        signal.signal(sig, _handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold SIGTERM/SIGINT (under :func:`interrupts_raise`) until the block has finished."""
    _state.deferring = getattr(_state, "deferring", 0) + 1
    try:
        yield
    finally:
        _state.deferring -= 1
        pending = getattr(_state, "pending", None)
        if pending is not None and not _state.deferring:
            _state.pending = None
            raise RunInterrupted(pending)
