"""Small seeded synthetic tables for the feature and label tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.config import SegmlConfig
from segml.data.contract import load_tables

START = pd.Timestamp("2023-01-01")
END = pd.Timestamp("2024-12-31")
CATEGORIES = ["books", "toys", "garden", "tools", "music", "food", "kids' wear"]
CHANNELS = ["web", "app", "store"]
EVENT_TYPES = ["session", "page_view", "email_open", "email_click", "support_ticket"]


def make_raw(n_customers: int = 300, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Raw customers / transactions / events with string ids such as ``"00017"``."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"{i:05d}" for i in range(1, n_customers + 1)])
    span = (END - START).days
    signup_day = rng.integers(0, span - 30, n_customers)
    customers = pd.DataFrame({
        "customer_id": ids,
        "signup_date": START + pd.to_timedelta(signup_day, unit="D"),
        "age": rng.integers(18, 80, n_customers).astype(float),
        "gender": rng.choice(["f", "m", "x"], n_customers),
        "country": rng.choice(["DE", "FR", "NL", "BE"], n_customers, p=[0.4, 0.3, 0.2, 0.1]),
        "name": [f"Person {i}" for i in range(n_customers)],
    })
    n_tx = rng.poisson(12, n_customers)
    owner = np.repeat(np.arange(n_customers), n_tx)
    offset = rng.uniform(0, 1, len(owner)) * (span - signup_day[owner])
    tx_time = START + pd.to_timedelta(signup_day[owner] + offset, unit="D")
    amount = np.round(rng.gamma(2.0, 25.0, len(owner)), 2)
    amount[rng.random(len(owner)) < 0.08] *= -1
    transactions = pd.DataFrame({
        "customer_id": ids[owner],
        "order_id": [f"o{i}" for i in range(len(owner))],
        "timestamp": tx_time.floor("s"),
        "amount": amount,
        "category": rng.choice(CATEGORIES, len(owner), p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.06, 0.04]),
        "channel": rng.choice(CHANNELS, len(owner)),
    })
    n_ev = rng.poisson(15, n_customers)
    owner = np.repeat(np.arange(n_customers), n_ev)
    offset = rng.uniform(0, 1, len(owner)) * (span - signup_day[owner])
    events = pd.DataFrame({
        "customer_id": ids[owner],
        "timestamp": (START + pd.to_timedelta(signup_day[owner] + offset, unit="D")).floor("s"),
        "event_type": rng.choice(EVENT_TYPES, len(owner), p=[0.4, 0.3, 0.15, 0.1, 0.05]),
    })
    return {"customers": customers, "transactions": transactions, "events": events}


def config(**features) -> SegmlConfig:
    cfg = {"data": {"now": "2100-01-01", "customers": {
        "attributes": {"demographic": ["age", "gender"], "geographic": ["country"]}}}}
    if features:
        cfg["features"] = features
    return SegmlConfig.model_validate(cfg)


def load(raw: dict[str, pd.DataFrame], cfg: SegmlConfig | None = None):
    return load_tables(cfg or config(), customers=raw["customers"],
                       transactions=raw["transactions"], events=raw.get("events"))


@pytest.fixture(scope="session")
def raw() -> dict[str, pd.DataFrame]:
    return make_raw()


@pytest.fixture(scope="session")
def cfg() -> SegmlConfig:
    return config()


@pytest.fixture(scope="session")
def tables(raw, cfg):
    return load(raw, cfg)


@pytest.fixture(scope="session")
def helpers():
    """The generator and loaders as plain functions (tests must not import conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(make_raw=make_raw, config=config, load=load)
