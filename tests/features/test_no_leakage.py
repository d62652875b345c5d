"""Point-in-time property: nothing after the cutoff can change the features at the cutoff."""

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segml.features import FeatureSpec, build_features

CUTOFF = pd.Timestamp("2024-03-31 12:00")


def _mutate(raw, rng, kind):
    """One random change confined to rows after the cutoff (or customers signing up later)."""
    tx = raw["transactions"].copy()
    ev = raw["events"].copy()
    customers = raw["customers"].copy()
    after_tx = np.flatnonzero(tx["timestamp"] > CUTOFF)
    after_ev = np.flatnonzero(ev["timestamp"] > CUTOFF)
    later = CUTOFF + pd.to_timedelta(rng.uniform(1e-3, 200, 20), unit="D")
    if kind == 0:  # change amounts (also into returns) after the cutoff
        rows = rng.choice(after_tx, 30, replace=False)
        tx.loc[rows, "amount"] = rng.normal(0, 500, 30).round(2)
    elif kind == 1:  # drop transactions and events after the cutoff
        tx = tx.drop(index=rng.choice(after_tx, 40, replace=False))
        ev = ev.drop(index=rng.choice(after_ev, 40, replace=False))
    elif kind == 2:  # move rows to other times after the cutoff, new category values
        rows = rng.choice(after_tx, 20, replace=False)
        tx.loc[rows, "timestamp"] = later.to_numpy()
        tx.loc[rows, "category"] = "brand-new-category"
        tx.loc[rows, "channel"] = "drone"
    elif kind == 3:  # add transactions for existing customers, 1 ns after the cutoff
        who = rng.choice(customers["customer_id"].to_numpy(), 20)
        extra = pd.DataFrame({"customer_id": who, "order_id": [f"x{i}" for i in range(20)],
                              "timestamp": CUTOFF + pd.Timedelta(1, "ns"),
                              "amount": rng.gamma(2, 50, 20), "category": "books",
                              "channel": "web"})
        tx = pd.concat([tx, extra], ignore_index=True)
    elif kind == 4:  # new event types after the cutoff
        rows = rng.choice(after_ev, 50, replace=False)
        ev.loc[rows, "event_type"] = "push_open"
        ev.loc[rows, "timestamp"] = np.resize(later.to_numpy(), 50)
    elif kind == 5:  # a brand-new customer who signs up (and buys) after the cutoff
        customers = pd.concat([customers, pd.DataFrame({
            "customer_id": ["99999"], "signup_date": [CUTOFF + pd.Timedelta(days=2)],
            "age": [33.0], "gender": ["nonbinary-new"], "country": ["LU"], "name": ["New"]})],
            ignore_index=True)
        tx = pd.concat([tx, pd.DataFrame({
            "customer_id": ["99999"], "order_id": ["new"], "timestamp": [later[0]],
            "amount": [1e6], "category": ["books"], "channel": ["web"]})], ignore_index=True)
    else:  # shuffle row order
        tx = tx.sample(frac=1.0, random_state=int(rng.integers(1e6))).reset_index(drop=True)
        ev = ev.sample(frac=1.0, random_state=int(rng.integers(1e6))).reset_index(drop=True)
    return {"customers": customers, "transactions": tx.reset_index(drop=True),
            "events": ev.reset_index(drop=True)}, kind


@pytest.mark.parametrize("seed", range(7))
def test_changes_after_cutoff_never_change_features(helpers, raw, cfg, tables, seed):
    spec = FeatureSpec.fit(tables, CUTOFF, cfg)
    expected = build_features(tables, CUTOFF, spec)
    rng = np.random.default_rng(seed)
    mutated = raw
    kinds = [seed % 7, (seed + 3) % 7]  # every kind of mutation, two stacked per case
    for kind in kinds:
        mutated, _ = _mutate(mutated, rng, kind)
    changed = helpers.load(mutated, cfg)
    # The data really changed after the cutoff ...
    assert not (changed.transactions.equals(tables.transactions)
                and changed.events.equals(tables.events)
                and changed.customers.equals(tables.customers))
    # ... but neither the learned settings nor the features at the cutoff did.
    assert FeatureSpec.fit(changed, CUTOFF, cfg) == spec, kinds
    assert_frame_equal(build_features(changed, CUTOFF, spec), expected)
    # A change at or before the cutoff is visible (the property can fail).
    before = mutated["transactions"].copy()
    row = rng.choice(np.flatnonzero(before["timestamp"] <= CUTOFF))
    before.loc[row, "timestamp"] = CUTOFF
    moved = helpers.load({**mutated, "transactions": before}, cfg)
    with pytest.raises(AssertionError):
        assert_frame_equal(build_features(moved, CUTOFF, spec), expected)
