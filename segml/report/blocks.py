"""The building blocks of the report's sections: a run's artifacts and how cells are shown.

:class:`Artifacts` holds a run's artifacts by relative path (CSV tables, PNG plots, JSON
documents) and records which ones a section used, so whatever no section used can be listed at
the end of the report. :func:`fmt` writes a cell value for people, :func:`html_table` an escaped
table; :func:`segment_names` reads the segments' names from the profile tables.

Example
-------
>>> import pandas as pd
>>> art = Artifacts(tables={"segments/profile_level_1.csv": pd.DataFrame(
...     {"segment": ["1", "2"], "name": ["Loyal", None]})})
>>> segment_names(art), art.used
({'1': 'Loyal', '2': ''}, set())
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Artifacts:
    """A run's artifacts by relative path; ``used`` records what the sections consumed."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def table(self, name: str) -> pd.DataFrame | None:
        if name in self.tables:
            self.used.add(name)
            return self.tables[name]
        return None

    def image(self, name: str) -> dict[str, str] | None:
        if name not in self.images:
            return None
        self.used.add(name)
        title = name.rsplit("/", 1)[-1].removesuffix(".png").replace("_", " ")
        return {"title": title, "data": base64.b64encode(self.images[name]).decode("ascii")}

    def document(self, name: str) -> Any:
        if name in self.documents:
            self.used.add(name)
            return self.documents[name]
        return None


def fmt(value: Any, kind: str = "num") -> str:
    """A cell value for people: percentages, thousands separators, 3 significant decimals.

    ``kind``: ``num`` (a metric: 3 decimals below 100, whole numbers as integers), ``pct`` (a
    share, 1 decimal), ``money`` (2 decimals), ``mean`` (an average of counts or days: 1
    decimal), ``int`` (rounded to a whole number).

    Example
    -------
    >>> fmt(0.1234, "pct"), fmt(12345.0), fmt(0.8123), fmt(None), fmt("x"), fmt(0.0)
    ('12.3%', '12,345', '0.812', '', 'x', '0')
    >>> fmt(58.353, "money"), fmt(38.619, "mean"), fmt(273.9, "int")
    ('58.35', '38.6', '274')
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}" if kind != "pct" else f"{value:.1%}"
    if isinstance(value, float | np.floating):
        if kind == "pct":
            return f"{value:.1%}"
        if kind == "money":
            return f"{value:,.2f}"
        if kind == "mean":
            return f"{value:,.1f}"
        if kind == "int" or float(value).is_integer() or abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


def html_table(frame: pd.DataFrame, highlight: str | None = None, pct: tuple[str, ...] = ()) -> str:
    """An escaped HTML table (index dropped); rows whose first cell equals ``highlight`` in bold."""
    from html import escape

    text = [pd.api.types.is_object_dtype(t) or pd.api.types.is_string_dtype(t) for t in frame.dtypes]
    head = "".join(("<th class='t'>" if left else "<th>") + f"{escape(str(c))}</th>"
                   for c, left in zip(frame.columns, text, strict=True))
    rows = []
    for values in frame.itertuples(index=False):
        cells = "".join(
            ("<td class='t'>" if isinstance(v, str) else "<td>")
            + f"{escape(fmt(v, 'pct' if c in pct else 'num'))}</td>"
            for c, v in zip(frame.columns, values, strict=True)
        )  # text cells read left to right, numbers align right
        cls = ' class="hl"' if highlight is not None and str(values[0]) == highlight else ""
        rows.append(f"<tr{cls}>{cells}</tr>")
    return f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def profile_levels(art: Artifacts) -> list[int]:
    """The levels that have a profile table (``segments/profile_level_<n>.csv``), in order."""
    return sorted(int(n.removeprefix("segments/profile_level_").removesuffix(".csv"))
                  for n in art.tables if n.startswith("segments/profile_level_"))


def segment_names(art: Artifacts) -> dict[str, str]:
    """Segment path -> name over every level (from the profile tables)."""
    names: dict[str, str] = {}
    for level in profile_levels(art):
        frame = art.tables[f"segments/profile_level_{level}.csv"]
        if "name" in frame:
            names.update(zip(frame["segment"].astype(str), frame["name"].fillna("").astype(str),
                             strict=True))
    return names


__all__ = ["Artifacts", "fmt", "html_table", "profile_levels", "segment_names"]
