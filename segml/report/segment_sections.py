"""The report's segment sections: the segment tree, how the leaves were found, the profile cards
and the rule segments (RFM grid, lifecycle, ...).

Each reads what it needs from :class:`~segml.report.blocks.Artifacts` (``segments/...`` tables,
the segment plots, ``segments/discovery.json``) and returns plain dicts and HTML snippets for the
template. Privacy: every count shown is at least ``floor`` (``segments.min_profile_size``);
smaller groups are hidden, never described.

Example
-------
>>> import pandas as pd
>>> art = Artifacts(tables={"segments/rfm_grid.csv": pd.DataFrame({"R": [5], "1": [60.0], "2": [17.0]})})
>>> grid = rules_section(art, floor=50)["rfm_grid"]
>>> grid.count("<td"), ">60<" in grid, ">17<" in grid
(2, True, False)
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from segml.report.blocks import Artifacts, fmt, profile_levels, segment_names
from segml.segments.naming import feature_label

KPIS = {  # profile column -> (label, format)
    "share": ("share of customers", "pct"),
    "revenue_share": ("share of revenue", "pct"),
    "aov": ("average order value", "money"),
    "frequency": ("orders (mean)", "mean"),
    "recency_days": ("days since last order (mean)", "int"),
    "lapsed_share": ("lapsed (no order in the activity window)", "pct"),
    # churn is defined for active customers only: the lapsed have no churn label
    "churn_rate": ("expected churn (active customers)", "pct"),
    "purchase_rate": ("expected purchase", "pct"),
}


def _json_list(value: Any) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, str) and value.startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return []
    return []


def _refinement(name: str, parent: str) -> str:
    """What a child's name adds to its parent's (``+ Female``), else the whole name.

    Example
    -------
    >>> _refinement("Short tenure, Female", "Short tenure"), _refinement("Short tenure", "Short tenure")
    ('+ Female', 'Short tenure')
    """
    if parent and name.startswith(parent + ", "):
        return "+ " + name[len(parent) + 2:]
    return name


def tree_section(art: Artifacts, floor: int) -> dict[str, Any]:
    """The segment tree as nested boxes sized by customers, plus the dendrogram and size plots."""
    hierarchy = art.table("segments/hierarchy.csv")
    names = segment_names(art)
    boxes = []
    if hierarchy is not None and "level_1" in hierarchy and "size" in hierarchy:
        h = hierarchy.copy()
        h["level_1"] = h["level_1"].astype(str)
        h["path"] = h["path"].astype(str)
        h["size"] = pd.to_numeric(h["size"], errors="coerce").fillna(0)  # NaN: under the floor
        total = float(h["size"].sum()) or 1.0
        for top, group in h.groupby("level_1", sort=True):
            size = int(group["size"].sum())
            # A group under the floor keeps its place in the tree but shows no name or size
            # (its box width is the floor's, so the page source does not reveal it either).
            top_name = names.get(top, "") if size >= floor else ""
            leaves = [
                {"path": p, "name": names.get(p, "") if s >= floor else "",
                 "short": _refinement(names.get(p, ""), top_name) if s >= floor else "",
                 "size": int(s) if s >= floor else None, "weight": max(int(s), floor, 1),
                 "share": s / total if s >= floor else None}
                for p, s in zip(group["path"], group["size"], strict=True) if p != top
            ]  # fmt: skip
            big = size >= floor
            boxes.append({"path": top, "name": names.get(top, "") if big else "",
                          "weight": max(size, floor, 1), "size": size if big else None,
                          "share": size / total if big else None, "leaves": leaves})
    plots = [art.image(f"plots/{n}.png") for n in
             ("segment_tree", "segment_sizes", "leaf_sizes", "segment_projection")]
    return {"boxes": boxes, "plots": [p for p in plots if p], "floor": floor,
            "heatmap": art.image("plots/profile_heatmap.png"),  # full width: it has text cells
            "discovery": discovery_notes(art.document("segments/discovery.json"))}


#: Kaufman and Rousseeuw's reading of a mean silhouette.
SEPARATION = ((0.7, "strong structure"), (0.5, "reasonable structure"), (0.25, "weak structure"),
              (-1.0, "no substantial structure"))


def discovery_notes(found: dict[str, Any] | None) -> list[str]:
    """Sentences saying which method made the leaves and why, the noise share and how separated
    the top-level segments are (``segments/discovery.json``).

    Example
    -------
    >>> discovery_notes({"leaf_method": "hdbscan", "reason": "HDBSCAN found 9 dense clusters",
    ...                  "noise_share": 0.29, "top_level_silhouette": 0.41})[1]
    'Noise: 29% of the customers are in no dense cluster; each is assigned to its most likely leaf and flagged (segment_is_noise).'
    """
    if not found:
        return []
    method = found.get("leaf_method")
    label = {"hdbscan": "HDBSCAN (density)", "kmeans": "k-means (partition)",
             "single": "none (one group)"}.get(str(method), str(method))
    notes = [f"Leaves made by {label}: {found.get('reason', '')}."]
    noise, density = found.get("noise_share"), found.get("density_noise_share")
    if method == "hdbscan" and noise is not None:
        notes.append(f"Noise: {noise:.0%} of the customers are in no dense cluster; each is "
                     "assigned to its most likely leaf and flagged (segment_is_noise).")
    elif density is not None:
        notes.append(f"Noise: HDBSCAN would have called {density:.0%} of the customers noise; "
                     "with k-means leaves every customer belongs to the leaf of its nearest "
                     "centroid (none is flagged).")
    sil = found.get("top_level_silhouette")
    if sil is not None:
        reading = next(text for bound, text in SEPARATION if sil > bound)
        extra = (": the top-level segments are slices of one continuous population, useful to "
                 "act on, not separate kinds of customers") if sil <= 0.25 else ""
        notes.append(f"Separation of the top-level segments: mean silhouette {sil:.2f} "
                     f"({reading}){extra}.")
    elif method == "single":
        notes.append("Every customer is in one segment: the data shows no group to tell apart.")
    return notes


def profile_cards(art: Artifacts) -> list[dict[str, Any]]:
    """One group of cards per level: name, size, KPIs and the distinguishing features."""
    levels = []
    for level in profile_levels(art):
        frame = art.table(f"segments/profile_level_{level}.csv")
        cards, hidden = [], 0
        for row in frame.to_dict("records"):
            if str(row.get("suppressed")).lower() == "true" or pd.isna(row.get("size")):
                hidden += 1
                continue
            features = []
            for item in _json_list(row.get("distinguishing")):
                if not isinstance(item, dict):
                    continue
                # yes/no columns and categorical levels: shares of customers
                kind = "pct" if item.get("kind") in ("binary", "categorical") else "value"
                features.append({
                    "feature": feature_label(str(item.get("feature", ""))),
                    "effect": _effect(item.get("effect")),
                    "up": (item.get("effect") or 0) >= 0,
                    "segment": _value(item.get("segment_value"), kind),
                    "rest": _value(item.get("rest_value"), kind),
                })  # fmt: skip
            kpis = [(label, fmt(row.get(col), kind)) for col, (label, kind) in KPIS.items()
                    if col in row and fmt(row.get(col), kind)]
            cards.append({"segment": str(row["segment"]), "name": str(row.get("name") or ""),
                          "size": fmt(int(row["size"])), "kpis": kpis, "features": features})
        levels.append({"level": level, "cards": cards, "hidden": hidden})
    return levels


def _effect(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if number != number else f"{number:+.2f}"


def _value(value: Any, kind: str) -> str:
    """A feature's mean or share on a card: shares as percentages, means with 3 significant
    digits below 10, one decimal below 1,000 (``0.267``, ``38.6``, ``2,556``).

    Example
    -------
    >>> _value(0.2671, "value"), _value(38.619, "value"), _value(2556.4, "value"), _value(0.27, "pct")
    ('0.267', '38.6', '2,556', '27.0%')
    """
    if kind == "pct":
        return fmt(value, "pct")
    try:
        number = float(value)
    except (TypeError, ValueError):
        return fmt(value)
    if number != number:
        return ""
    if abs(number) >= 1000:
        return f"{number:,.0f}"
    return f"{number:.1f}" if abs(number) >= 10 else f"{number:.3g}" if number else "0"


def rules_section(art: Artifacts, floor: int) -> dict[str, Any]:
    """The RFM R x F grid (customers per cell) and the rule segments (RFM names, lifecycle, ...)."""
    grid = art.table("segments/rfm_grid.csv")
    grid_html = ""
    if grid is not None and len(grid):
        values = grid.set_index(grid.columns[0]).astype(float)
        top = float(np.nanmax(values.to_numpy())) if values.notna().any().any() else 1.0
        head = "".join(f"<th>F {c}</th>" for c in values.columns)
        body = []
        for r, row in values.iterrows():
            cells = []
            for v in row:
                shown = not np.isnan(v) and v >= floor
                alpha = 0.1 + 0.8 * (v / top) if shown else 0.0
                cells.append(f'<td style="background:rgba(76,120,168,{alpha:.2f})">'
                             f'{fmt(int(v)) if shown else ""}</td>')
            body.append(f"<tr><th>R {r}</th>{''.join(cells)}</tr>")
        grid_html = f'<table class="grid"><tr><th></th>{head}</tr>{"".join(body)}</table>'
    rules = art.table("segments/rule_segments.csv")
    groups = []
    if rules is not None and len(rules):
        rules = rules[rules["customers"] >= floor]
        for rule, frame in rules.groupby("rule", sort=True):
            total = float(frame["customers"].sum()) or 1.0
            groups.append({"rule": str(rule).replace("_", " "), "rows": [
                {"segment": str(s), "customers": fmt(int(c)), "share": c / total}
                for s, c in zip(frame["segment"], frame["customers"], strict=True)]})
    return {"rfm_grid": grid_html, "groups": groups}


__all__ = ["KPIS", "SEPARATION", "discovery_notes", "profile_cards", "rules_section",
           "tree_section"]
