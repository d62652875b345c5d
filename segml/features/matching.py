"""The rows a declared target's filter matches (docs/targets.md), shared by its labels after a
cutoff (:mod:`segml.features.labels`) and its history features before it
(:mod:`segml.features.behaviour`): one definition of "matching", so a target's features and its
label read the same rows on either side of the cutoff.

Example
-------
>>> from types import SimpleNamespace
>>> cust = pd.DataFrame({"customer_id": ["a", "b"]})
>>> ev = pd.DataFrame({"customer_id": ["a", "b", "b"], "event_type": ["x", "y", "x"],
...                    "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-02-01"])})
>>> tables = SimpleNamespace(customers=cust, events=ev)
>>> event_counts(tables, ["x"], to_ns(pd.Timestamp("2023-12-31")),
...              to_ns(pd.Timestamp("2024-01-31"))).tolist()
[1.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from segml.data.contract import Tables
from segml.data.targets import value_matches
from segml.errors import DataError, Problem
from segml.features.timeline import DAY_NS, by_time, cached, to_ns


def transaction_matches(tables: Tables, column: str, values: Sequence[Any]) -> np.ndarray:
    """Per transaction row (the table's order), whether ``column`` holds one of ``values``;
    cached for the lifetime of the tables. A column the table does not have is a DataError
    naming it."""
    tx = tables.transactions
    if column not in tx.columns:
        raise DataError([Problem(
            f"a target filters on transactions column '{column}', which the transactions do not "
            f"have (declare it under data.transactions.{column})", table="transactions",
            column=column)])
    return cached(f"matches:{column}:{sorted(map(str, values))!r}", tables.customers, tx,
                  lambda: value_matches(tx[column], values))


def event_counts(tables: Tables, types: Sequence[Any], start: int, stop: int) -> np.ndarray:
    """Per customer row, the events of ``types`` in ``(start, stop]`` (epoch ns); zeros without
    an events table."""
    n = len(tables.customers)
    if tables.events is None:
        return np.zeros(n)
    rows = by_time(tables.customers, tables.events)
    wanted = event_matches(tables, types)
    window = slice(rows.upto(start), rows.upto(stop))
    return np.bincount(rows.pos[window][wanted[window]], minlength=n).astype("float64")

def event_matches(tables: Tables, types: Sequence[Any]) -> np.ndarray:
    """Per event in :func:`~segml.features.timeline.by_time` order, whether its type is one of
    ``types`` (cached for the lifetime of the tables)."""
    events = tables.events
    rows = by_time(tables.customers, events)
    return cached(f"event_matches:{sorted(map(str, types))!r}", tables.customers, events,
                  lambda: value_matches(events["event_type"], types)[rows.rows])


def history(tables: Tables, cutoff: pd.Timestamp, kind: str, spec: dict[str, Any]
            ) -> dict[str, np.ndarray]:
    """Per customer row, what matched a target's filter at or before ``cutoff``: ``count``
    (matching purchases or events), ``recency_days`` (days since the last one, NaN: none) and,
    for purchases and spend filters, ``spend`` (net amount of the matching transactions).
    Nothing after the cutoff is read."""
    n, c = len(tables.customers), to_ns(cutoff)
    never = np.iinfo(np.int64).min
    if kind == "events":
        types = [v for vs in spec.values() for v in vs]
        if tables.events is None:
            return {"count": np.zeros(n), "recency_days": np.full(n, np.nan)}
        rows = by_time(tables.customers, tables.events)
        k = rows.upto(c)
        hit = event_matches(tables, types)[:k]
        pos, ts = rows.pos[:k][hit], rows.ts[:k][hit]
        out = {"count": np.bincount(pos, minlength=n).astype("float64")}
    else:
        from segml.features.purchases import transaction_arrays

        positions, ts_all, amounts, purchase = transaction_arrays(tables)
        rows = ts_all <= c
        for column, values in spec.items():
            rows = rows & transaction_matches(tables, column, values)
        bought = rows & purchase
        out = {"count": np.bincount(positions[bought], minlength=n + 1)[:n].astype("float64"),
               "spend": np.bincount(positions[rows], weights=amounts[rows],
                                    minlength=n + 1)[:n]}
        pos, ts = positions[bought], ts_all[bought]
    last = np.full(n + 1, never)
    np.maximum.at(last, pos, ts)
    last = last[:n]
    recency = np.full(n, np.nan)
    seen = last > never
    recency[seen] = (c - last[seen]) / DAY_NS
    out["recency_days"] = recency
    return out


__all__ = ["event_counts", "event_matches", "history", "transaction_matches"]
