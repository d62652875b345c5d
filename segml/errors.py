"""Errors that carry user-facing problems (file, table, column, key, value) instead of tracebacks.

The CLI prints each :class:`Problem` on one line and exits 1 for a :class:`SegmlError`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


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
        return f"{self.severity}: {prefix}: {self.message}" if prefix else (
            f"{self.severity}: {self.message}"
        )

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
