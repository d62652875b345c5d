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

from segml.features.timeline import DAY_NS, connect, row_positions, to_ns

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

    Counts are one ``np.bincount`` per window over ``position * (types + 1) + type``; the last
    event per (customer, type) is a plain DuckDB ``max`` over the same integer key. Returns the
    columns (float arrays aligned with ``customers`` rows, counts 0 without events) and, per
    customer, the days since their first event (NaN: none).
    """
    n = len(customers)
    c = to_ns(cutoff)
    names = value_names(event_types, pooled)
    width = len(event_types) + 1
    positions = row_positions(customers, events)
    ts_all = events["timestamp"].to_numpy().astype("datetime64[ns]").view(np.int64)
    until = (ts_all <= c) & (positions >= 0)
    ts = ts_all[until]
    key = positions[until] * width + kept_codes(events["event_type"], event_types)[until]
    out: dict[str, np.ndarray] = {}
    counts = {w: np.bincount(key[ts > c - w * DAY_NS], minlength=n * width).reshape(n, width)
              for w in windows}
    con = connect()
    con.register("ev__", pd.DataFrame({"k": key, "ts": ts}))
    try:
        got = con.execute("SELECT k, max(ts) AS last, min(ts) AS first FROM ev__ "
                          "GROUP BY k").fetchnumpy()
    finally:
        con.unregister("ev__")
    k = np.asarray(got["k"], dtype=np.int64)
    last = np.full(n * width, np.nan)
    last[k] = (c - np.asarray(got["last"], dtype=np.int64)) / DAY_NS
    last = last.reshape(n, width)
    first_age = np.full(n * width, np.nan)
    first_age[k] = (c - np.asarray(got["first"], dtype=np.int64)) / DAY_NS
    first_age = np.nanmax(first_age.reshape(n, width), axis=1, initial=-np.inf)
    first_age[np.isinf(first_age)] = np.nan
    for i, name in enumerate(names):
        for w in windows:
            out[f"events_{name}_{w}d"] = counts[w][:, i].astype("float64")
    for i, name in enumerate(names):
        out[f"days_since_{name}"] = last[:, i]
    return out, first_age
