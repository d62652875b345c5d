"""Who batch scoring covers: every customer a row.

:func:`every_customer` gives each customer of the customers table a row, so a customer the data
does not know at the cutoff is flagged instead of silently missing. The cutoff itself is
resolved by :func:`segml.features.plan.resolve_cutoff`, the one home of that rule.

Example
-------
>>> import pandas as pd
>>> from types import SimpleNamespace
>>> tables = SimpleNamespace(customers=pd.DataFrame({"customer_id": ["a", "b"]}),
...                          sources={})
>>> scores = pd.DataFrame({"customer_id": ["a"], "lifecycle_stage": ["active"],
...                        "churn_probability": [0.2]})
>>> every_customer(scores, tables, None, print)[["customer_id", "lifecycle_stage"]]  # doctest: +ELLIPSIS
warning: table 'customers', column 'customer_id': 1 customer(s) have no signup date, ...
  customer_id lifecycle_stage
0           a          active
1           b      no history
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from segml.data.contract import Tables
from segml.errors import Problem

NO_HISTORY = "no history"
#: What a customer unknown at the cutoff gets beside null scores and segments (every engine).
NO_HISTORY_FILLS = {"lifecycle_stage": NO_HISTORY, "predictive_segment": NO_HISTORY.capitalize()}


def every_customer(scores: pd.DataFrame, tables: Tables, at: pd.Timestamp | None,
                    on_warning: Callable[[Problem], None]) -> pd.DataFrame:
    """One row per customer of the customers table, in its order; those the features left out
    (unknown at the cutoff) get null scores, ``lifecycle_stage = "no history"`` and, when the
    model gives predictive segments, that cell too (outside every population: a cell of its own,
    so every customer has one)."""
    ids = tables.customers["customer_id"]
    known = ids.isin(scores["customer_id"])
    if known.all():
        return scores
    when = f" at {at.date()}" if at is not None else ""
    on_warning(Problem(
        f"{int((~known).sum())} customer(s) have no signup date, order or event{when}: scored "
        f"with lifecycle_stage '{NO_HISTORY}' and no segment or probabilities",
        "warning", tables.sources.get("customers"), "customers", "customer_id"))
    out = scores.set_index("customer_id").reindex(pd.Index(ids, name="customer_id"))
    if "lifecycle_stage" in out:
        stage = out["lifecycle_stage"]
        if isinstance(stage.dtype, pd.CategoricalDtype) and NO_HISTORY not in stage.cat.categories:
            stage = stage.cat.add_categories([NO_HISTORY])
        out["lifecycle_stage"] = stage.where(known.to_numpy(), NO_HISTORY_FILLS["lifecycle_stage"])
    if "predictive_segment" in out:
        out["predictive_segment"] = out["predictive_segment"].astype(object).where(
            known.to_numpy(), NO_HISTORY_FILLS["predictive_segment"])
    return out.reset_index()
