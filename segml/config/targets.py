"""The ``targets`` section: outcomes the user declares, each read from the data in one of four
ways (docs/targets.md).

Each entry names an outcome and says how its label is read: a column of the customers table
(``column``), purchases matching a filter within a horizon (``purchases``), events of given
types within a horizon (``events``) or the amount of matching purchases within a horizon
(``spend``). :func:`segml.targets.targets_of` turns the entries into
:class:`~segml.targets.Target` entries of the same registry as the built-in ones.

Example
-------
>>> entry = TargetEntry.model_validate(
...     {"horizon_days": 30, "label": {"purchases": {"category": ["electronics"]}}})
>>> entry.kind, entry.label.kind, entry.label.filter
('classifier', 'purchases', {'category': ['electronics']})
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from segml.config.section import Section

#: The label kinds an entry can declare, exactly one per entry.
LABEL_KINDS = ("column", "purchases", "events", "spend")
#: Transactions columns a purchases or spend filter may read (their canonical names).
FILTER_COLUMNS = ("category", "channel", "product_id", "order_id")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class ColumnLabel(Section):
    """A column of the customers table holding the label."""

    column: str = Field(..., min_length=1, description="The customers column.")
    positive: Any = Field(
        None,
        description="The value counted as positive (e.g. 'yes'); null: a boolean or 0/1 column "
        "(classifier) or the numbers themselves (regressor).",
    )


class TargetLabel(Section):
    """How a target's label is read: exactly one of the four keys."""

    column: ColumnLabel | None = Field(
        None, description="{column: <customers column>, positive: <value>}: no horizon.")
    purchases: dict[str, list[Any]] | None = Field(
        None,
        description="{<transactions column>: [values]}: purchases whose column holds one of the "
        "values ({}: any purchase) within the horizon.",
    )
    events: dict[str, list[Any]] | None = Field(
        None, description="{type: [event types]}: events of those types within the horizon.")
    spend: dict[str, list[Any]] | None = Field(
        None,
        description="{<transactions column>: [values]}: net amount of the matching transactions "
        "within the horizon ({}: all).",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> TargetLabel:
        given = [k for k in LABEL_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"a label needs exactly one of {list(LABEL_KINDS)}, got "
                             f"{given or 'none'}")
        for kind in ("purchases", "spend"):
            columns = getattr(self, kind)
            bad = sorted(set(columns or {}) - set(FILTER_COLUMNS))
            if bad:
                raise ValueError(f"{kind} filters on transactions column(s) {bad}; valid: "
                                 f"{list(FILTER_COLUMNS)}")
        if self.events is not None:
            bad = sorted(set(self.events) - {"type", "event_type"})
            if bad or not self.events:
                raise ValueError(f"events filters on {bad or 'nothing'}; write "
                                 "{events: {type: [<event types>]}}")
        for kind in ("purchases", "events", "spend"):
            for column, values in (getattr(self, kind) or {}).items():
                if not values:
                    raise ValueError(f"{kind}.{column} lists no value")
        return self

    @property
    def kind(self) -> str:
        """The label kind: ``column``, ``purchases``, ``events`` or ``spend``."""
        return next(k for k in LABEL_KINDS if getattr(self, k) is not None)

    @property
    def filter(self) -> dict[str, list[Any]]:
        """The filter of a purchases, events or spend label (``events``: ``{"type": [...]}``)."""
        if self.kind == "events":
            return {"type": [v for vs in self.events.values() for v in vs]}  # type: ignore[union-attr]
        return dict(getattr(self, self.kind) or {}) if self.kind != "column" else {}


class TargetEntry(Section):
    """One declared outcome (docs/targets.md)."""

    kind: Literal["classifier", "regressor"] = Field(
        "classifier",
        description="classifier: a calibrated probability that the outcome happens; regressor: "
        "its amount (a count, a spend or the column's number).",
    )
    horizon_days: int | None = Field(
        None,
        gt=0,
        description="The label window after each cutoff in days; required for purchases, "
        "events and spend labels, not allowed for a column label.",
    )
    label: TargetLabel = Field(..., description="How the label is read (exactly one kind).")
    population: Literal["known", "active"] = Field(
        "known",
        description="known: every customer known at the cutoff; active: only those with a "
        "purchase within time.activity_window_days (the others get no score).",
    )
    description: str | None = Field(None, description="One line for people.")
    audience: str | None = Field(
        None, description="The name of its 'likely to ...' list (classifiers); null: the target's name.")

    @model_validator(mode="after")
    def _horizon_fits_label(self) -> TargetEntry:
        if self.label.kind == "column" and self.horizon_days is not None:
            raise ValueError("a column label has no horizon (it is read as it stands); remove "
                             "horizon_days")
        if self.label.kind != "column" and self.horizon_days is None:
            raise ValueError(f"a {self.label.kind} label needs horizon_days (its window after "
                             "each cutoff)")
        return self


def check_target_names(names: list[str], reserved: set[str]) -> None:
    """Refuse a declared target name that is not a lower-case identifier or that collides with
    a built-in target or an output column (``reserved``)."""
    for name in names:
        if not _NAME.fullmatch(name):
            raise ValueError(f"targets.{name}: a target name is lower-case letters, digits and "
                             "_ (at most 40, starting with a letter)")
        if name in reserved:
            raise ValueError(f"targets.{name}: the name collides with a built-in target or an "
                             "output column; choose another")


__all__ = ["FILTER_COLUMNS", "LABEL_KINDS", "ColumnLabel", "TargetEntry", "TargetLabel",
           "check_target_names"]

