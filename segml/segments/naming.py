"""Readable, unique segment names built from a profile (see :mod:`segml.segments.profiles`).

A name reads ``[recency] [value tier] [frequency noun][, trait][, trait]``:

* recency from ``recency_effect`` (d of ``recency_days``): > 0.5 ``Lapsing``, < -0.5 ``Active``;
* value tier from ``value_effect`` (d of revenue): >= 0.5 ``high-value``, <= -0.5 ``low-value``,
  else ``mid-value``;
* frequency from ``frequency_effect``: >= 0.5 ``frequent buyers``, <= -0.5 ``occasional buyers``,
  else ``regular buyers``;
* up to two traits: the strongest other distinguishing features that are over-represented
  (d >= 0.5 or Cramer's V >= 0.2): a category or channel share (``books``, ``mobile``), an event
  type (``email-engaged``) or an attribute level (``North``).

Segments under guided levels (paths such as ``North.at risk.2``) are prefixed with their guided
values (``North / at risk: ...``), which are not repeated as traits.
Suppressed segments (under ``min_profile_size``) are only called ``Segment <id>``. Duplicate names
within a level get a suffix `` (2)``, `` (3)``, ... in profile order.

Example
-------
>>> import pandas as pd
>>> profile = pd.DataFrame({
...     "suppressed": [False, False, True],
...     "value_effect": [1.2, -0.9, None], "frequency_effect": [0.8, -0.7, None],
...     "recency_effect": [-0.2, 1.1, None],
...     "distinguishing": [[{"feature": "share_channel_mobile", "kind": "numeric", "effect": 0.9},
...                         {"feature": "region=North", "kind": "categorical", "effect": 0.3}],
...                        [{"feature": "events_email_open_90d", "kind": "numeric",
...                          "effect": 0.7}], []]},
...     index=pd.Index(["1", "2", "3"], name="segment"))
>>> name_segments(profile)
{'1': 'High-value frequent buyers, mobile, North', '2': 'Lapsing low-value occasional buyers, email-engaged', '3': 'Segment 3'}
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

CORE_PREFIXES = ("recency_days", "frequency", "monetary_", "spend_", "orders_", "tenure_days",
                 "btyd_", "ipt_", "days_since_", "return_rate")
EVENT_WORDS = {"email": "email-engaged", "session": "web-engaged", "page": "web-engaged",
               "cart": "cart-active", "support": "support-heavy", "push": "push-engaged",
               "sms": "sms-engaged"}


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return out


def trait_label(feature: str, kind: str, effect: float) -> str | None:
    """A short readable trait for one distinguishing feature, or None when it says nothing.

    Example
    -------
    >>> trait_label("share_category_garden", "numeric", 0.9), trait_label("device=mobile",
    ...     "categorical", 0.4), trait_label("age", "numeric", -0.8)
    ('garden', 'mobile', 'younger')
    """
    if kind == "categorical":
        if effect < 0.2:
            return None
        return feature.split("=", 1)[1] if "=" in feature else feature
    if abs(effect) < 0.5 or feature.startswith(CORE_PREFIXES):
        return None
    if feature.startswith(("share_category_", "share_channel_")):
        return feature.split("_", 2)[2].replace("_", " ") if effect > 0 else None
    if feature.startswith("events_"):
        if effect <= 0:
            return None
        token = feature[len("events_"):].split("_")[0]
        return EVENT_WORDS.get(token, f"{token}-engaged")
    if feature == "age":
        return "older" if effect > 0 else "younger"
    return f"{'high' if effect > 0 else 'low'} {feature.replace('_', ' ')}"


def _base(row: pd.Series) -> str:
    value, freq, rec = (_num(row.get(c)) for c in ("value_effect", "frequency_effect",
                                                    "recency_effect"))
    if np.isnan(value) and np.isnan(freq) and np.isnan(rec):
        return ""
    words = []
    if rec > 0.5:
        words.append("lapsing")
    elif rec < -0.5:
        words.append("active")
    words.append("high-value" if value >= 0.5 else "low-value" if value <= -0.5 else "mid-value")
    words.append("frequent buyers" if freq >= 0.5 else
                 "occasional buyers" if freq <= -0.5 else "regular buyers")
    return " ".join(words)


def name_segments(profile: pd.DataFrame, max_traits: int = 2) -> dict[str, str]:
    """``{segment: name}`` for every row of a profile; names are unique within the profile."""
    names: dict[str, str] = {}
    for seg, row in profile.iterrows():  # one row per segment, a few dozen at most
        key = str(seg)
        if bool(row.get("suppressed", False)):
            names[key] = f"Segment {key}"
            continue
        guided = [part for part in key.split(".") if not part.isdigit()]
        traits: list[str] = []
        for item in row.get("distinguishing") or []:
            label = trait_label(str(item["feature"]), str(item["kind"]), _num(item["effect"]))
            if label and label not in traits and label not in guided:
                traits.append(label)
            if len(traits) >= max_traits:
                break
        base = _base(row)
        parts = [p for p in [base, *traits] if p]
        text = ", ".join(parts) if parts else f"Segment {key}"
        text = text[0].upper() + text[1:]
        names[key] = f"{' / '.join(guided)}: {text}" if guided else text
    seen: dict[str, int] = {}
    for key, name in names.items():
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[key] = f"{name} ({seen[name]})"
    return names
