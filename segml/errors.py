"""Errors that carry user-facing problems (file, table, column, key, value) instead of tracebacks.

The CLI prints each :class:`Problem` on one line and exits 1 for a :class:`SegmlError`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]

# ``scheme://user:password@host``: the password (and a bare ``token@``) never reaches a message.
# The credentials run to the *last* ``@`` of the URI's non-blank run, so a password holding
# ``/``, ``'``, ``:`` or ``@`` (which a user may well type unencoded) is masked whole; a path
# that happens to hold an ``@`` is masked too, which only hides more than needed.
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s@]*(?:@[^\s@]*)*?)@"
                          r"(?=[^\s@]*(?:\s|$))")


def redact(text: str) -> str:
    """``text`` with the credentials of every URI in it replaced by ``***``.

    Used on every message the CLI prints, every log record and everything written to stdout or
    stderr while a command runs (MLflow's own ``View run ... at: URL`` lines included), so a
    tracking URI such as ``http://alice:S3cret@host`` can appear in an error without its password.

    Examples
    --------
    >>> redact("cannot reach http://alice:S3cret@127.0.0.1:9/api (refused)")
    'cannot reach http://alice:***@127.0.0.1:9/api (refused)'
    >>> redact("postgresql://ml:secret@db:5432/mlflow and https://token@host/x")
    'postgresql://ml:***@db:5432/mlflow and https://***@host/x'
    >>> redact("http://alice:S3c/r'e@t@host:5000/#/runs")
    'http://alice:***@host:5000/#/runs'
    """
    def mask(match: re.Match[str]) -> str:
        user, colon, _ = match.group("userinfo").partition(":")
        if colon and user and not set(user) & set("/'\""):
            return f"{match.group('scheme')}{user}:***@"
        return f"{match.group('scheme')}***@"

    return _CREDENTIALS.sub(mask, text)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the data or the config, located as precisely as possible."""

    message: str
    severity: Severity = "error"
    file: str | None = None
    table: str | None = None
    column: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = [
            f"{label} '{value}'"
            for label, value in (
                ("file", self.file),
                ("table", self.table),
                ("column", self.column),
            )
            if value
        ]
        prefix = ", ".join(where)
        text = f"{self.severity}: {prefix}: {self.message}" if prefix else (
            f"{self.severity}: {self.message}"
        )
        return redact(text)

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


class SegmlError(Exception):
    """Base class: a problem in the user's data or config (CLI exit code 1)."""

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem(message=problems)]
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(SegmlError):
    """The configuration is invalid."""


class DataError(SegmlError):
    """The data breaks the contract (docs/configuration.md) or is not ready for training."""


class ReadinessError(DataError):
    """A blocking data-readiness problem stops training."""
