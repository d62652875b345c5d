"""The declared targets (config ``targets:``, docs/targets.md) against the data: a filter must
name a column the table has and values it holds, and match at least one row.

Checked when the tables are validated for training (:func:`segml.data.contract.validate_tables`),
so ``segml validate`` and ``segml train`` refuse the same definitions with the same line.

Example
-------
>>> value_matches(pd.Series(["toys", "food"]), ["food"]).tolist()
[False, True]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from segml.errors import Problem


def value_matches(values: pd.Series, wanted: Sequence[Any]) -> np.ndarray:
    """Per row, whether ``values`` holds one of ``wanted``, compared as text (a YAML ``123``
    matches a product id read as ``"123"``).

    Example
    -------
    >>> value_matches(pd.Series(["toys", "food", None], dtype="category"), ["toys", 1]).tolist()
    [True, False, False]
    """
    texts = {str(v) for v in wanted}
    if isinstance(values.dtype, pd.CategoricalDtype):
        hit = np.isin(values.cat.categories.astype(str), list(texts))
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, hit[np.maximum(codes, 0)], False)
    return values.astype("string").isin(texts).fillna(False).to_numpy(dtype=bool)



def target_problems(config: Any, transactions: pd.DataFrame | None,
                    events: pd.DataFrame | None) -> list[Problem]:
    """One problem per declared target of ``models.targets`` whose label the canonical tables
    cannot give: a filter on a transactions column the table lacks, a value or event type the
    data never holds (listing the values seen), a filter no purchase matches, a purchases,
    events or spend label without its table. Each names ``targets.<name>.label.<kind>``."""
    problems: list[Problem] = []
    for name in config.models.targets:
        entry = config.targets.get(name)
        if entry is None or entry.label.kind == "column":
            continue
        how = entry.label.kind
        key = f"targets.{name}.label.{how}"
        table_name = "events" if how == "events" else "transactions"
        table = events if how == "events" else transactions
        if table is None:
            problems.append(Problem(f"{key}: a {how} label needs the {table_name} table, which "
                                    "the data does not have", table=table_name, key=key))
            continue
        matched = np.ones(len(table), dtype=bool)
        for column, wanted in entry.label.filter.items():
            column = "event_type" if how == "events" else column
            if column not in table.columns:
                problems.append(Problem(
                    f"{key}: the transactions have no column '{column}' (declare it under "
                    f"data.transactions.{column})", table=table_name, column=column, key=key))
                break
            values = table[column]
            seen = sorted(pd.unique(values.dropna().astype(str)))
            unknown = sorted({str(v) for v in wanted} - set(seen))
            if unknown:
                more = f" and {len(seen) - 12} more" if len(seen) > 12 else ""
                problems.append(Problem(
                    f"{key}: {', '.join(unknown)} never appear(s) in {table_name}.{column}; "
                    f"values seen: {', '.join(seen[:12])}{more}", table=table_name,
                    column=column, key=key))
                break
            matched &= value_matches(values, wanted)
        else:
            if how != "events":
                matched &= table["amount"].to_numpy() > 0
            if not matched.any():
                problems.append(Problem(f"{key}: no row matches the filter "
                                        f"{dict(entry.label.filter)}", table=table_name, key=key))
    return problems


__all__ = ["target_problems", "value_matches"]
