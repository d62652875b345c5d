"""Seeded synthetic customers, transactions and events with a known segment hierarchy.

Customers belong to ``n_macro`` macro segments (value tiers: purchase rate, order value, dropout)
each split into 2-4 leaf segments that differ in category mix, channel mix, engagement and a
little in value. Purchases follow a BG/NBD-like process: a gamma-distributed Poisson rate per
customer (with November/December seasonality) and, after each purchase, a leaf-specific chance of
dropping out for good. Everything is vectorised NumPy/Arrow; the only loops run over leaves,
attributes, categories or event types. That is the default world, whose leaves are distinct enough
to be recovered; ``difficulty="hard"`` (:mod:`segml.data.synthetic.hard`) puts the same leaves in
a world like real customers.

Example
-------
>>> data = make_customers(300, seed=1)
>>> sorted(data.ground_truth.columns[:3])
['customer_id', 'true_leaf', 'true_macro']
>>> data.customers["customer_id"].iloc[16]
'0000017'
>>> bool((data.transactions["timestamp"] <= pd.Timestamp("2025-12-31")).all())
True
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segml.data.columns import draw_codes, padded, sequence, strings
from segml.data.io import write_frame_atomic
from segml.data.synthetic.customers import attribute_probs, customers_table, write_folder_config
from segml.data.synthetic.hard import HARD
from segml.data.synthetic.world import EVENT_TYPES, World, lognormal_orders
from segml.errors import DataError, Problem

logger = logging.getLogger(__name__)

CATEGORIES = ("electronics", "fashion", "home", "beauty", "sports", "grocery")
CHANNELS = ("web", "app", "store")
_EVENT_BASE_PER_MONTH = np.array([0.6, 0.4, 0.3, 0.08, 0.16, 0.03])
_POST_DROPOUT_EMAIL_OPEN = 0.3  # churned customers still open some newsletters
_CATEGORY_PRICE = np.array([1.8, 1.0, 1.3, 0.6, 1.1, 0.4])
_RETURN_PROB = np.array([0.07, 0.13, 0.05, 0.03, 0.05, 0.01])
_SEASON = np.array([0.85, 0.8, 0.9, 0.95, 1.0, 0.95, 0.9, 0.9, 1.0, 1.05, 1.45, 1.6])
# Macro archetypes (value tiers): purchases/year, mean order value, dropout prob per purchase,
# engagement multiplier. ``n_macro`` takes the first rows.
_MACROS = np.array(
    [
        [3.5, 25.0, 0.10, 0.4],
        [10.0, 90.0, 0.04, 1.0],
        [28.0, 55.0, 0.015, 2.0],
        [12.0, 300.0, 0.03, 1.2],
        [34.0, 200.0, 0.01, 2.6],
    ]
)
_LEAF_COUNTS = (2, 3, 4, 3, 3)
_DESIGN_STREAM = 0xDE5  # the design's random stream, distinct from default_rng(seed)
_MEAN_RATE = 17.0  # share-weighted purchases/year: ~20 transactions per customer
_MEAN_ENGAGEMENT = 1.2  # share-weighted engagement multiplier: ~30 events per customer


@dataclass
class SyntheticData:
    """Generated tables plus the ground truth that produced them.

    Attributes
    ----------
    customers, transactions, events : DataFrame
        Tables with the default column names of docs/configuration.md (customers include PII columns
        ``name``, ``email``, ``phone``, which :func:`segml.data.contract.load_tables` drops).
    ground_truth : DataFrame
        ``customer_id``, ``true_macro`` (``M1``), ``true_leaf`` (``M1.L2``) and latent columns.
    design : DataFrame
        One row per leaf: its share and behavioural parameters.

    Example
    -------
    >>> import tempfile
    >>> data = make_customers(50, seed=3)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     sorted(p.name for p in data.write(tmp, format="csv").values())
    ['customers.csv', 'events.csv', 'ground_truth.parquet', 'segml.yaml', 'transactions.csv']
    """

    customers: pd.DataFrame
    transactions: pd.DataFrame
    events: pd.DataFrame
    ground_truth: pd.DataFrame
    design: pd.DataFrame

    def write(self, out_dir: str | os.PathLike[str], format: str = "parquet") -> dict[str, Path]:
        """Write each table atomically to ``out_dir``; ground truth is always Parquet; and the
        ``segml.yaml`` declaring their columns' roles (:func:`write_folder_config`)."""
        if format not in ("parquet", "csv"):
            raise DataError([Problem(f"format must be 'parquet' or 'csv', got {format!r}")])
        folder = Path(out_dir)
        paths = {
            name: write_frame_atomic(getattr(self, name), folder / f"{name}.{format}")
            for name in ("customers", "transactions", "events")
        }
        paths["ground_truth"] = write_frame_atomic(self.ground_truth, folder / "ground_truth.parquet")
        paths["config"] = write_folder_config(folder)
        return paths


# ------------------------------------------------------------------------------- small helpers
class _Clock:
    """Seasonal "operational time": purchases are uniform in it, real time follows the seasons.

    ``season`` weighs the months, ``weekday`` (Monday first) the days of the week; each calendar
    day gets their product, normalised to a mean of 1 over the window.
    """

    def __init__(self, start: pd.Timestamp, horizon_days: float, season: np.ndarray = _SEASON,
                 weekday: np.ndarray | None = None):
        days = int(np.ceil(horizon_days)) + 1
        dates = pd.date_range(start, periods=days, freq="D")
        weight = season[dates.month.to_numpy() - 1]
        if weekday is not None:
            weight = weight * weekday[dates.day_of_week.to_numpy()]
        weight = weight / weight[: max(int(horizon_days), 1)].mean()
        self.t = np.arange(days + 1, dtype=np.float64)
        self.op = np.concatenate([[0.0], np.cumsum(weight)])

    def to_op(self, t: np.ndarray) -> np.ndarray:
        return np.interp(t, self.t, self.op)

    def to_real(self, op: np.ndarray) -> np.ndarray:
        real = np.interp(op, self.op, self.t)
        beyond = op > self.op[-1]
        return np.where(beyond, self.t[-1] + (op - self.op[-1]), real)


# -------------------------------------------------------------------------------- the design
def _design(rng: np.random.Generator, n_macro: int) -> pd.DataFrame:
    counts = rng.permutation(np.array(_LEAF_COUNTS[:n_macro]))
    macro = np.repeat(np.arange(n_macro), counts)
    within = np.concatenate([np.arange(c) for c in counts])
    n_leaves = len(macro)
    shares = 0.03 + (1 - 0.03 * n_leaves) * rng.dirichlet(np.full(n_leaves, 3.0))
    dom_cat = np.concatenate([rng.permutation(len(CATEGORIES))[:c] for c in counts])
    dom_chan = np.concatenate([rng.permutation(len(CHANNELS))[np.arange(c) % 3] for c in counts])
    engagement = np.concatenate([rng.permutation([0.75, 1.0, 1.35, 1.15])[:c] for c in counts])
    base = _MACROS[macro]
    rate = base[:, 0] * rng.uniform(0.8, 1.25, n_leaves)
    rate *= _MEAN_RATE / (shares * rate).sum()
    # like the purchase rate, so every design has about as many events (1.0-1.37 before: 21-35
    # events per customer)
    engagement = base[:, 3] * engagement
    engagement *= _MEAN_ENGAGEMENT / (shares * engagement).sum()
    return pd.DataFrame(
        {
            "macro": macro,
            "leaf": within,
            "share": shares,
            "purchases_per_year": rate,
            "rate_shape": rng.uniform(6.0, 9.0, n_leaves),
            "order_value": base[:, 1] * rng.uniform(0.85, 1.2, n_leaves),
            "dropout_prob": base[:, 2] * rng.uniform(0.75, 1.35, n_leaves),
            "engagement": engagement,
            "dominant_category": dom_cat,
            "dominant_channel": dom_chan,
            "quantity_p": rng.uniform(0.1, 0.35, n_leaves),
            "nps_p": rng.uniform(0.45, 0.85, n_leaves),
            "age_mean": rng.uniform(26, 58, n_leaves),
        }
        | {  # engagement events per month while alive, before per-customer variation
            f"{kind}_per_month": _EVENT_BASE_PER_MONTH[k] * engagement
            * rng.uniform(0.8, 1.25, n_leaves)
            for k, kind in enumerate(EVENT_TYPES)
        }
    )


def _mixes(rng: np.random.Generator, design: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Leaf category/channel mixes: 35% the macro's own mix, 60% the leaf's favourite, 5% uniform.

    With 60% / 35% (the former weights) sibling leaves overlapped so much that even a supervised
    logistic regression on the clustering features reached only leaf ARI ~0.80 (5k customers);
    with 35% / 60% it reaches ~0.90, so a segmentation can be held to ARI >= 0.8.
    """
    macro = design["macro"].to_numpy()
    n_macro = macro.max() + 1
    macro_cat = rng.dirichlet(np.full(len(CATEGORIES), 0.7), n_macro)[macro]
    macro_chan = rng.dirichlet(np.full(len(CHANNELS), 1.0), n_macro)[macro]
    cat = 0.35 * macro_cat + 0.6 * np.eye(len(CATEGORIES))[design["dominant_category"]] + 0.05 / 6
    chan = 0.35 * macro_chan + 0.6 * np.eye(len(CHANNELS))[design["dominant_channel"]] + 0.05 / 3
    return cat, chan


# ------------------------------------------------------------------------------------ tables


def _customer_mix(rng: np.random.Generator, leaf_mix: np.ndarray, conc: float = 50.0) -> np.ndarray:
    """Per-customer Dirichlet mixes around their leaf's mix (vectorised through gammas)."""
    draws = rng.gamma(conc * leaf_mix + 0.05)
    return draws / draws.sum(axis=1, keepdims=True)


def _transactions(rng, design, leaf, count, times, cat_mix, chan_mix, ids, start, horizon, *,
                  order_values: Callable = lognormal_orders, concentration: float = 50.0):
    """Order lines and returns; ``order_values(rng, design, leaf, cust)`` gives each order's value
    before category price and basket size, ``concentration`` how close customers keep to their
    leaf's category and channel mix."""
    n = len(leaf)
    cust = np.repeat(np.arange(n, dtype=np.int64), count)
    row_leaf = leaf[cust]
    category = draw_codes(rng, _customer_mix(rng, cat_mix[leaf], concentration), cust)
    channel = draw_codes(rng, _customer_mix(rng, chan_mix[leaf], concentration), cust)
    quantity = 1 + rng.binomial(4, design["quantity_p"].to_numpy()[row_leaf]).astype(np.int8)
    order_value = order_values(rng, design, leaf, cust)
    # Category price and basket size modulate each order around the leaf's order value, so that
    # ``order_value`` stays the leaf's mean order value (its value tier) whatever it buys; with
    # raw category prices (0.4x-1.8x) an electronics leaf of a low tier out-spent a grocery leaf
    # of a higher tier per order and the tiers were no longer value tiers.
    leaf_price = (cat_mix @ _CATEGORY_PRICE)[row_leaf]
    leaf_basket = 1.0 + design["quantity_p"].to_numpy()[row_leaf]  # mean of 0.75 + 0.25 * quantity
    amount = (order_value * _CATEGORY_PRICE[category] / leaf_price * (0.75 + 0.25 * quantity)
              / leaf_basket)
    amount = np.round(np.maximum(amount, 1.0), 2)
    returned = np.flatnonzero(rng.random(len(cust)) < _RETURN_PROB[category])
    return_time = times[returned] + rng.uniform(1.0, 30.0, len(returned))
    keep = return_time <= horizon
    returned, return_time = returned[keep], return_time[keep]
    rows = np.concatenate([np.arange(len(cust)), returned])  # returns follow all purchases
    sign = np.where(np.arange(len(rows)) >= len(cust), -1.0, 1.0)
    width = max(9, len(str(len(rows))) + 1)
    return pd.DataFrame(
        {
            "customer_id": pc.take(ids, pa.array(cust[rows])).to_pandas(),
            "order_id": sequence("O", len(rows), width).to_pandas(),
            "timestamp": _to_datetime(start, np.concatenate([times, return_time])),
            "amount": amount[rows] * sign,
            "quantity": quantity[rows],
            "category": strings(pa.array(CATEGORIES), category[rows]),
            "channel": strings(pa.array(CHANNELS), channel[rows]),
        }
    )


def _events(rng, design, leaf, signup, latent, ids, start, horizon, *,
            clock: _Clock | None = None, engagement_shape: float = 6.0):
    """Engagement events, uniform in real time or, given a ``clock``, in its seasonal time."""
    n = len(leaf)
    engagement = rng.gamma(engagement_shape, 1 / engagement_shape, n)
    alive_end = np.minimum(latent["true_dropout_day"], horizon)
    months = np.maximum(alive_end - signup, 0.0) / 30.44
    after_months = np.maximum(horizon - alive_end, 0.0) / 30.44
    speed = np.sqrt(latent["true_purchase_rate"] / 12.0)
    cust_parts, day_parts, type_parts = [], [], []
    for k, kind in enumerate(EVENT_TYPES):
        base = design[f"{kind}_per_month"].to_numpy()[leaf]
        mult = engagement * (speed if kind == "cart_add" else 1.0)
        windows = [(signup, alive_end, months, 1.0)]
        if kind == "email_open":
            windows.append((alive_end, np.full(n, horizon), after_months, _POST_DROPOUT_EMAIL_OPEN))
        for lo, hi, length, factor in windows:
            count = rng.poisson(base * factor * mult * length)
            cust = np.repeat(np.arange(n, dtype=np.int64), count)
            if clock is None:
                day = lo[cust] + rng.random(len(cust)) * (hi - lo)[cust]
            else:
                op_lo, op_hi = clock.to_op(lo), clock.to_op(hi)
                day = clock.to_real(op_lo[cust] + rng.random(len(cust)) * (op_hi - op_lo)[cust])
            cust_parts.append(cust)
            day_parts.append(day)
            type_parts.append(np.full(len(cust), k, dtype=np.int8))
    cust, day, kind = (np.concatenate(p) for p in (cust_parts, day_parts, type_parts))
    return pd.DataFrame(  # rows grouped by event type, then customer (not sorted by time)
        {
            "customer_id": pc.take(ids, pa.array(cust)).to_pandas(),
            "timestamp": _to_datetime(start, np.minimum(day, horizon)),
            "event_type": strings(pa.array(EVENT_TYPES), kind),
        }
    )


DIFFICULTIES = ("default", "hard")


def _world(difficulty: str) -> World:
    if difficulty not in DIFFICULTIES:
        valid = ", ".join(repr(d) for d in DIFFICULTIES)
        raise DataError([Problem(f"difficulty must be one of {valid}, got {difficulty!r}")])
    if difficulty == "hard":
        return HARD
    return World()


def _to_datetime(start: pd.Timestamp, days: np.ndarray) -> np.ndarray:
    """Days since ``start`` as naive ``datetime64[ns]``, truncated to whole seconds."""
    seconds = np.floor(days * 86_400.0).astype(np.int64)
    return (seconds * 1_000_000_000 + start.value).view("datetime64[ns]")


# ------------------------------------------------------------------------------------ public
def make_customers(
    n_customers: int,
    seed: int = 0,
    *,
    start: str | pd.Timestamp = "2023-01-01",
    end: str | pd.Timestamp = "2025-12-31",
    n_macro: int = 4,
    design_seed: int | None = 0,
    difficulty: str = "default",
) -> SyntheticData:
    """Generate customers, transactions and events with a nested ground-truth segmentation.

    Parameters
    ----------
    n_customers : int
        Number of customers (about 20 transactions and 30 events each on average).
    seed : int
        Seed of the customers drawn; the same ``n_customers``, ``seed`` and ``design_seed`` give
        identical frames.
    design_seed : int or None
        Seed of the *design*: the leaves' shares, value tiers, category/channel mixes and
        attribute distributions, i.e. the company the customers come from. The default (0) keeps
        one company for every ``seed``, so customers generated with another ``seed`` are new
        customers of the same segments (what a model fitted on one sample must recognise).
        None draws the design from ``seed`` (a different company per seed).
    start, end : str or Timestamp
        The observation window; every timestamp lies in ``[start, end]``.
    n_macro : int
        Number of macro segments (3-5), each with 2-4 leaves (``3 * n_macro`` leaves in total).
    difficulty : {"default", "hard"}
        ``"default"``: the world above, whose leaves were made distinct enough to be recovered
        (what the defaults were tuned on; its output never changes). ``"hard"``: the same leaves,
        shares and ``ground_truth`` columns in a world like real customers
        (:mod:`segml.data.synthetic.hard` has the model and its parameters): leaf parameters
        pulled halfway together and large per-customer heterogeneity, so leaves overlap;
        Pareto/NBD purchasing (a first purchase at sign-up, then a Poisson rate
        ``lambda ~ Gamma(r, r / mean)`` with ``r`` 0.35-0.6, and an exponential lifetime with
        dropout rate ``mu ~ Gamma(s, s / mean)``, ``s`` 0.6-1.0: ~30% one-time buyers, most
        customers die and never come back); gamma-gamma spend (orders ``~ Gamma(p, nu)``,
        ``nu ~ Gamma(q, gamma)``, ``p`` 3-5, ``q`` 2.3-3: a few whales); a Q4 peak and a weekend
        peak in purchase and event times; gender, region and acquisition channel independent of
        everything, country, industry, company size, device, age and NPS only weakly related.

    Returns
    -------
    SyntheticData

    Example
    -------
    >>> data = make_customers(200, seed=7)
    >>> len(data.customers), data.ground_truth["true_macro"].nunique()
    (200, 4)
    >>> bool(data.transactions["order_id"].is_unique), bool((data.transactions["amount"] < 0).any())
    (True, True)
    """
    world = _world(difficulty)
    if not 3 <= n_macro <= 5:
        raise DataError([Problem(f"n_macro must be between 3 and 5, got {n_macro}")])
    if n_customers < 1:
        raise DataError([Problem(f"n_customers must be positive, got {n_customers}")])
    start_ts, end_ts = pd.Timestamp(start).normalize(), pd.Timestamp(end)
    horizon = (end_ts - start_ts) / pd.Timedelta(days=1)
    if horizon < 60:
        raise DataError([Problem(f"the window {start_ts.date()}..{end_ts.date()} is shorter than 60 days")])
    rng = np.random.default_rng(seed)
    design_rng = rng if design_seed is None else np.random.default_rng([design_seed, _DESIGN_STREAM])
    design = _design(design_rng, n_macro)
    cat_mix, chan_mix = _mixes(design_rng, design)
    attr_probs, device_probs = attribute_probs(design_rng, design, chan_mix)
    if world.harden is not None:
        design, cat_mix, chan_mix, attr_probs, device_probs = world.harden(
            design_rng, design, cat_mix, chan_mix, attr_probs, device_probs
        )
    leaf = rng.choice(len(design), size=n_customers, p=design["share"].to_numpy())
    width = max(7, len(str(n_customers)) + 1)
    ids = sequence("", n_customers, width)
    customers, signup, nps = customers_table(rng, ids, leaf, design, attr_probs, device_probs,
                                             start_ts, horizon)
    latent_nps = np.where(np.isnan(nps), 7.0, nps)
    clock = _Clock(start_ts, horizon, _SEASON if world.season is None else np.array(world.season),
                   None if world.weekday is None else np.array(world.weekday))
    count, times, latent = world.purchases(rng, design, leaf, signup, latent_nps, clock, horizon)
    transactions = _transactions(
        rng, design, leaf, count, times, cat_mix, chan_mix, ids, start_ts, horizon,
        order_values=world.order_values, concentration=world.concentration,
    )
    events = _events(rng, design, leaf, signup, latent, ids, start_ts, horizon,
                     clock=clock if world.seasonal_events else None,
                     engagement_shape=world.engagement_shape)
    macro = design["macro"].to_numpy()[leaf] + 1
    leaf_in_macro = design["leaf"].to_numpy()[leaf] + 1
    macro_names = padded("M", macro, 1)
    ground_truth = pd.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "true_macro": macro_names.to_pandas(),
            "true_leaf": pc.binary_join_element_wise(
                macro_names, padded("L", leaf_in_macro, 1), "."
            ).to_pandas(),
            "true_purchase_rate": latent["true_purchase_rate"],
            "true_dropout_prob": latent["true_dropout_prob"],
            "true_dropout_date": _to_datetime(start_ts, np.minimum(latent["true_dropout_day"], 36_500.0)),
            "true_alive_at_end": latent["true_alive_at_end"],
        }
    )
    design.insert(0, "true_leaf", [f"M{m + 1}.L{k + 1}" for m, k in zip(design["macro"], design["leaf"], strict=True)])
    design.insert(0, "true_macro", [f"M{m + 1}" for m in design["macro"]])
    design["category_mix"] = [dict(zip(CATEGORIES, np.round(row, 3).tolist(), strict=True)) for row in cat_mix]
    design["channel_mix"] = [dict(zip(CHANNELS, np.round(row, 3).tolist(), strict=True)) for row in chan_mix]
    design["dominant_category"] = np.array(CATEGORIES)[design["dominant_category"]]
    design["dominant_channel"] = np.array(CHANNELS)[design["dominant_channel"]]
    design = design.drop(columns=["macro", "leaf"])
    logger.info(
        "generated %d customers, %d transactions, %d events (seed %d, %s design)",
        n_customers, len(transactions), len(events), seed, difficulty,
    )
    return SyntheticData(customers, transactions, events, ground_truth, design)
