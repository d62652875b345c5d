"""Labels after a cutoff (SPEC section 2) and stacked training sets over several cutoffs.

At cutoff ``c`` (a purchase is a transaction with a positive amount):

* ``is_active``: at least one purchase in ``(c - activity_window_days, c]``;
* ``churn``: 1.0 when an active customer makes no purchase in ``(c, c + churn_horizon]``, 0.0 when
  they do, NaN for customers not active at ``c``;
* ``purchase``: 1.0 when there is at least one purchase in ``(c, c + purchase_horizon]``;
* ``future_spend``: net amount (purchases minus returns) in ``(c, c + clv_horizon]``, clipped at 0;
* ``high_clv``: 1.0 when ``future_spend`` is strictly above the ``high_clv_quantile`` of the
  population's future spend *and* above 0 (so ties and non-spenders are never high CLV).

The population is exactly :func:`~segml.features.build_features`' (customers known at ``c``).
In attributes mode the explicit ``label_<target>`` columns are returned under the target names.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segml.config import TimeConfig
from segml.data.contract import Tables
from segml.errors import DataError, Problem
from segml.features.timeline import DAY_NS, as_cutoff, known_at, row_positions, to_ns

log = logging.getLogger(__name__)

LABELS = ("is_active", "churn", "purchase", "future_spend", "high_clv")


def make_labels(tables: Tables, cutoff: object, time_cfg: TimeConfig) -> pd.DataFrame:
    """Outcome labels at ``cutoff`` for every customer known then.

    Parameters
    ----------
    tables : Tables
        Canonical tables.
    cutoff : Timestamp or None
        Features end here; label windows start right after it (ignored in attributes mode).
    time_cfg : TimeConfig
        Activity window, horizons and ``high_clv_quantile``.

    Returns
    -------
    DataFrame
        Index ``customer_id``; columns ``is_active`` (bool), ``churn``, ``purchase``,
        ``future_spend``, ``high_clv`` (float64). Attributes mode: one float column per explicit
        label target.

    Examples
    --------
    >>> from segml.config import SegmlConfig
    >>> from segml.data.contract import load_tables
    >>> cust = pd.DataFrame({"customer_id": ["a", "b", "c"]})
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b", "c"],
    ...     "timestamp": ["2024-01-10", "2024-02-10", "2024-01-20", "2024-03-15"],
    ...     "amount": [10.0, 30.0, 5.0, 8.0]})
    >>> tables = load_tables(SegmlConfig(data={"now": "2025-01-01"}), customers=cust,
    ...                      transactions=tx)
    >>> make_labels(tables, "2024-01-31", TimeConfig(high_clv_quantile=0.5))
                 is_active  churn  purchase  future_spend  high_clv
    customer_id
    a                 True    0.0       1.0          30.0       1.0
    b                 True    1.0       0.0           0.0       0.0
    """
    customers = tables.customers
    if tables.transactions is None:
        labels = {target: customers[f"label_{target}"].to_numpy(dtype="float64")
                  for target in tables.label_columns}
        if not labels:
            raise DataError([Problem("no transactions and no explicit label columns",
                                     table="customers")])
        return pd.DataFrame(labels, index=pd.Index(customers["customer_id"], name="customer_id"))
    c_ts = as_cutoff(cutoff)
    c = to_ns(c_ts)
    n = len(customers)
    tx = tables.transactions
    positions = row_positions(customers, tx)
    ts_all = tx["timestamp"].to_numpy().astype("datetime64[ns]").view(np.int64)
    longest = max(time_cfg.churn_horizon_days, time_cfg.purchase_horizon_days,
                  time_cfg.clv_horizon_days)
    near = ((ts_all > c - time_cfg.activity_window_days * DAY_NS)
            & (ts_all <= c + longest * DAY_NS) & (positions >= 0))
    pos, ts = positions[near], ts_all[near]
    amount = tx["amount"].to_numpy(dtype="float64")[near]
    buy = amount > 0

    def after(days: int) -> np.ndarray:
        return (ts > c) & (ts <= c + days * DAY_NS)

    in_clv = after(time_cfg.clv_horizon_days)
    got = {"active": np.bincount(pos[buy & (ts <= c)], minlength=n),
           "bought_churn": np.bincount(pos[buy & after(time_cfg.churn_horizon_days)], minlength=n),
           "bought": np.bincount(pos[buy & after(time_cfg.purchase_horizon_days)], minlength=n),
           "spend": np.bincount(pos[in_clv], weights=amount[in_clv], minlength=n)}
    known = known_at(tables, c_ts)
    latest = tx["timestamp"].max()
    if c_ts + pd.Timedelta(days=longest) > latest:
        log.warning("label windows after %s run past the last transaction (%s): labels are "
                    "censored", c_ts, latest)
    active = np.nan_to_num(got["active"]) > 0
    churn = np.where(active, (np.nan_to_num(got["bought_churn"]) == 0).astype("float64"), np.nan)
    purchase = (np.nan_to_num(got["bought"]) > 0).astype("float64")
    spend = np.clip(np.nan_to_num(got["spend"]), 0.0, None)
    population = spend[known]
    threshold = float(np.quantile(population, time_cfg.high_clv_quantile)) if len(population) else 0.0
    high = ((spend > threshold) & (spend > 0)).astype("float64")
    index = pd.Index(customers["customer_id"][known], name="customer_id")
    return pd.DataFrame({"is_active": active[known], "churn": churn[known],
                         "purchase": purchase[known], "future_spend": spend[known],
                         "high_clv": high[known]}, index=index)


@dataclass
class TrainingSet:
    """Features and labels stacked over several cutoffs; rows are (cutoff, customer) pairs.

    ``X.index`` and ``Y.index`` repeat customer ids (one block per cutoff, oldest first);
    ``cutoff`` gives each row's cutoff, aligned row for row.
    """

    X: pd.DataFrame
    Y: pd.DataFrame
    cutoff: pd.Series

    def __len__(self) -> int:
        return len(self.X)


def stack_training_set(tables: Tables, cutoffs: list, spec, time_cfg: TimeConfig) -> TrainingSet:
    """Build features (with one fixed ``spec``) and labels at each cutoff and stack them.

    Parameters
    ----------
    tables : Tables
        Canonical tables.
    cutoffs : list of Timestamp
        E.g. ``plan_cutoffs(...).train``.
    spec : FeatureSpec
        Fixed for every cutoff, so all blocks share columns and categories.
    time_cfg : TimeConfig
        Label settings.

    Examples
    --------
    >>> from segml.config import SegmlConfig
    >>> from segml.data.contract import load_tables
    >>> from segml.features.behaviour import FeatureSpec
    >>> cust = pd.DataFrame({"customer_id": [1, 2]})
    >>> tx = pd.DataFrame({"customer_id": [1, 1, 2, 2], "amount": [5.0, 6.0, 7.0, 8.0],
    ...     "timestamp": ["2024-01-05", "2024-02-05", "2024-01-20", "2024-03-05"]})
    >>> cfg = SegmlConfig(data={"now": "2025-01-01"}, features={"btyd": False})
    >>> tables = load_tables(cfg, customers=cust, transactions=tx)
    >>> spec = FeatureSpec.fit(tables, "2024-01-31", cfg)
    >>> ts = stack_training_set(tables, ["2024-01-10", "2024-01-31"], spec, cfg.time)
    >>> ts.X.index.tolist(), ts.Y["purchase"].tolist()
    ([1, 1, 2], [1.0, 1.0, 0.0])
    """
    from segml.features.behaviour import build_features

    xs, ys, cs = [], [], []
    for cutoff in cutoffs:
        c = as_cutoff(cutoff)
        X = build_features(tables, c, spec)
        Y = make_labels(tables, c, time_cfg)
        if not X.index.equals(Y.index):
            Y = Y.reindex(X.index)
        xs.append(X)
        ys.append(Y)
        cs.append(pd.Series(c, index=X.index, name="cutoff", dtype="datetime64[ns]"))
        log.info("cutoff %s: %d customers", c.date(), len(X))
    if not xs:
        raise DataError([Problem("no training cutoff to stack", key="time.training_cutoffs")])
    return TrainingSet(X=pd.concat(xs), Y=pd.concat(ys), cutoff=pd.concat(cs))
