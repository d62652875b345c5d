"""Engagement-event features and the value pooling shared with category / channel shares.

Event features at cutoff ``c`` for each kept event type ``<type>`` (plus ``other`` when rarer
types were pooled when the spec was fitted):

* ``events_<type>_{w}d``: number of events of that type in ``(c - w days, c]`` per trend window;
* ``days_since_<type>``: days from the last event of that type to ``c`` (NaN: never).

Example
-------
>>> slugs(["Home & Garden", "toys", "TOYS"])
['home_garden', 'toys', 'toys_2']
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from segml.features.timeline import (
    DAY_NS,
    by_time,
    cached,
    compact,
    days_since_first,
    first_row_times,
    to_ns,
)

OTHER = "other"


def slugs(values: list[str], reserved: tuple[str, ...] = ()) -> list[str]:
    """Column-name-safe, unique snake-case names for ``values`` (``reserved`` names are avoided).

    Examples
    --------
    >>> slugs(["other", "Web"], reserved=("other",))
    ['other_2', 'web']
    """
    used = set(reserved)
    out = []
    for value in values:
        base = re.sub(r"[^0-9a-z]+", "_", str(value).lower()).strip("_") or "blank"
        name, k = base, 2
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        out.append(name)
    return out


def value_names(kept: list[str], pooled: bool) -> list[str]:
    """Column suffixes for kept values, then ``other`` when rarer values were pooled.

    Examples
    --------
    >>> value_names(["web", "store"], pooled=True)
    ['web', 'store', 'other']
    """
    reserved = (OTHER,) if pooled else ()
    return slugs(kept, reserved) + ([OTHER] if pooled else [])


def kept_codes(values: pd.Series, kept: list[str]) -> np.ndarray:
    """Per row, the index of its value in ``kept``; ``len(kept)`` for any other value or NaN.

    Vectorised through the categorical codes when ``values`` is categorical.

    Examples
    --------
    >>> kept_codes(pd.Series(["b", "z", None, "a"], dtype="category"), ["a", "b"]).tolist()
    [1, 2, 2, 0]
    >>> kept_codes(pd.Series([3, 1, None]), ["1.0"]).tolist()
    [1, 0, 1]
    """
    index = pd.Index(kept, dtype=object)
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = values.cat.categories
        lut = index.get_indexer(pd.Index(cats.astype(str), dtype=object))
        lut = np.where(lut < 0, len(kept), lut)
        codes = values.cat.codes.to_numpy()
        out = np.where(codes < 0, len(kept), lut[np.maximum(codes, 0)] if len(lut) else 0)
    else:
        text = values.astype("str").where(values.notna())
        out = pd.Index(kept, dtype="str").get_indexer(text)
        out = np.where(out < 0, len(kept), out)
    return out.astype(np.int16)


def event_feature_names(event_types: list[str], pooled: bool, windows: list[int]) -> list[str]:
    """Event feature columns in output order.

    Examples
    --------
    >>> event_feature_names(["open"], False, [30])
    ['events_open_30d', 'days_since_open']
    """
    names = value_names(event_types, pooled)
    return ([f"events_{n}_{w}d" for n in names for w in windows]
            + [f"days_since_{n}" for n in names])


def event_features(customers: pd.DataFrame, events: pd.DataFrame, cutoff: pd.Timestamp,
                   event_types: list[str], pooled: bool,
                   windows: list[int]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Event counts per kept type and window, and days since each type's last event.

    The events are sorted by time once, with their integer key ``position * (types + 1) + type``
    (:func:`event_keys`, cached), so the events at or before the cutoff are a prefix and a
    window a slice: counts are one ``np.bincount`` per window over its slice and the last event
    per key one ``np.maximum.at`` over the prefix. Returns the columns (float arrays aligned
    with ``customers`` rows, counts 0 without events) and, per customer, the days since their
    first event (NaN: none).
    """
    n, c = len(customers), to_ns(cutoff)
    names = value_names(event_types, pooled)
    width = len(event_types) + 1
    rows = by_time(customers, events)
    key = event_keys(customers, events, event_types)
    k = rows.upto(c)
    out: dict[str, np.ndarray] = {}
    for w in windows:
        counts = np.bincount(key[rows.upto(c - w * DAY_NS):k], minlength=n * width)
        for i, name in enumerate(names):
            out[f"events_{name}_{w}d"] = counts[i::width].astype("float64")
    never = np.iinfo(np.int64).min
    last = np.full(n * width, never)
    np.maximum.at(last, key[:k], rows.ts[:k])
    hit = last > never
    since = np.full(n * width, np.nan)
    since[hit] = (c - last[hit]) / DAY_NS
    for i, name in enumerate(names):
        out[f"days_since_{name}"] = since[i::width].copy()
    return out, days_since_first(customers, events, c)


def event_keys(customers: pd.DataFrame, events: pd.DataFrame,
               event_types: list[str]) -> np.ndarray:
    """Per event in :func:`~segml.features.timeline.by_time` order, ``position * (types + 1) +
    type`` (:func:`kept_codes`); cached per kept types for the lifetime of the frames.

    Examples
    --------
    >>> cust = pd.DataFrame({"customer_id": ["a", "b"]})
    >>> ev = pd.DataFrame({"customer_id": ["b", "a"], "event_type": ["open", "click"],
    ...                    "timestamp": pd.to_datetime(["2024-02-01", "2024-01-01"])})
    >>> event_keys(cust, ev, ["open"]).tolist()  # a's click (other), then b's open
    [1, 2]
    """
    rows = by_time(customers, events)
    width = len(event_types) + 1

    def compute() -> np.ndarray:
        codes = kept_codes(events["event_type"], event_types)[rows.rows]
        return compact(rows.pos.astype(np.int64) * width + codes, len(customers) * width)

    return cached(f"event_keys:{event_types!r}", customers, events, compute)



def sort_events(customers: pd.DataFrame, events: pd.DataFrame) -> None:
    """Build the events' time order and first times (:func:`~segml.features.timeline.by_time`,
    :func:`~segml.features.timeline.first_row_times`), the largest caches the features keep,
    ahead of the first matrix (e.g. beside the feature settings' fit)."""
    by_time(customers, events)
    first_row_times(customers, events)
