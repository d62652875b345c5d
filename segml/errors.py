"""Errors that carry user-facing problems (file, table, column, key, value) instead of tracebacks.

The CLI prints each :class:`Problem` on one line and exits 1 for a :class:`SegmlError`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]

# ``scheme://user:password@host``: the password (and a bare ``token@``) never reaches a message.
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^\s:/@'\"]+)"
                          r"(?::[^\s/@'\"]*)?@")


def redact(text: str) -> str:
    """``text`` with the credentials of every URI in it replaced by ``***``.

    Used on every message the CLI prints and every log record it emits, so a tracking URI such
    as ``http://alice:S3cret@host`` can appear in an error without its password.

    Examples
    --------
    >>> redact("cannot reach http://alice:S3cret@127.0.0.1:9/api (refused)")
    'cannot reach http://alice:***@127.0.0.1:9/api (refused)'
    >>> redact("postgresql://ml:secret@db:5432/mlflow and https://token@host/x")
    'postgresql://ml:***@db:5432/mlflow and https://***@host/x'
    """
    def mask(match: re.Match[str]) -> str:
        whole = match.group(0)
        if ":" in whole[len(match.group("scheme")):]:
            return f"{match.group('scheme')}{match.group('user')}:***@"
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
    """The data breaks the contract (SPEC section 1) or is not ready for training."""


class ReadinessError(DataError):
    """A blocking data-readiness problem stops training."""
