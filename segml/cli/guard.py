"""The command line's guards: every failure as one line and its exit code, nothing leaked.

:func:`handles_user_errors` wraps each command: a :class:`~segml.errors.SegmlError` prints its
problems (exit 1), an error from the MLflow store one line naming the tracking URI key (exit 1),
SIGINT/SIGTERM one line (exit 130/143), anything else one line naming an internal error (exit
5). While a command runs, every log record is redacted (:func:`segml.errors.redact`), so no
library's message carries a password to the terminal. :func:`check_store` and
:func:`check_output` refuse a tracking store or an output file that cannot work before any work
is done.

Example
-------
>>> print(_unexpected(ZeroDivisionError("division by zero")))
error: internal error ZeroDivisionError: division by zero (a bug in segml: please report it; --verbose logs the traceback)
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from segml.config import SegmlConfig
from segml.errors import Problem, SegmlError, redact

EXIT_DATA, EXIT_INTERNAL = 1, 5
#: Problems, warnings and progress; no markup (see :data:`segml.cli.output.console`).
err_console = Console(stderr=True, markup=False)


def print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        style = "red" if problem.severity == "error" else "yellow"
        err_console.print(str(problem), style=style, highlight=False, soft_wrap=True,
                          markup=False)


def print_warnings(warnings: list[Problem], what: str, quiet: bool = False) -> None:
    """Data and readiness warnings once, at the end of a command (none with ``--quiet``:
    results and errors only)."""
    unique = list(dict.fromkeys(str(w) for w in warnings))
    if unique and not quiet:
        err_console.print(f"{len(unique)} warning(s) about the data ({what}):", style="yellow",
                          highlight=False, soft_wrap=True, markup=False)
        for line in unique:
            err_console.print(line, style="yellow", highlight=False, soft_wrap=True,
                              markup=False)


_plain_record_factory = logging.getLogRecordFactory()


def _redacting_record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Log records with credentials redacted, whichever library logs them (MLflow quotes
    tracking URIs, passwords included, in its warnings and errors)."""
    record = _plain_record_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record is logged as it is
        return record
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    return record


class _RedactingStream:
    """``sys.stdout``/``sys.stderr`` while a command runs: every write redacted. Libraries print
    past logging (MLflow writes ``View run NAME at: http://user:password@host/...`` straight to
    ``sys.stdout``), so the streams themselves are the last place a credential can be caught.
    Writes are redacted one by one: MLflow and rich write a URI in one piece."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text) if isinstance(text, str) else text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, encoding, fileno, buffer, ...
        return getattr(self._stream, name)


def _unexpected(exc: BaseException) -> Problem:
    """What the user sees for an exception segml did not anticipate (a bug): one line."""
    from segml.tracking.store import user_problem

    known = user_problem(exc)
    if known is not None:
        return known
    if isinstance(exc, OSError) and exc.strerror:
        return Problem(f"{exc.strerror}", file=exc.filename and str(exc.filename))
    logging.getLogger("segml").debug("unexpected error", exc_info=exc)
    detail = redact(str(exc).splitlines()[0])[:200] if str(exc) else ""
    return Problem(f"internal error {type(exc).__name__}{': ' + detail if detail else ''} "
                   "(a bug in segml: please report it; --verbose logs the traceback)")


def handles_user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Every way a command can fail, as one line per problem on stderr and its exit code.

    A :class:`SegmlError` exits 1 with its problems; an error from the MLflow store exits 1 with
    one line naming ``tracking.tracking_uri``; SIGINT/SIGTERM exit 130/143; anything else is an
    internal error (exit 5). Never a traceback, never a credential.
    """
    from typer.exceptions import TyperException

    # typer's own exits and usage errors (it vendors click) go through: typer prints them.
    passthrough: tuple[type[BaseException], ...] = (typer.Exit, typer.Abort, TyperException)
    try:
        import click

        passthrough += (click.exceptions.Exit, click.ClickException, click.Abort)
    except ImportError:  # pragma: no cover - typer without a separate click
        pass

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from segml.tracking.interrupts import RunInterrupted

        logging.setLogRecordFactory(_redacting_record_factory)
        # MLflow prints each run's URL (with the tracking URI's credentials) unless told not to.
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        streams = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _RedactingStream(streams[0]), _RedactingStream(streams[1])
        try:
            return func(*args, **kwargs)
        except SegmlError as exc:
            print_problems(exc.problems)
            raise typer.Exit(EXIT_DATA) from None
        except passthrough:
            raise
        except KeyboardInterrupt as exc:
            name, code = ("SIGINT", 130)
            if isinstance(exc, RunInterrupted):
                name, code = exc.signal_name, exc.exit_code
            killed = getattr(exc, "killed_run", None)
            tail = f": run {killed} marked KILLED, the champion is unchanged" if killed else ""
            err_console.print(f"interrupted by {name}{tail}", style="red", highlight=False,
                              soft_wrap=True)
            raise typer.Exit(code) from None
        except Exception as exc:  # noqa: BLE001 - the last guard before a traceback
            problem = _unexpected(exc)
            print_problems([problem])
            internal = problem.message.startswith("internal error")
            raise typer.Exit(EXIT_INTERNAL if internal else EXIT_DATA) from None
        finally:
            sys.stdout, sys.stderr = streams
            logging.setLogRecordFactory(_plain_record_factory)

    return wrapper


def check_store(cfg: SegmlConfig) -> str:
    """The tracking URI of ``cfg``, refused up front when it cannot work (see
    :func:`segml.tracking.store.check_store`); the problem names where the URI came from."""
    from segml.tracking.store import check_store as check

    uri = cfg.tracking.resolved_uri()
    key = ("tracking.tracking_uri" if cfg.tracking.tracking_uri
           else "MLFLOW_TRACKING_URI" if os.environ.get("MLFLOW_TRACKING_URI") else "tracking")
    check(uri, key=key)
    return uri


def check_output(out: Path, suffixes: tuple[str, ...] = (".parquet", ".csv")) -> None:
    """Refuse an output path that cannot be written *before* the work that fills it."""
    if out.suffix.lower() not in suffixes:
        raise SegmlError([Problem(f"--out must end in {' or '.join(suffixes)}, got {out.name!r}",
                                  key="out")])
    if out.is_dir():
        raise SegmlError([Problem("--out is a folder; give a file name", file=str(out), key="out")])
    if os.path.lexists(out) and out.exists() and not out.is_file():
        raise SegmlError([Problem("--out is not a regular file (a device or FIFO); segml only "
                                  "replaces regular files", file=str(out), key="out")])
    folder = out.absolute().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise SegmlError([Problem("--out cannot be written here (no permission, or a file where "
                                  "a folder should be)", file=str(out), key="out")])
