"""Readable segment names built from the profiles (see :mod:`segml.segments.profiles`).

A **top-level** name reads ``[recency] [value tier] [frequency noun][, trait][, trait]``:

* recency from ``recency_effect`` (d of ``recency_days``): > 0.5 ``Lapsing``, < -0.5 ``Active``;
  but where most of the segment is lapsed (``lapsed_share`` >= 0.5: no order within the activity
  window) the name says ``Mostly lapsed`` and never calls them frequent or regular buyers: what
  they *were* reads ``..., formerly frequent`` (the mean recency of a segment hides that half of
  it may be long gone); a mostly lapsed child of a mostly active parent adds ``mostly lapsed``
  to its parent's name;
* value tier from ``value_effect`` (d of revenue): >= 0.5 ``high-value``, <= -0.5 ``low-value``,
  else ``mid-value``; frequency from ``frequency_effect``: >= 0.5 ``frequent buyers``, <= -0.5
  ``occasional buyers``, else ``regular buyers`` (behavioural data only: attributes mode has no
  revenue, and its names are traits only);
* up to two traits: the strongest distinguishing features (against everyone else) that say
  something: a category or channel share (``books``, ``mobile``), an event type
  (``email-engaged``), an attribute.

A **child** is named ``<its parent's name>, <trait>``: the trait is its strongest distinguishing
feature against its *siblings* (``refining`` in the profile), numeric ones in comparative words
(``higher monthly charges``), and never a column its parent's name already used, so a child
refines its parent and never contradicts it. An only child keeps its parent's name.

**Attributes are named by meaning** (:func:`trait_label`): a yes/no column by its name (``senior
citizen``, ``no international plan``, ``partner 41%`` when it is neither mostly yes nor mostly
no), a categorical level with its column (``month-to-month contract``, ``fiber optic internet
service``, ``area code 415``), a count by quantity (``many customer service calls``).

**Unique within a level**: where siblings (or top-level segments) would share a name, each gets
its next strongest trait until they differ; never a `` (2)`` suffix. Segments under guided levels
(``North.at risk.2``) are prefixed with their guided values (``North / at risk: ...``). A segment
under ``min_profile_size`` customers is not described: it is a ``small group`` of its parent.

Example
-------
>>> import pandas as pd
>>> profile = pd.DataFrame({
...     "suppressed": [False, False],
...     "value_effect": [1.2, -0.9], "frequency_effect": [0.8, -0.7],
...     "recency_effect": [-0.2, 1.1],
...     "distinguishing": [[{"feature": "share_channel_mobile", "kind": "numeric", "effect": 0.9},
...                         {"feature": "region=North", "kind": "categorical", "effect": 0.3,
...                          "segment_value": 0.8}],
...                        [{"feature": "events_email_open_90d", "kind": "numeric",
...                          "effect": 0.7}]]},
...     index=pd.Index(["1", "2"], name="segment"))
>>> name_segments(profile)
{'1': 'High-value frequent buyers, mobile, North region', '2': 'Lapsing low-value occasional buyers, email-engaged'}
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

CORE_PREFIXES = ("recency_days", "frequency", "monetary_", "spend_", "orders_", "tenure_days",
                 "btyd_", "ipt_", "days_since_", "return_rate")
EVENT_WORDS = {"email": "email-engaged", "session": "web-engaged", "page": "web-engaged",
               "cart": "cart-active", "support": "support-heavy", "push": "push-engaged",
               "sms": "sms-engaged"}
YES = frozenset({"yes", "y", "true", "t", "1", "1.0"})
NO = frozenset({"no", "n", "false", "f", "0", "0.0"})
#: Columns whose levels read alone ("female", not "female gender").
BARE_LEVEL_COLUMNS = frozenset({"gender", "sex", "segment", "type", "category", "class",
                                "status", "group", "tier"})
_COUNT_PREFIXES = ("number_", "num_", "nr_", "n_", "count_")
_COUNT_SUFFIXES = ("_count", "_calls", "_messages", "_visits", "_tickets", "_orders")
MIN_NUMERIC = 0.5    # |d| a numeric trait needs by default
MIN_CATEGORICAL = 0.2  # Cramer's V a categorical trait needs by default
MAJORITY = 0.6       # share from which a yes/no or level trait reads without its percentage


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return out


def words(column: str) -> str:
    """A column name as words: ``MonthlyCharges`` -> ``monthly charges``; codes stay as they are.

    Example
    -------
    >>> words("SeniorCitizen"), words("total_day_minutes"), words("MOSTYPE"), words("area_code")
    ('senior citizen', 'total day minutes', 'MOSTYPE', 'area code')
    """
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(column)).replace("_", " ").strip()
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in text.split())


#: The purchase model's features (``btyd_*``: BG/NBD, "buy till you die") in words.
BTYD_LABELS = ((r"btyd_p_alive", "P(alive)"),
               (r"btyd_prob_purchase_(\d+)d", r"P(purchase in \1d)"),
               (r"btyd_expected_purchases_(\d+)d", r"expected purchases in \1d"),
               (r"btyd_expected_next_purchase_days", "expected days to next purchase"))
#: What the report says the purchase model's features are.
BTYD_NOTE = ("Features named \"purchase model: ...\" come from the BG/NBD purchase model (\"buy "
             "till you die\") fitted to every customer's order history")


def feature_label(feature: str) -> str:
    """A feature as the report and the plots show it: words, with the purchase model's
    features (``btyd_*``) named as such; categorical levels keep their spelling.

    Example
    -------
    >>> feature_label("btyd_prob_purchase_90d"), feature_label("days_since_session")
    ('purchase model: P(purchase in 90d)', 'days since session')
    >>> feature_label("btyd_p_alive"), feature_label("btyd_new_thing")
    ('purchase model: P(alive)', 'purchase model: new thing')
    >>> feature_label("Contract=Month-to-month")
    'Contract = Month-to-month'
    """
    text = str(feature)
    if "=" in text:
        column, level = text.split("=", 1)
        return f"{feature_label(column)} = {level}"
    if text.startswith("btyd_"):
        for pattern, label in BTYD_LABELS:
            if re.fullmatch(pattern, text):
                return "purchase model: " + re.sub(pattern, label, text)
        return "purchase model: " + text.removeprefix("btyd_").replace("_", " ")
    return text.replace("_", " ")


def _level_text(level: str) -> str:
    return level.strip()  # as the data spells it: proper names and acronyms keep their case


def _share_suffix(label: str, share: float) -> str:
    return label if np.isnan(share) or share >= MAJORITY else f"{label} {share:.0%}"


def trait_label(feature: str, kind: str, effect: float, segment_value: float = float("nan"),
                relative: bool = False, strict: bool = True) -> str | None:
    """A short readable trait for one distinguishing feature, or None when it says nothing.

    ``segment_value``: the segment's mean (numeric), share of 1s (binary) or share of the level
    (categorical). ``relative``: comparative words, for a child against its siblings.
    ``strict``: None below the default strengths (:data:`MIN_NUMERIC`, :data:`MIN_CATEGORICAL`).

    Example
    -------
    >>> trait_label("share_category_garden", "numeric", 0.9), trait_label("device=mobile",
    ...     "categorical", 0.4, 0.8), trait_label("age", "numeric", -0.8)
    ('garden', 'mobile device', 'younger')
    >>> trait_label("SeniorCitizen", "binary", 0.9, 0.41), trait_label("intl_plan=no",
    ...     "categorical", 0.5, 1.0), trait_label("Contract=Month-to-month", "categorical", 0.6, 0.9)
    ('senior citizen 41%', 'no intl plan', 'Month-to-month contract')
    """
    effect = _num(effect)
    share = _num(segment_value)
    if kind == "categorical":
        if np.isnan(effect) or (strict and effect < MIN_CATEGORICAL) or "=" not in feature:
            return None
        column, level = feature.split("=", 1)
        low = level.strip().lower()
        if low in ("(other)", "(missing)", ""):
            return f"{words(column)} unknown" if low == "(missing)" else None
        if low in YES or low in NO:  # a yes/no column: the share of yes
            yes = share if low in YES else 1.0 - share
            return _yes_no(words(column), yes)
        if low.startswith("no ") or column.lower() in BARE_LEVEL_COLUMNS:
            return _share_suffix(_level_text(level), share)
        if re.fullmatch(r"-?\d+(\.\d+)?", level.strip()):
            return _share_suffix(f"{words(column)} {level.strip()}", share)
        return _share_suffix(f"{_level_text(level)} {words(column)}", share)
    if np.isnan(effect) or (strict and abs(effect) < MIN_NUMERIC) or effect == 0:
        return None
    if feature.startswith(CORE_PREFIXES):  # the base words name them at the top level
        return _relative_core(feature, effect) if relative else None
    if kind == "binary":
        return _yes_no(words(feature), share) if effect > 0 or share <= 1 - MAJORITY else None
    if feature.startswith(("share_category_", "share_channel_")):
        return feature.split("_", 2)[2].replace("_", " ") if effect > 0 else None
    if feature.startswith("events_"):
        if effect <= 0:
            return None
        token = feature[len("events_"):].split("_")[0]
        return EVENT_WORDS.get(token, f"{token}-engaged")
    if feature == "age":
        return "older" if effect > 0 else "younger"
    name = feature
    count = name.startswith(_COUNT_PREFIXES) or name.endswith(_COUNT_SUFFIXES)
    for prefix in _COUNT_PREFIXES:
        name = name.removeprefix(prefix)
    up = effect > 0
    if count:
        if not relative and not up and share < 0.5:  # hardly any: a mean under one half
            return f"no {words(name)}"
        adjective = ("more" if up else "fewer") if relative else ("many" if up else "few")
    elif re.search(r"tenure|length|duration|months|days|years", name, re.IGNORECASE):
        adjective = ("longer" if up else "shorter") if relative else ("long" if up else "short")
    else:
        adjective = ("higher" if up else "lower") if relative else ("high" if up else "low")
    return f"{adjective} {words(name)}"


#: A child's comparative words for the behavioural core (its parent's base named the tier).
_CORE_RELATIVE = (("monetary_", ("higher spend", "lower spend")),
                  ("spend_", ("higher spend", "lower spend")),
                  ("frequency", ("more orders", "fewer orders")),
                  ("orders_", ("more orders", "fewer orders")),
                  ("ipt_mean_days", ("less frequent", "more frequent")),
                  ("recency_days", ("less recent", "more recent")),
                  ("tenure_days", ("longer tenure", "shorter tenure")),
                  ("return_rate", ("more returns", "fewer returns")))


def _relative_core(feature: str, effect: float) -> str | None:
    for prefix, (up, down) in _CORE_RELATIVE:
        if feature.startswith(prefix):
            return up if effect > 0 else down
    return None


def _yes_no(text: str, yes: float) -> str | None:
    if np.isnan(yes):
        return text
    if yes >= MAJORITY:
        return text
    if yes <= 1 - MAJORITY:
        return f"no {text}" if yes < 0.1 else f"{text} {yes:.0%}"
    return f"{text} {yes:.0%}"


def _base(row: pd.Series) -> str:
    value, freq, rec = (_num(row.get(c)) for c in ("value_effect", "frequency_effect",
                                                    "recency_effect"))
    if np.isnan(value) and np.isnan(freq) and np.isnan(rec):
        return ""
    words_ = []
    tier = "high-value" if value >= 0.5 else "low-value" if value <= -0.5 else "mid-value"
    if _mostly_lapsed(row):  # most of them buy no more: say so first
        was = ("frequent" if freq >= 0.5 else None if freq <= -0.5 else "regular")
        return f"mostly lapsed {tier} customers" + (f", formerly {was}" if was else "")
    if rec > 0.5:
        words_.append("lapsing")
    elif rec < -0.5:
        words_.append("active")
    words_.append(tier)
    words_.append("frequent buyers" if freq >= 0.5 else
                  "occasional buyers" if freq <= -0.5 else "regular buyers")
    return " ".join(words_)


def _mostly_lapsed(row: Any) -> bool:
    """Most of the segment has not ordered within the activity window."""
    return _num(row.get("lapsed_share")) >= 0.5


def _column(feature: str) -> str:
    return str(feature).split("=", 1)[0]


def _traits(items: Any, relative: bool, used: set[str],
            skip_levels: frozenset[str] = frozenset()) -> list[tuple[str, str, bool]]:
    """``(column, label, strong)`` for each usable item, strongest first; ``strong``: it passes
    the default strengths. Columns in ``used`` (named by an ancestor) and levels in
    ``skip_levels`` (guided values, already in the prefix) are skipped."""
    out: list[tuple[str, str, bool]] = []
    for item in items if isinstance(items, list) else []:
        feature, kind = str(item.get("feature", "")), str(item.get("kind", "numeric"))
        column = _column(feature)
        level = feature.split("=", 1)[1] if "=" in feature else None
        if column in used or any(c == column for c, _, _ in out) or level in skip_levels:
            continue
        args = (feature, kind, item.get("effect"), item.get("segment_value", float("nan")))
        label = trait_label(*args, relative=relative)
        strong = label is not None
        label = label or trait_label(*args, relative=relative, strict=False)
        # "mobile" (a channel share) says what "mobile device" says: one of them is enough
        if label and not any(_overlap(label, existing) for _, existing, _ in out):
            out.append((column, label, strong))
    return out


def _shared(row: pd.Series) -> list:
    """The distinguishing features every child shares (``shared``, when the level below is
    profiled): what a parent's name may say without contradicting one of its children."""
    items = row.get("distinguishing")
    items = items if isinstance(items, list) else []
    shared = row.get("shared")
    if not isinstance(shared, list):
        return items
    return [i for i in items if i.get("feature") in shared]


def _overlap(a: str, b: str) -> bool:
    wa, wb = set(a.lower().split()), set(b.lower().split())
    return wa <= wb or wb <= wa


def _unique(group: list[str], head: dict[str, str], options: dict[str, list[tuple[str, str, bool]]],
            start: dict[str, int]) -> dict[str, tuple[str, list[str]]]:
    """Names for one group of segments that must differ: ``head`` + traits, adding each
    segment's next trait while it shares its name with another of the group."""
    count = dict(start)

    def name(key: str) -> tuple[str, list[str]]:
        # traits most of the segment shares first, those with a percentage after them
        chosen = sorted(options[key][: count[key]], key=lambda t: t[1][-1:] == "%")
        parts = [p for p in [head[key], *(label for _, label, _ in chosen)] if p]
        return ", ".join(parts), [c for c, _, _ in chosen]

    while True:
        names = {k: name(k) for k in group}
        seen = pd.Series({k: v[0] for k, v in names.items()}, dtype=object)
        clash = seen[seen.duplicated(keep=False)]
        grown = False
        for key in clash.index:
            if count[key] < len(options[key]):
                count[key] += 1
                grown = True
        if clash.empty or not grown:
            break
    for text, keys in seen.groupby(seen, sort=False).groups.items():
        if len(keys) > 1:  # nothing left to tell them apart: their size order does
            for rank, key in enumerate(keys):
                label = "largest part" if rank == 0 else f"part {chr(ord('A') + rank)}"
                names[key] = (f"{text}, {label}" if text else _capital(label), names[key][1])
    return names


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def name_hierarchy(profiles: dict[int, pd.DataFrame], max_traits: int = 2) -> dict[int, dict[str, str]]:
    """``{level: {segment: name}}`` for the profiles of every level (:func:`profile_hierarchy`).

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from segml.segments.profiles import profile_hierarchy
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"plan": pd.Categorical(np.repeat(["basic", "premium"], 200)),
    ...                   "SeniorCitizen": np.tile(np.repeat([0.0, 1.0], 100), 2)})
    >>> A = pd.DataFrame({"segment_level_1": np.repeat(["1", "2"], 200),
    ...                   "segment_level_2": np.repeat(["1.1", "1.2", "2.1", "2.2"], 100)})
    >>> name_hierarchy(profile_hierarchy(X, A))[2]["2.1"]
    'Premium plan, no senior citizen'
    """
    names: dict[int, dict[str, str]] = {}
    used: dict[str, set[str]] = {}  # columns a segment's name (with its ancestors') uses
    previous: dict[str, str] = {}  # names of the level above
    parent_rows: dict[str, Any] = {}  # profile rows of the level above
    for level in sorted(profiles):
        profile = profiles[level]
        head: dict[str, str] = {}
        options: dict[str, list[tuple[str, str, bool]]] = {}
        start: dict[str, int] = {}
        groups: dict[str, list[str]] = {}
        level_names: dict[str, str] = {}
        for seg, row in profile.iterrows():  # one row per segment, a few dozen at most
            key = str(seg)
            parts = key.split(".")
            if not parts[-1].isdigit():  # a guided level: its values
                level_names[key] = " / ".join(parts)
                continue
            parent = ".".join(parts[:-1])
            # a child of a named discovered segment refines it; otherwise (top level, under a
            # guided level, or a profile named on its own) it is named against everyone
            child = parent in previous and parent.split(".")[-1].isdigit()
            if not child and parent not in previous:
                parent = ""
            groups.setdefault(parent, []).append(key)
            used[key] = set(used.get(parent, set())) if child else set()
            if bool(row.get("suppressed", False)):  # not described: a small part of its parent
                head[key] = f"{previous.get(parent, '')}, small group" if child else "small group"
                options[key], start[key] = [], 0
            elif child:
                head[key] = previous.get(parent, "")
                if _mostly_lapsed(row) and not _mostly_lapsed(parent_rows.get(parent, {})):
                    # its parent reads "... buyers", most of this part buys no more
                    head[key] += ", mostly lapsed"
                options[key] = _traits(row.get("refining"), True, used[key])
                start[key] = min(1, len(options[key]))
            else:
                head[key] = _base(row)
                guided = frozenset(parts[:-1])
                options[key] = _traits(_shared(row), False, set(), guided)
                strong = sum(t[2] for t in options[key])
                # what not every child shares says "mostly", and only where a name needs it
                taken = {c for c, _, _ in options[key]}
                options[key] += [(c, f"mostly {label}", False) for c, label, _ in
                                 _traits(row.get("distinguishing"), False, set(), guided)
                                 if c not in taken]
                start[key] = min(max_traits, strong) if strong else min(
                    1 if not head[key] else 0, len(options[key]))  # a name, not "All customers"
        for parent, group in groups.items():
            child = parent in previous and parent.split(".")[-1].isdigit()
            prefix = previous.get(parent, "") if parent and not child else ""
            if child and len(group) == 1:
                level_names[group[0]] = previous.get(parent, "")  # an only child: its parent
                continue
            for key, (text, columns) in _unique(group, head, options, start).items():
                used[key] |= set(columns)
                text = _capital(text) if text else "All customers"
                level_names[key] = f"{prefix}: {text}" if prefix else text
        names[level] = level_names
        previous = level_names
        parent_rows = {str(k): row for k, row in profile.iterrows()}
    return names


def name_segments(profile: pd.DataFrame, max_traits: int = 2) -> dict[str, str]:
    """``{segment: name}`` for one profile, every row named as a top-level segment (unique)."""
    frame = profile.drop(columns=[c for c in ("parent", "refining") if c in profile.columns])
    keys = [str(k) for k in frame.index]
    frame = frame.set_axis([str(i + 1) for i in range(len(frame))])  # ids, not guided values
    named = name_hierarchy({1: frame}, max_traits)[1]
    return {key: named[str(i + 1)] for i, key in enumerate(keys)}
