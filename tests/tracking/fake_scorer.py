"""A small deterministic stand-in for ``segml.scoring.scorer`` scorers (the duck-typed protocol)."""

from __future__ import annotations

import numpy as np
import pandas as pd

SCHEMA = [
    ("customer_id", "string"),
    ("recency_days", "double"),
    ("frequency", "double"),
    ("monetary_sum", "double"),
    ("orders_365d", "long"),
    ("country", "category"),
    ("is_b2b", "boolean"),
]
PII_DOMAIN = "@example.com"


def raw_customers(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Raw customer rows *with* a PII ``email`` column, as a user would bring them."""
    rng = np.random.default_rng(seed)
    ids = np.char.add("C", np.arange(n).astype(str).astype(object).astype(str))
    return pd.DataFrame({
        "customer_id": ids,
        "email": np.char.add(ids, PII_DOMAIN),
        "recency_days": rng.exponential(60, n).round(1),
        "frequency": rng.poisson(4, n).astype(float),
        "monetary_sum": rng.gamma(2, 80, n).round(2),
        "orders_365d": rng.poisson(3, n),
        "country": rng.choice(["DE", "FR", "US"], n),
        "is_b2b": rng.random(n) < 0.3,
    })


def pii_free(raw: pd.DataFrame) -> pd.DataFrame:
    """What ``load_tables`` hands on: the PII column dropped."""
    return raw.drop(columns=["email"])


def leak_pii(example: pd.DataFrame) -> pd.DataFrame:
    """A buggy ``example_input``: adds the PII column back (``log_segml_model`` must drop it)."""
    return example.assign(email=example["customer_id"] + PII_DOMAIN)


class FakeScorer:
    """Scores with fixed logistic formulas; fitted on PII-free features only.

    It is pickled *by value* (its module is not part of segml), so nothing in its methods
    mentions PII; ``example_transform`` (a test hook) is not pickled.
    """

    input_schema = SCHEMA

    def __init__(self, features: pd.DataFrame, example_transform=None):
        self.sample_ = features.head(5).reset_index(drop=True)
        self.recency_scale_ = float(features["recency_days"].median())
        self.example_transform = example_transform

    def __getstate__(self):
        return {**self.__dict__, "example_transform": None}

    def example_input(self, n: int = 3) -> pd.DataFrame:
        example = self.sample_.head(n).copy()
        if self.example_transform is not None:
            example = self.example_transform(example)
        return example

    def score(self, features: pd.DataFrame, reasons: bool = False) -> pd.DataFrame:
        r = features["recency_days"].to_numpy(dtype=float) / self.recency_scale_
        f = features["frequency"].to_numpy(dtype=float)
        churn = 1 / (1 + np.exp(-(r - 1 - 0.2 * f)))
        leaf = (features["country"].cat.codes.to_numpy() % 3).astype(int)
        out = pd.DataFrame({
            "customer_id": features["customer_id"].to_numpy(),
            "segment_leaf": leaf,
            "segment_path": np.char.add("1.", leaf.astype(str)),
            "segment_level_1": 1,
            "segment_name_level_1": "All",
            "segment_is_noise": False,
            "rfm_segment": np.where(churn > 0.5, "At Risk", "Champions"),
            "lifecycle_stage": np.where(features["is_b2b"].to_numpy(), "loyal", "active"),
            "churn_probability": churn,
            "purchase_probability": 1 - churn,
            "high_clv_probability": np.clip(features["monetary_sum"].to_numpy() / 1000, 0, 1),
            "predicted_spend": features["monetary_sum"].to_numpy() * 0.5,
            "p_alive": 1 - churn / 2,
            "expected_next_purchase_date": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(features["recency_days"].to_numpy(), unit="D"),
        })
        if reasons:
            for target in ("churn", "purchase", "high_clv"):
                out[f"{target}_reasons"] = [
                    [("recency_days", round(float(a), 4)), ("frequency", round(float(b), 4))]
                    for a, b in zip(r, -0.2 * f, strict=True)
                ]
        return out
