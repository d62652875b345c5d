"""The report's sections, built from a run's artifacts (CSV tables, PNG plots, JSON documents).

Each ``*_section`` function reads what it needs from :class:`~segml.report.blocks.Artifacts`,
marks it as used and returns plain dicts and HTML snippets for the template; whatever no section
used is listed at the end of the report (:func:`leftovers`), so nothing a run logged is lost.
Privacy: every count shown is at least ``floor`` (``segments.min_profile_size``); smaller groups
are hidden, never described.

Here the run's sections: data and readiness, each target's model against its baselines, the SHAP
drivers, a retrain's gates, migration and drift, and the metrics. The segment sections (tree,
profile cards, rule segments) are in :mod:`segml.report.segment_sections`, the predictive grid and
the audiences in :mod:`segml.report.predictive`; their names and the building blocks
(:mod:`segml.report.blocks`) can still be imported from here.

Example
-------
>>> import pandas as pd
>>> art = Artifacts(tables={"retrain/gates.csv": pd.DataFrame({"gate": ["auc"], "passed": [True]})})
>>> section = retrain_section(art, floor=50)
>>> section["passed"], "auc" in section["gates"], retrain_section(Artifacts(), floor=50)
(True, True, None)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from segml.report.blocks import Artifacts, fmt, html_table, segment_names
from segml.report.segment_sections import (
    KPIS,
    SEPARATION,
    discovery_notes,
    profile_cards,
    rules_section,
    tree_section,
)
from segml.segments.naming import feature_label
from segml.targets import TARGETS, Target


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


def model_sections(art: Artifacts, targets: Mapping[str, Target] | None = None
                   ) -> list[dict[str, Any]]:
    """Per target (``targets``: the run's, by name; None: the built-in ones): model vs
    baselines, the evaluation curves and (spend) the decile table."""
    out = []
    for target in TARGETS if targets is None else targets:
        comparison = art.table(f"evaluation/{target}_comparison.csv")
        if comparison is None:
            continue
        comparison = comparison.rename(columns={comparison.columns[0]: "scorer"})
        note = comparison["note"].astype("string").fillna("").str.strip() if "note" in comparison else None
        if note is not None and not (note != "").any():
            comparison = comparison.drop(columns="note")  # nothing to say: no empty column
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


def driver_sections(art: Artifacts, targets: Mapping[str, Target] | None = None
                    ) -> list[dict[str, Any]]:
    """Per target (``targets`` as in :func:`model_sections`): global SHAP importance, the
    beeswarm and the top drivers per top-level segment."""
    names = segment_names(art)
    samples = art.table("explain/samples.csv")
    sizes = {} if samples is None else samples.set_index("target").to_dict("index")
    out = []
    for target in TARGETS if targets is None else targets:
        plots = [art.image(f"plots/{target}_importance.png"), art.image(f"plots/{target}_beeswarm.png")]
        size = sizes.get(target)
        sample = "" if size is None else (
            f"Explained on {fmt(int(size['explained']))} customers: a seeded sample of the "
            f"{fmt(int(size['customers']))} customers {target} scores ({size['population']}).")
        art.used.add(f"explain/{target}_importance.csv")
        drivers = art.table(f"explain/{target}_drivers_by_segment.csv")
        table = ""
        if drivers is not None and len(drivers):
            d = drivers.sort_values(["segment", "rank"])
            d = d.assign(text=d["feature"].astype(str).map(feature_label) + " ("
                         + d["mean_shap"].map(lambda v: f"{v:+.3f}") + ")")
            rows = d.groupby("segment", sort=True).agg(customers=("customers", "first"),
                                                       drivers=("text", " · ".join)).reset_index()
            rows.insert(1, "name", rows["segment"].astype(str).map(names).fillna(""))
            table = html_table(rows)
        if any(plots) or table:
            out.append({"target": target, "plots": [p for p in plots if p], "drivers": table,
                        "sample": sample})
    return out


#: Run tags the header reads, per target: tag prefix -> what it says.
MODEL_TAGS = {"winner_": "model", "calibration_": "calibration", "fit_cutoff_": "fitted up to"}


def header(run: dict[str, Any], targets: Mapping[str, Target] | None = None) -> dict[str, Any]:
    """The report's header in words: the run, the data and, per target (``targets`` as in
    :func:`model_sections`), the model that won, its calibration and the date it was fitted up
    to (not the run's raw tags).

    Example
    -------
    >>> h = header({"run_id": "abc", "status": "FINISHED", "tags": {"mode": "behavioural",
    ...     "cutoff": "2025-12-30", "winner_churn": "lgbm", "calibration_churn": "none",
    ...     "fit_cutoff_churn": "2025-10-01", "segml.version": "0.1"}})
    >>> h["facts"]
    ['run abc', 'finished', 'behavioural data', 'data up to 2025-12-30']
    >>> h["models"]
    [('churn', 'lgbm, no calibration, fitted up to 2025-10-01')]
    """
    tags = {k: str(v) for k, v in (run.get("tags") or {}).items() if not k.startswith("segml.")}
    facts = [f"run {run.get('run_id', '')}"]
    if run.get("status"):
        facts.append(str(run["status"]).lower())
    if tags.get("mode"):
        facts.append(f"{tags.pop('mode')} data")
    if tags.get("cutoff"):
        facts.append(f"data up to {tags.pop('cutoff')}")
    models: dict[str, list[str]] = {}
    for target in TARGETS if targets is None else targets:
        parts = []
        for prefix, label in MODEL_TAGS.items():
            value = tags.pop(f"{prefix}{target}", None)
            if value is None:
                continue
            if prefix == "winner_":
                parts.insert(0, value)
            elif prefix == "calibration_":
                parts.append("no calibration" if value == "none" else f"{value} calibration")
            else:
                parts.append(f"{label} {value}")
        if parts:
            models[target] = parts
    return {"facts": facts, "models": [(t, ", ".join(p)) for t, p in models.items()],
            "other": sorted(tags.items())}


def retrain_section(art: Artifacts, floor: int) -> dict[str, Any] | None:
    """Gates, migration matrix (cells < floor hidden) and drift of a retrain run; None otherwise."""
    gates = art.document("gates.json")
    gate_table = art.table("retrain/gates.csv")  # what segml.workflow.retrain writes beside the artifacts
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


__all__ = [
    "CUTOFF_LABELS", "KPIS", "SEPARATION", "Artifacts", "data_section", "discovery_notes",
    "driver_sections", "fmt", "header", "html_table", "leftovers", "metrics_rows", "model_sections",
    "profile_cards", "retrain_section", "rules_section", "segment_names", "tree_section",
    "windows_table",
]
