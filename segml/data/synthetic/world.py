"""What a synthetic world is made of: the event types, the default purchase process and order
values, and :class:`World`, what a difficulty changes (``synthetic_hard`` builds the hard one).

Example
-------
>>> World().concentration, EVENT_TYPES[0]
(50.0, 'session')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

EVENT_TYPES = ("session", "page_view", "email_open", "email_click", "cart_add", "support_ticket")


def grouped_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Running sums of ``values`` restarted at every group of ``counts`` consecutive values.

    Example
    -------
    >>> grouped_cumsum(np.array([1.0, 2.0, 3.0, 4.0]), np.array([2, 2])).tolist()
    [1.0, 3.0, 3.0, 7.0]
    """
    total = np.cumsum(values)
    before = np.concatenate([[0.0], total])[np.cumsum(counts) - counts]
    return total - np.repeat(before, counts)


def purchases(rng, design, leaf, signup, nps, clock, horizon):
    """Purchase times (days since start) per customer and each customer's latent process."""
    n = len(leaf)
    rate_year = design["purchases_per_year"].to_numpy()[leaf]
    shape = design["rate_shape"].to_numpy()[leaf]
    rate = rng.gamma(shape, rate_year / shape / 365.25)  # purchases per (operational) day
    p_drop = design["dropout_prob"].to_numpy()[leaf] * np.exp(-0.1 * (nps - 7.0))
    p_drop = np.clip(p_drop, 0.003, 0.6)
    a, b = clock.to_op(signup), clock.to_op(np.full(n, horizon))
    n_window = rng.poisson(rate * (b - a))
    lifetime = rng.geometric(p_drop)  # purchases until dropping out (BG/NBD)
    count = np.minimum(n_window, lifetime)
    s = grouped_cumsum(rng.standard_exponential(int(count.sum())), count)
    ends = np.cumsum(count) - 1
    s_last = np.where(count > 0, s[np.maximum(ends, 0)] if len(s) else 0.0, 0.0)
    denom = s_last + rng.gamma(n_window - count + 1.0)
    op = np.repeat(a, count) + np.repeat((b - a) / denom, count) * s
    times = np.minimum(clock.to_real(op), horizon)
    dropped = lifetime <= n_window
    extra = rng.gamma(np.maximum(lifetime - n_window, 1).astype(float)) / np.maximum(rate, 1e-9)
    extra = np.maximum(extra, 1.0 / 86_400)  # alive customers drop out strictly after the end
    drop_op = np.where(dropped, np.where(count > 0, np.concatenate([[0.0], op])[ends + 1], a), b + extra)
    latent = {
        "true_purchase_rate": rate * 365.25,
        "true_dropout_prob": p_drop,
        "true_dropout_day": clock.to_real(drop_op),
        "true_alive_at_end": ~dropped,
    }
    return count, times, latent


def lognormal_orders(rng, design, leaf, cust):
    """Order values of the default world: a lognormal customer AOV, lognormal orders around it."""
    aov = design["order_value"].to_numpy()[leaf] * rng.lognormal(-0.02, 0.2, len(leaf))
    sigma = 0.4
    return aov[cust] * rng.lognormal(-sigma**2 / 2, sigma, len(cust))


@dataclass(frozen=True)
class World:
    """What a difficulty changes; the defaults are the default world (``synthetic_hard``: hard).

    ``harden(design_rng, design, cat_mix, chan_mix, attribute_probs, device_probs)`` turns the
    default leaves into the world's (same leaves and shares); ``purchases`` and ``order_values``
    draw the purchase process and order values; ``season`` (12 months) and ``weekday`` (Monday
    first) weigh purchase time and, with ``seasonal_events``, event time too.
    """

    harden: Callable | None = None
    purchases: Callable = purchases
    order_values: Callable = lognormal_orders
    concentration: float = 50.0
    engagement_shape: float = 6.0
    season: tuple[float, ...] | None = None
    weekday: tuple[float, ...] | None = None
    seasonal_events: bool = False
