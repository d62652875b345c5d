"""The report's sections, built from a run's artifacts (CSV tables, PNG plots, JSON documents).

Each ``*_section`` function reads what it needs from :class:`Artifacts`, marks it as used and
returns plain dicts and HTML snippets for the template; whatever no section used is listed at the
end of the report, so nothing a run logged is lost. Privacy: every count shown is at least
``floor`` (``segments.min_profile_size``); smaller groups are hidden, never described.

Example
-------
>>> import pandas as pd
>>> art = Artifacts(tables={"segments/rfm_grid.csv": pd.DataFrame({"R": [5], "1": [60.0], "2": [17.0]})})
>>> grid = rules_section(art, floor=50)["rfm_grid"]
>>> grid.count("<td"), ">60<" in grid, ">17<" in grid
(2, True, False)
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segml.targets import TARGETS

KPIS = {  # profile column -> (label, format)
    "share": ("share of customers", "pct"),
    "revenue_share": ("share of revenue", "pct"),
    "aov": ("average order value", "num"),
    "frequency": ("orders", "num"),
    "recency_days": ("days since last order", "num"),
    "churn_rate": ("expected churn", "pct"),
    "purchase_rate": ("expected purchase", "pct"),
}


@dataclass
class Artifacts:
    """A run's artifacts by relative path; ``used`` records what the sections consumed."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def table(self, name: str) -> pd.DataFrame | None:
        if name in self.tables:
            self.used.add(name)
            return self.tables[name]
        return None

    def image(self, name: str) -> dict[str, str] | None:
        if name not in self.images:
            return None
        self.used.add(name)
        title = name.rsplit("/", 1)[-1].removesuffix(".png").replace("_", " ")
        return {"title": title, "data": base64.b64encode(self.images[name]).decode("ascii")}

    def document(self, name: str) -> Any:
        if name in self.documents:
            self.used.add(name)
            return self.documents[name]
        return None


def fmt(value: Any, kind: str = "num") -> str:
    """A cell value for people: percentages, thousands separators, 3 significant decimals.

    Example
    -------
    >>> fmt(0.1234, "pct"), fmt(12345.0), fmt(0.8123), fmt(None), fmt("x")
    ('12.3%', '12,345', '0.812', '', 'x')
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        if kind == "pct":
            return f"{value:.1%}"
        if abs(value) >= 1000 or (float(value).is_integer() and abs(value) >= 1):
            return f"{value:,.0f}"
        return f"{value:.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


def html_table(frame: pd.DataFrame, highlight: str | None = None, pct: tuple[str, ...] = ()) -> str:
    """An escaped HTML table (index dropped); rows whose first cell equals ``highlight`` in bold."""
    from html import escape

    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False):
        cells = "".join(
            f"<td>{escape(fmt(v, 'pct' if c in pct else 'num'))}</td>"
            for c, v in zip(frame.columns, values, strict=True)
        )
        cls = ' class="hl"' if highlight is not None and str(values[0]) == highlight else ""
        rows.append(f"<tr{cls}>{cells}</tr>")
    return f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _json_list(value: Any) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, str) and value.startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return []
    return []


def _levels(art: Artifacts) -> list[int]:
    return sorted(int(n.removeprefix("segments/profile_level_").removesuffix(".csv"))
                  for n in art.tables if n.startswith("segments/profile_level_"))


def segment_names(art: Artifacts) -> dict[str, str]:
    """Segment path -> name over every level (from the profile tables)."""
    names: dict[str, str] = {}
    for level in _levels(art):
        frame = art.tables[f"segments/profile_level_{level}.csv"]
        if "name" in frame:
            names.update(zip(frame["segment"].astype(str), frame["name"].fillna("").astype(str),
                             strict=True))
    return names


# ------------------------------------------------------------------------------ sections
def data_section(art: Artifacts, run: dict[str, Any]) -> dict[str, Any]:
    """Data fingerprints, the matrices the run used and the readiness per target."""
    context = art.document("report/context.json") or {}
    prints = art.document("data/fingerprints.json") or {}
    fp_rows = [{"table": t, **{k: v for k, v in d.items() if k != "columns"}} for t, d in prints.items()]
    cutoffs = art.document("cutoffs.json") or context.get("cutoffs") or {}
    readiness = context.get("readiness") or art.document("readiness.json") or {}
    rows = []
    for target, info in (readiness.get("targets") or {}).items():
        rows.append({
            "target": target, "history days": info.get("history_days"),
            "labelled rows": info.get("labelled_rows"), "positives": info.get("positives"),
            "negatives": info.get("negatives"), "label rate": info.get("label_rate"),
            "leakage suspects": ", ".join(info.get("leakage_suspects") or []) or "none",
            "constant / ID-like": len(info.get("constant_columns") or [])
            + len(info.get("id_like_columns") or []),
        })  # fmt: skip
    problems = list(readiness.get("problems") or []) + list(art.document("validation_warnings.json") or [])
    skipped = [p.get("message", "") for p in context.get("skipped_targets") or []]
    return {
        "summary": [(k.replace("_", " "), fmt(v, "pct" if "rate" in k else "num"))
                    for k, v in (context.get("data") or {}).items()],
        "fingerprints": html_table(pd.DataFrame(fp_rows)) if fp_rows else "",
        "cutoffs": [(CUTOFF_LABELS.get(k, k.replace("_", " ")),
                     ", ".join(v) if isinstance(v, list) else str(v))
                    for k, v in cutoffs.items() if v and not isinstance(v, dict)],
        "windows": windows_table(context.get("targets") or {},
                                 context.get("skipped") or cutoffs.get("skipped") or {}),
        "skipped": skipped,
        "readiness": html_table(pd.DataFrame(rows), pct=("label rate",)) if rows else "",
        "blocking": bool(readiness.get("blocking")),
        "problems": [_problem_text(p) for p in problems[:40]],
        "more_problems": max(len(problems) - 40, 0),
    }


CUTOFF_LABELS = {"scoring": "scoring cutoff (data end)", "data_start": "data start",
                 "spec_cutoff": "feature settings learned at"}


def windows_table(targets: dict[str, dict[str, Any]], skipped: dict[str, str]) -> str:
    """One row per target: the cutoffs its reported metrics come from and the ones its
    registered predictor was fitted on (``fitted up to``), or why it was skipped.

    Example
    -------
    >>> html = windows_table({"churn": {"horizon_days": 90, "train": ["2025-04-01"],
    ...     "evaluation": "2025-10-01", "refit": ["2025-10-01"], "fit_cutoff": "2025-10-01",
    ...     "training_rows": 900}}, {"spend": "target spend skipped: ..."})
    >>> "2025-10-01" in html and "skipped" in html
    True
    """
    rows = []
    for target, w in targets.items():
        rows.append({"target": target, "horizon (days)": w.get("horizon_days"),
                     "training cutoffs": ", ".join(w.get("train") or []),
                     "evaluation cutoff": w.get("evaluation"),
                     "training rows": w.get("training_rows"),
                     "registered model fitted on": ", ".join(w.get("refit") or []),
                     "fitted up to": w.get("fit_cutoff")})
    for target in skipped:
        rows.append({"target": target, "horizon (days)": None,
                     "training cutoffs": "skipped (see the warning above)",
                     "evaluation cutoff": None, "training rows": None,
                     "registered model fitted on": None, "fitted up to": None})
    return html_table(pd.DataFrame(rows)) if rows else ""


def _problem_text(problem: dict[str, Any]) -> str:
    where = ", ".join(f"{k} {problem[k]}" for k in ("table", "column", "key") if problem.get(k))
    return f"[{problem.get('severity', 'warning')}] {problem.get('message', '')}" + (f" ({where})" if where else "")


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
    for level in _levels(art):
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
                kind = "pct" if item.get("kind") in ("binary", "categorical") else "num"
                features.append({
                    "feature": str(item.get("feature", "")).replace("_", " "),
                    "effect": fmt(item.get("effect")),
                    "up": (item.get("effect") or 0) >= 0,
                    "segment": fmt(item.get("segment_value"), kind),
                    "rest": fmt(item.get("rest_value"), kind),
                })  # fmt: skip
            kpis = [(label, fmt(row.get(col), kind)) for col, (label, kind) in KPIS.items()
                    if col in row and fmt(row.get(col), kind)]
            cards.append({"segment": str(row["segment"]), "name": str(row.get("name") or ""),
                          "size": fmt(int(row["size"])), "kpis": kpis, "features": features})
        levels.append({"level": level, "cards": cards, "hidden": hidden})
    return levels


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


def model_sections(art: Artifacts) -> list[dict[str, Any]]:
    """Per target: model vs baselines, the evaluation curves and (spend) the decile table."""
    out = []
    for target in TARGETS:
        comparison = art.table(f"evaluation/{target}_comparison.csv")
        if comparison is None:
            continue
        comparison = comparison.rename(columns={comparison.columns[0]: "scorer"})
        deciles = art.table(f"evaluation/{target}_deciles.csv")
        if deciles is not None:
            deciles = deciles.drop(columns=[c for c in deciles if c in ("index", "Unnamed: 0")])
        art.used.add(f"evaluation/{target}_curves.csv")
        plots = [art.image(f"plots/{target}_evaluation.png"), art.image(f"plots/{target}_deciles.png")]
        out.append({
            "target": target, "comparison": html_table(comparison, highlight="model"),
            "plots": [p for p in plots if p],
            "deciles": html_table(deciles, pct=("share_of_actual", "cum_share")) if deciles is not None else "",
        })  # fmt: skip
    return out


def driver_sections(art: Artifacts) -> list[dict[str, Any]]:
    """Per target: global SHAP importance, the beeswarm and the top drivers per top-level segment."""
    names = segment_names(art)
    out = []
    for target in TARGETS:
        plots = [art.image(f"plots/{target}_importance.png"), art.image(f"plots/{target}_beeswarm.png")]
        art.used.add(f"explain/{target}_importance.csv")
        drivers = art.table(f"explain/{target}_drivers_by_segment.csv")
        table = ""
        if drivers is not None and len(drivers):
            d = drivers.sort_values(["segment", "rank"])
            d = d.assign(text=d["feature"].astype(str) + " (" + d["mean_shap"].map(lambda v: f"{v:+.3f}") + ")")
            rows = d.groupby("segment", sort=True).agg(customers=("customers", "first"),
                                                       drivers=("text", " · ".join)).reset_index()
            rows.insert(1, "name", rows["segment"].astype(str).map(names).fillna(""))
            table = html_table(rows)
        if any(plots) or table:
            out.append({"target": target, "plots": [p for p in plots if p], "drivers": table})
    return out


def retrain_section(art: Artifacts, floor: int) -> dict[str, Any] | None:
    """Gates, migration matrix (cells < floor hidden) and drift of a retrain run; None otherwise."""
    gates = art.document("gates.json")
    gate_table = art.table("retrain/gates.csv")  # what segml.retrain writes beside the artifacts
    drift = art.document("drift.json")
    psi_table = art.table("retrain/feature_psi.csv")
    migration = art.table("segments/migration.csv")
    if all(x is None for x in (gates, gate_table, drift, psi_table, migration)):
        return None
    section: dict[str, Any] = {"gates": "", "migration": "", "drift": [], "psi": "", "scores": ""}
    frame = pd.DataFrame(gates) if gates else gate_table
    if frame is not None and len(frame):
        section["gates"] = html_table(frame)
        passed = frame["passed"].astype(str).str.lower().eq("true") if "passed" in frame else None
        section["passed"] = bool(passed.all()) if passed is not None else None
    if migration is not None and len(migration):
        m = migration.set_index(migration.columns[0])
        m = m.where(m >= floor)
        m.index = [f"was {i}" for i in m.index]
        section["migration"] = html_table(m.reset_index(names="previous \\ new"))
    if drift:
        section["drift"] = [(k.replace("_", " "), fmt(v) if not isinstance(v, list) else ", ".join(v) or "none")
                            for k, v in drift.items() if not isinstance(v, dict)]
        psi = pd.Series(drift.get("feature_psi") or {}, dtype=float).sort_values(ascending=False)
        if len(psi):
            section["psi"] = html_table(psi.head(15).rename_axis("feature").reset_index(name="psi"))
        scores = pd.Series(drift.get("score_psi") or {}, dtype=float)
        if len(scores):
            section["scores"] = html_table(scores.rename_axis("score").reset_index(name="psi"))
    if not section["psi"] and psi_table is not None and len(psi_table):
        section["psi"] = html_table(psi_table.sort_values(psi_table.columns[-1], ascending=False).head(15))
    return section


def metrics_rows(run: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(model and segment metrics, baseline metrics) as formatted pairs, sorted by name."""
    metrics = run.get("metrics") or {}
    model = sorted((k, fmt(float(v))) for k, v in metrics.items() if not k.startswith("baseline_"))
    base = sorted((k, fmt(float(v))) for k, v in metrics.items() if k.startswith("baseline_"))
    return model, base


def leftovers(art: Artifacts) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    """Every table and image no section used (generic rendering, so nothing logged is lost)."""
    tables = [(n, html_table(f.head(50))) for n, f in sorted(art.tables.items()) if n not in art.used]
    images = [art.image(n) for n in sorted(art.images) if n not in art.used]
    return tables, [i for i in images if i]
