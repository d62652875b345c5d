"""Seeded synthetic feature matrices with nested ground-truth segments (macro -> leaf)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# macro group: (log frequency, log order value, mean recency days, mean tenure days)
MACROS = [(2.6, 4.6, 12.0, 900.0), (1.4, 3.6, 60.0, 500.0), (0.4, 2.6, 260.0, 700.0)]
LEAF_MACRO = np.array([0, 0, 0, 1, 1, 1, 2, 2])
LEAF_WEIGHTS = np.array([0.10, 0.12, 0.08, 0.16, 0.12, 0.10, 0.18, 0.14])
CATEGORIES = ["books", "toys", "garden"]
CHANNELS = ["web", "mobile", "store"]


def make_segment_blobs(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(X, truth)``: X like segml's feature matrix, truth with ``true_macro``/``true_leaf``.

    Macro groups differ in value, frequency, recency, channel mix and engagement; leaves inside a
    macro group differ in their category mix only.
    """
    rng = np.random.default_rng(seed)
    leaf = rng.choice(len(LEAF_WEIGHTS), size=n, p=LEAF_WEIGHTS)
    macro = LEAF_MACRO[leaf]
    params = np.asarray(MACROS)[macro]
    rate = np.exp(rng.normal(params[:, 0], 0.15))  # purchases per year
    frequency = np.round(rate) + 1
    aov = np.exp(rng.normal(params[:, 1], 0.15))
    recency = rng.gamma(16.0, params[:, 2] / 16.0)
    tenure = recency + rng.gamma(9.0, params[:, 3] / 9.0)
    local = leaf - np.array([0, 3, 6])[macro]  # 0, 1, 2 inside the macro group
    cat_alpha = np.full((n, 3), 4.0)
    cat_alpha[np.arange(n), local] = 24.0
    ch_alpha = np.full((n, 3), 4.0)
    ch_alpha[np.arange(n), macro] = 30.0
    cats = np.stack([rng.gamma(a) for a in cat_alpha.T], axis=1)
    chans = np.stack([rng.gamma(a) for a in ch_alpha.T], axis=1)
    cats /= cats.sum(axis=1, keepdims=True)
    chans /= chans.sum(axis=1, keepdims=True)
    ids = pd.Index([f"C{i:06d}" for i in range(n)], name="customer_id")
    X = pd.DataFrame(
        {
            "recency_days": recency,
            "frequency": frequency,
            "monetary_sum": frequency * aov,
            "monetary_mean": aov,
            "tenure_days": tenure,
            "ipt_mean_days": 365.0 / rate,
            "orders_90d": rng.poisson(frequency * 90 / np.maximum(tenure, 90)),
            "orders_365d": rng.poisson(frequency * 365 / np.maximum(tenure, 365)).astype(float),
            "spend_365d": frequency * aov * np.clip(365 / tenure, 0, 1),
            **{f"share_category_{c}": cats[:, i] for i, c in enumerate(CATEGORIES)},
            **{f"share_channel_{c}": chans[:, i] for i, c in enumerate(CHANNELS)},
            "events_email_open_90d": rng.poisson(np.where(macro == 0, 8, 2)).astype(float),
            "events_session_90d": rng.poisson(np.where(macro == 2, 1, 6)).astype(float),
            "btyd_p_alive": np.clip(1 - recency / 400, 0.01, 1),
            "region": pd.Categorical(rng.choice(["North", "South", "East"], n, p=[.5, .3, .2])),
            "device": pd.Categorical(np.where(chans[:, 1] > 0.5, "mobile", "desktop")),
            "nps_score": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 11, n)).astype(float),
        },
        index=ids,
    )
    X["orders_90d"] = X["orders_90d"].astype(float)
    truth = pd.DataFrame({"true_macro": macro, "true_leaf": leaf}, index=ids)
    return X, truth


ATTRIBUTE_LEVELS = [["monthly", "one year", "two year", "none"], ["basic", "plus", "premium", "max"],
                    ["fiber", "dsl", "cable", "none"], ["card", "check", "transfer", "cash"]]


def planted_table(n: int, seed: int, purity: float = 0.8) -> tuple[pd.DataFrame, np.ndarray]:
    """An attributes-only customer table with four planted segments (returned as ``seg``).

    Each segment prefers its own level of four categoricals (``purity`` of its customers take it,
    the rest a random level) and leans on two yes/no columns (one 0/1 number, one Yes/No
    categorical); a regional categorical and an age column are pure noise.
    """
    rng = np.random.default_rng(seed)
    seg = rng.integers(0, 4, n)
    cols: dict[str, object] = {}
    for j, levels in enumerate(ATTRIBUTE_LEVELS):
        own = np.asarray(levels)[(seg + j) % 4]
        cols[f"a{j}"] = pd.Categorical(np.where(rng.random(n) < purity, own, rng.choice(levels, n)))
    cols["senior"] = (rng.random(n) < np.where(seg % 2 == 0, 0.8, 0.2)).astype(float)
    cols["paperless"] = pd.Categorical(np.where(rng.random(n) < np.where(seg < 2, 0.8, 0.2),
                                                "Yes", "No"))
    cols["region"] = pd.Categorical(rng.choice(["N", "S", "E", "W", "C"], n))
    cols["age"] = rng.normal(45, 12, n)
    index = pd.Index([f"c{i:07d}" for i in range(n)], name="customer_id")
    return pd.DataFrame(cols, index=index), seg
