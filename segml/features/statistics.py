"""The population statistics a :class:`~segml.features.FeatureSpec` is learned from, as mergeable parts.

Learning a spec needs a few quantities over *all* customers: how often each category, channel,
event type and attribute value occurs, and the BG/NBD parameters. :func:`fit_statistics` computes
them for one set of tables; :func:`merge_statistics` adds up the statistics of disjoint sets of
customers (counts are summed, BG/NBD candidates concatenated); :func:`spec_from_statistics` learns
the spec from them. ``FeatureSpec.fit`` is the composition of the three on one machine, and the
Spark engine (:mod:`segml.scale.spark_features`) runs :func:`fit_statistics` on each partition of
customers, merges on the cluster and learns the spec once on the driver: both engines learn the
same spec from the same data.

The BG/NBD model is fitted on at most ``sample_size`` purchasers. They are the ones with the
smallest seeded hash of their id (:func:`sample_order`), taken in that order, so the sample and
the order of the likelihood's terms do not depend on how the rows were partitioned.

Example
-------
>>> a = FitStatistics(mode="behavioural", counts={"channel": {"web": 2}})
>>> b = FitStatistics(mode="behavioural", counts={"channel": {"web": 1, "store": 3}})
>>> merge_statistics([a, b]).counts
{'channel': {'web': 3, 'store': 3}}
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from segml.config import SegmlConfig
from segml.data.contract import Tables
from segml.features.btyd import BetaGeoFitter
from segml.features.purchases import purchase_summary
from segml.features.timeline import as_cutoff, known_at

log = logging.getLogger(__name__)

#: Keys of :attr:`FitStatistics.counts` for attribute columns start with this.
ATTRIBUTE = "attribute:"
_BTYD = ("order", "x", "t_x", "T")


@dataclass
class FitStatistics:
    """Mergeable population statistics of one set of customers.

    Attributes
    ----------
    mode : {"behavioural", "attributes"}
    roles : dict
        Attribute role -> columns present.
    counts : dict
        ``"category"``, ``"channel"`` (purchases at or before the cutoff), ``"event_type"``
        (events at or before it) and ``"attribute:<column>"`` (string attributes of the customers
        known then) -> value text -> count. A key is present (maybe with no values) exactly when
        the column exists.
    btyd : dict of arrays
        Per purchaser before the cutoff: ``order`` (:func:`sample_order`), ``x``, ``t_x``, ``T``.
    has_events : bool
        Whether an events table was present.
    """

    mode: str
    roles: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    btyd: dict[str, np.ndarray] | None = None
    has_events: bool = False


def sample_order(customer_ids: pd.Series | np.ndarray, seed: int) -> np.ndarray:
    """A seeded pseudo-random int64 key per customer id, independent of row order.

    Examples
    --------
    >>> key = sample_order(pd.Series(["a", "b"]), seed=0)
    >>> key.dtype, (sample_order(pd.Series(["b", "a"]), seed=0)[::-1] == key).all()
    (dtype('int64'), np.True_)
    """
    text = np.asarray(pd.Series(customer_ids).astype(str).to_numpy(), dtype=object)
    hashed = pd.util.hash_array(text, hash_key=f"segml{seed:011d}"[-16:], categorize=False)
    return hashed.view(np.int64)


def text_counts(values: pd.Series, mask: np.ndarray | None = None) -> dict[str, int]:
    """Non-missing values (as text) -> their count among the ``mask`` rows; a categorical is
    counted by its codes (one bincount, not tens of millions of strings). Levels that read the
    same as text are added up, as the text value counts did.

    Examples
    --------
    >>> text_counts(pd.Series(["b", "a", None, "b"], dtype="category"), np.array([1, 1, 1, 0], bool))
    {'a': 1, 'b': 1}
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        if mask is not None:
            codes = codes[mask]
        counts = np.bincount(codes[codes >= 0], minlength=len(values.cat.categories))
        out: dict[str, int] = {}
        for level, n in zip(values.cat.categories.astype(str), counts.tolist(), strict=True):
            if n:  # levels, not rows
                out[level] = out.get(level, 0) + n
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))
    if mask is not None:
        values = values[mask]
    counts = values.dropna().astype(str).value_counts()
    return {str(v): int(n) for v, n in counts.items()}


def _is_numeric(values: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            and not isinstance(values.dtype, pd.CategoricalDtype))


def fit_statistics(tables: Tables, cutoff: object, config: SegmlConfig) -> FitStatistics:
    """The statistics of ``tables`` at ``cutoff`` (ignored in attributes mode).

    Examples
    --------
    >>> from segml.data.contract import load_tables
    >>> cust = pd.DataFrame({"customer_id": ["1", "2"], "city": ["Oslo", "Rome"]})
    >>> tx = pd.DataFrame({"customer_id": ["1", "1", "2"], "amount": [5.0, 7.0, 2.0],
    ...                    "timestamp": ["2024-01-02", "2024-01-09", "2024-03-01"]})
    >>> cfg = SegmlConfig(data={"now": "2025-01-01", "customers": {
    ...     "attributes": {"geographic": ["city"]}}})
    >>> stats = fit_statistics(load_tables(cfg, customers=cust, transactions=tx), "2024-01-31", cfg)
    >>> stats.counts, stats.btyd["x"]
    ({'attribute:city': {'Oslo': 1}}, array([1.]))
    """

    roles = {r: list(c) for r, c in tables.attribute_roles.items() if c}
    stats = FitStatistics(mode=tables.mode, roles=roles, has_events=tables.events is not None)
    known = np.ones(len(tables.customers), dtype=bool)
    if tables.transactions is not None:
        c = as_cutoff(cutoff)
        tx = tables.transactions
        buy = ((tx["timestamp"] <= c) & (tx["amount"] > 0)).to_numpy()
        for column in ("category", "channel"):
            if column in tx.columns:
                stats.counts[column] = text_counts(tx[column], buy)
        if tables.events is not None:
            ev = tables.events
            stats.counts["event_type"] = text_counts(ev["event_type"],
                                                       (ev["timestamp"] <= c).to_numpy())
        known = known_at(tables, c)
        if config.features.btyd:
            summary = purchase_summary(tables, c)
            rows = np.flatnonzero(~np.isnan(summary["x"]))
            ids = tables.customers["customer_id"].iloc[rows]
            stats.btyd = {"order": sample_order(ids, config.seed)} | {
                name: summary[name][rows] for name in _BTYD[1:]}
    customers = tables.customers.loc[known]
    for column in (c for cols in roles.values() for c in cols):
        if not _is_numeric(customers[column]):
            stats.counts[ATTRIBUTE + column] = text_counts(customers[column])
    return stats


def merge_statistics(parts: list[FitStatistics]) -> FitStatistics:
    """Statistics of the union of disjoint sets of customers (same columns in every part)."""
    first = parts[0]
    counts: dict[str, Counter] = {}
    for part in parts:
        for key, values in part.counts.items():
            counts.setdefault(key, Counter()).update(values)
    btyd_parts = [p.btyd for p in parts if p.btyd is not None]
    btyd = ({name: np.concatenate([b[name] for b in btyd_parts]) for name in _BTYD}
            if btyd_parts else None)
    return FitStatistics(mode=first.mode, roles=first.roles,
                         counts={k: dict(v) for k, v in counts.items()}, btyd=btyd,
                         has_events=any(p.has_events for p in parts))


def top_counts(counts: dict[str, int], limit: int) -> tuple[list[str], bool]:
    """The ``limit`` most frequent values (ties by text) and whether rarer ones exist.

    Examples
    --------
    >>> top_counts({"a": 1, "b": 2, "c": 2}, 2)
    (['b', 'c'], True)
    """
    ordered = [v for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n > 0]
    return ordered[:limit], len(ordered) > limit


def select_btyd_sample(btyd: dict[str, np.ndarray], sample_size: int) -> dict[str, np.ndarray]:
    """The ``sample_size`` purchasers with the smallest order keys, in key order."""
    order = np.argsort(btyd["order"], kind="stable")[:sample_size]
    return {name: values[order] for name, values in btyd.items()}


def fit_btyd(btyd: dict[str, np.ndarray] | None, penalizer: float, sample_size: int,
             cutoff: object = None) -> dict | None:
    """BG/NBD parameters from the purchasers' statistics (None without a repeat purchase)."""
    if btyd is None or not (btyd["x"] > 0).any():
        log.warning("no repeat purchase before %s: BG/NBD features are skipped", cutoff)
        return None
    sample = select_btyd_sample(btyd, sample_size)
    model = BetaGeoFitter(penalizer=penalizer).fit(sample["x"], sample["t_x"], sample["T"])
    if not model.converged_:
        log.warning("BG/NBD fit at %s did not fully converge", cutoff)
    return model.to_dict()
