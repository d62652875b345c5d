"""Seeded synthetic features/labels with the documented column names and a nonlinear signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit


def make_xy(n: int = 3000, seed: int = 0, cutoffs: int = 1):
    """X (numeric + a pandas-3 ``str`` region column converted to category), Y and cutoff."""
    rng = np.random.default_rng(seed)
    recency = rng.exponential(80, n)
    frequency = rng.poisson(4, n).astype(float)
    monetary = frequency * rng.gamma(2.0, 30.0, n)
    spend_365 = monetary * rng.uniform(0.3, 1.0, n)
    region = rng.choice(["north", "south", "east", "west"], n)
    p_alive = np.clip(expit(2 - recency / 40 + 0.1 * frequency + rng.normal(0, 0.5, n)), 0, 1)
    X = pd.DataFrame(
        {
            "recency_days": recency,
            "frequency": frequency,
            "monetary_sum": monetary,
            "spend_365d": spend_365,
            "tenure_days": rng.uniform(30, 1500, n),
            "btyd_p_alive": p_alive,
            "btyd_prob_purchase_30d": p_alive * (1 - np.exp(-frequency / 12)),
            "btyd_expected_purchases_365d": p_alive * frequency,
            "noise": rng.normal(size=n),
            "region": pd.Series(region).astype("category"),
        },
        index=pd.Index([f"c{i:05d}" for i in range(n)], name="customer_id"),
    )
    # Nonlinear: a recency band (not monotone), a region x frequency interaction, a tenure step.
    band = np.where((recency > 40) & (recency < 160), 1.8, -0.6)
    inter = np.where(np.isin(region, ["north", "east"]), 0.5, -0.5) * (frequency - 4) * 0.6
    step = np.where(X["tenure_days"] < 300, 1.0, -0.3)
    churn_logit = band + inter + step - 0.3
    churn = (rng.random(n) < expit(churn_logit)).astype(float)
    purchase = (rng.random(n) < expit(-churn_logit - 0.5)).astype(float)
    spends = rng.random(n) < expit(-churn_logit)
    future = np.where(spends, rng.gamma(2.0, 20.0, n) * (1 + frequency / 4) * np.exp(-0.3 * step), 0.0)
    active = rng.random(n) < 0.9
    Y = pd.DataFrame(
        {
            "is_active": active,
            "churn": np.where(active, churn, np.nan),
            "purchase": purchase,
            "future_spend": future,
            "high_clv": (future > np.quantile(future, 0.8)).astype(float),
        },
        index=X.index,
    )
    dates = pd.to_datetime(["2024-01-31", "2024-03-01", "2024-03-31"][-cutoffs:])
    cutoff = pd.Series(dates[np.arange(n) % cutoffs], index=X.index, name="cutoff")
    return X, Y, cutoff


