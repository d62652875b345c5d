"""The hard synthetic world: ``make_customers(..., difficulty="hard")``.

The default world's leaves were made distinct until the truth was recoverable and segml's defaults
were tuned on it. This world keeps the same company (the same leaves, shares, favourite categories
and channels, and the same ``ground_truth`` columns) and gives it customers who behave like real
ones. For leaf ``l`` and customer ``i``:

- **Overlap.** Leaf purchase rates, order values and engagement keep half of their log deviation
  from the share-weighted geometric mean (``_KEEP``); category and channel mixes keep 60% of the
  default leaf mix, the rest is uniform; each customer's mixes ~ Dirichlet(12 x leaf mix) (default
  world: 50), and the per-customer rates below vary far more than the leaves do. A logistic
  regression on per-customer summaries (orders, order value, category, channel and event mixes)
  tells the true leaf of ~52% of 2,000 customers (default world: ~95%).
- **Purchasing (Pareto/NBD).** A first purchase at sign-up + Exp(mean 3 days) of seasonal time;
  then, while alive, a Poisson process in seasonal time with rate ``lambda_i ~ Gamma(r_l, r_l /
  m_l)`` (mean ``m_l`` per year, ``r_l ~ U(0.35, 0.6)``). The lifetime after the first purchase is
  Exp(``mu_i``), ``mu_i ~ Gamma(s_l, s_l / d_l) * exp(-0.08 (NPS_i - 7))`` with ``s_l ~
  U(0.6, 1.0)`` and ``d_l`` about 0.75-1.5 per year (lower value tiers leave sooner): ~30% of the
  customers buy once, ~60% are gone by the end and never come back. ``m_l`` (``purchases_per_year``)
  is scaled so that a customer of a 3-year window makes about 19 purchases on average, like the
  default world.
- **Spend (gamma-gamma).** Order values ``z ~ Gamma(p_l, nu_i)`` (shape, rate), ``nu_i ~
  Gamma(q_l, g_l)``: a customer's mean order value ``p_l / nu_i`` is inverse-gamma with mean
  ``order_value_l`` and a heavy tail (``p_l ~ U(3, 5)``, ``q_l ~ U(2.3, 3.0)``: a few whales);
  category price and basket size then modulate each order as in the default world.
- **Seasons.** Purchase and event times follow month weights with a Q4 peak (``SEASON``: December
  2.5x February) and a weekend peak (``WEEKDAY``: Saturday 1.5x Tuesday).
- **Attributes.** Gender, region and acquisition channel have one distribution for every leaf
  (independent of the segments and of every outcome); country, industry, company size and device
  keep a quarter of their leaf's deviation from the average distribution; leaf mean age and NPS
  keep 30%. Per-customer engagement ~ Gamma(1.5, 1 / 1.5) (default world: Gamma(6, 1 / 6)).

Returns, events and the columns of every table are those of the default world. In
``ground_truth``, ``true_purchase_rate`` is ``lambda_i`` per year, ``true_dropout_prob`` is
``mu_i / (lambda_i + mu_i)`` (the chance that the customer's next event is leaving rather than a
purchase: the Pareto/NBD counterpart of the default world's per-purchase dropout) and
``true_dropout_date`` the end of the lifetime.

Example
-------
>>> from segml.data.synthetic.datasets import make_customers
>>> data = make_customers(500, seed=1, difficulty="hard")
>>> data.ground_truth["true_leaf"].nunique()
12
>>> bool((data.transactions.groupby("customer_id").size() >= 1).all())
True
"""

from __future__ import annotations

import numpy as np

from segml.data.synthetic.world import EVENT_TYPES, World, grouped_cumsum

SEASON = (0.8, 0.7, 0.85, 0.9, 0.95, 0.9, 0.85, 0.9, 0.95, 1.1, 1.55, 1.75)
WEEKDAY = (0.9, 0.85, 0.9, 0.95, 1.05, 1.25, 1.1)  # Monday first
_KEEP = 0.5  # share of a leaf's log deviation from the mean that survives: leaves overlap
_MIX_KEEP = 0.6  # share of the default leaf mix in the hard one, the rest uniform
_UNINFORMATIVE = ("gender", "region", "acquisition_channel")
_WEAK_KEEP = 0.25  # other attributes and the device: a quarter of their leaf deviation
_PERSONAL_KEEP = 0.3  # leaf mean age and NPS
_MEAN_PURCHASES = 19.0  # per customer of the reference window, first purchase included
_REFERENCE_DAYS = 1094.0  # 2023-01-01..2025-12-31, the default window
_DROPOUTS_PER_YEAR = 1.0  # share-weighted geometric mean of the leaves' mean dropout rates
_FIRST_DELAY_DAYS = 3.0
_NPS_DROPOUT = 0.08  # log dropout rate per NPS point below 7: a weakly related attribute


def _relative(values: np.ndarray, shares: np.ndarray, keep: float) -> np.ndarray:
    """``values`` relative to their share-weighted geometric mean, log deviations times ``keep``."""
    logs = np.log(values)
    return np.exp(keep * (logs - (shares * logs).sum()))


def _alive_years(shape: np.ndarray, mean_rate: np.ndarray) -> np.ndarray:
    """Mean years alive inside the reference window after the first purchase, per leaf.

    With ``mu ~ Gamma(s, rate b)`` a customer survives ``t`` years with probability
    ``(b / (b + t))**s``; its integral up to the years ``W`` left after sign-up is averaged over
    the Beta(1, 2) sign-up days (a midpoint rule; no random draws).
    """
    x = (np.arange(400) + 0.5) / 400
    weight = 2 * (1 - x) / (2 * (1 - x)).sum()
    years = (_REFERENCE_DAYS - x * (_REFERENCE_DAYS - 30.0)) / 365.25
    s, b = shape[:, None], (shape / mean_rate)[:, None]
    near_one = np.abs(1 - s) < 1e-6
    integral = np.where(
        near_one,
        b * np.log1p(years / b),
        b / np.where(near_one, 1.0, 1 - s) * ((1 + years / b) ** (1 - s) - 1),
    )
    return integral @ weight


def harden(rng, design, cat_mix, chan_mix, attribute_probs, device_probs):
    """The hard leaves from the default ones: same leaves and shares, parameters pulled together."""
    design = design.copy()
    n_leaves = len(design)
    shares = design["share"].to_numpy()
    rate_shape = rng.uniform(0.35, 0.6, n_leaves)
    dropout_shape = rng.uniform(0.6, 1.0, n_leaves)
    order_shape = rng.uniform(3.0, 5.0, n_leaves)
    aov_shape = rng.uniform(2.3, 3.0, n_leaves)
    dropouts = _DROPOUTS_PER_YEAR * _relative(design["dropout_prob"].to_numpy(), shares, 0.3)
    rate = _relative(design["purchases_per_year"].to_numpy(), shares, _KEEP)
    rate *= (_MEAN_PURCHASES - 1) / (shares * rate * _alive_years(dropout_shape, dropouts)).sum()
    order_value = design["order_value"].to_numpy()
    order_value = np.exp((shares * np.log(order_value)).sum()) * _relative(order_value, shares, _KEEP)
    old_engagement = design["engagement"].to_numpy()
    engagement = _relative(old_engagement, shares, _KEEP)
    engagement *= (shares * old_engagement).sum() / (shares * engagement).sum()
    for kind in EVENT_TYPES:
        design[f"{kind}_per_month"] *= engagement / old_engagement
    for column in ("age_mean", "nps_p"):
        centre = (shares * design[column]).sum()
        design[column] = centre + _PERSONAL_KEEP * (design[column] - centre)
    design = design.drop(columns=["dropout_prob", "rate_shape"]).assign(
        purchases_per_year=rate, rate_shape=rate_shape, dropouts_per_year=dropouts,
        dropout_shape=dropout_shape, order_value=order_value, order_shape=order_shape,
        aov_shape=aov_shape, engagement=engagement,
    )
    probs = {}
    for column, p in attribute_probs.items():
        keep = 0.0 if column in _UNINFORMATIVE else _WEAK_KEEP
        probs[column] = keep * p + (1 - keep) * (shares @ p)
    device = _WEAK_KEEP * device_probs + (1 - _WEAK_KEEP) * (shares @ device_probs)
    cat = _MIX_KEEP * cat_mix + (1 - _MIX_KEEP) / cat_mix.shape[1]
    chan = _MIX_KEEP * chan_mix + (1 - _MIX_KEEP) / chan_mix.shape[1]
    return design, cat, chan, probs, device


def purchases(rng, design, leaf, signup, nps, clock, horizon):
    """Pareto/NBD purchase days (sorted per customer) and each customer's latent process."""
    n = len(leaf)
    r = design["rate_shape"].to_numpy()[leaf]
    lam = rng.gamma(r, design["purchases_per_year"].to_numpy()[leaf] / r) / 365.25
    s = design["dropout_shape"].to_numpy()[leaf]
    mu = rng.gamma(s, design["dropouts_per_year"].to_numpy()[leaf] / s) / 365.25
    mu = np.maximum(mu * np.exp(-_NPS_DROPOUT * (nps - 7.0)), 1e-12)
    end_op = clock.to_op(np.array([horizon]))[0]
    a = np.minimum(clock.to_op(signup) + rng.exponential(_FIRST_DELAY_DAYS, n), end_op)
    first = np.minimum(clock.to_real(a), horizon)
    death = first + rng.standard_exponential(n) / mu
    alive = death > horizon
    # strictly after the end even once truncated to whole seconds
    death = np.where(alive, np.maximum(death, horizon + 2 / 86_400), death)
    b = clock.to_op(np.minimum(death, horizon))
    repeats = rng.poisson(lam * np.maximum(b - a, 0.0))
    # sorted uniform times in (a, b): k exponential spacings over the sum of k + 1 of them
    spacing = grouped_cumsum(rng.standard_exponential(int(repeats.sum())), repeats)
    last = spacing[np.maximum(np.cumsum(repeats) - 1, 0)] if len(spacing) else np.zeros(n)
    total = np.where(repeats > 0, last, 0.0) + rng.standard_exponential(n)
    op = np.repeat(a, repeats) + np.repeat((b - a) / total, repeats) * spacing
    count = repeats + 1
    times = np.empty(int(count.sum()))
    is_first = np.zeros(len(times), dtype=bool)
    is_first[np.cumsum(count) - count] = True
    times[is_first] = first
    times[~is_first] = np.minimum(clock.to_real(op), horizon)
    latent = {
        "true_purchase_rate": lam * 365.25,
        "true_dropout_prob": mu / (lam + mu),
        "true_dropout_day": death,
        "true_alive_at_end": alive,
    }
    return count, times, latent


def order_values(rng, design, leaf, cust):
    """Gamma-gamma order values: customer rates ``nu ~ Gamma(q, g)``, orders ``~ Gamma(p, nu)``."""
    p = design["order_shape"].to_numpy()
    q = design["aov_shape"].to_numpy()
    g = design["order_value"].to_numpy() * (q - 1) / p  # so that E[p / nu] is the order value
    nu = rng.gamma(q[leaf], 1 / g[leaf])
    return rng.gamma(p[leaf][cust], 1 / nu[cust])


HARD = World(
    harden=harden, purchases=purchases, order_values=order_values, concentration=12.0,
    engagement_shape=1.5, season=SEASON, weekday=WEEKDAY, seasonal_events=True,
)

