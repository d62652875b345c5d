"""Render a run's artifacts into one self-contained HTML page a marketer can read.

The page (Jinja2 template ``templates/report.html.j2``, CSS inline, plots embedded as base64 PNG,
no external reference) has: data and readiness; the segment tree; profile cards per segment; rule
segments (RFM grid, lifecycle, ...); model vs baselines with ROC/PR/calibration/lift charts and the
spend decile table; SHAP drivers globally and per segment; for retrains the gates, the migration
matrix and drift; all metrics. Only aggregated artifacts are read and groups under
``min_profile_size`` customers are hidden, so no PII or small group can appear in the report.

Example
-------
>>> import pandas as pd
>>> html = render_report({"run_id": "abc", "metrics": {"churn_roc_auc": 0.81}, "params": {},
...                       "tags": {}, "status": "FINISHED", "run_name": "demo"}, {}, {})
>>> "churn_roc_auc" in html and "<html" in html
True
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from segml.config import TrackingConfig
from segml.report import blocks, predictive, sections, segment_sections
from segml.segments.naming import BTYD_NOTE
from segml.targets import TARGETS, declared_target

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).parent / "templates"
JSON_DOCUMENTS = ("report/context.json", "data/fingerprints.json", "cutoffs.json", "readiness.json",
                  "validation_warnings.json", "gates.json", "drift.json", "segments/discovery.json")


def _floor(run: dict[str, Any], documents: dict[str, Any], min_profile_size: int | None) -> int:
    if min_profile_size is not None:
        return int(min_profile_size)
    context = documents.get("report/context.json") or {}
    value = context.get("min_profile_size") or (run.get("params") or {}).get("segments.min_profile_size")
    return int(value) if value not in (None, "") else 50


def render_report(
    run: dict[str, Any],
    tables: dict[str, pd.DataFrame],
    images: dict[str, bytes],
    documents: dict[str, Any] | None = None,
    *,
    min_profile_size: int | None = None,
) -> str:
    """The report HTML from a run summary, its CSV tables, PNG plots and JSON documents.

    Parameters
    ----------
    run : dict
        ``run_id``, ``run_name``, ``status``, ``metrics``, ``params``, ``tags`` (as
        :func:`segml.tracking.reading.run_summary` returns).
    tables, images, documents : dict
        Artifacts by their path inside the run (``segments/profile_level_1.csv``, ...).
    min_profile_size : int, optional
        Groups smaller than this are never described (default: from the run, else 50).
    """
    documents = documents or {}
    declared = (documents.get("report/context.json") or {}).get("declared_targets") or {}
    # the run's targets: the built-in ones and the declared ones it recorded (its own
    # definitions, whatever this process trained or loaded before)
    targets = {**TARGETS, **{name: declared_target(name, definition)
                             for name, definition in declared.items() if name not in TARGETS}}
    art = blocks.Artifacts(dict(tables), dict(images), dict(documents))
    floor = _floor(run, documents, min_profile_size)
    context = documents.get("report/context.json") or {}
    mode = context.get("mode") or (run.get("tags") or {}).get("mode", "")
    model_metrics, baseline_metrics = sections.metrics_rows(run)
    page = {
        "run": run,
        "header": sections.header(run, targets),
        "btyd_note": BTYD_NOTE,
        "mode": mode,
        "floor": floor,
        "data": sections.data_section(art, run),
        "tree": segment_sections.tree_section(art, floor),
        "profiles": segment_sections.profile_cards(art),
        "rules": segment_sections.rules_section(art, floor),
        "models": sections.model_sections(art, targets),
        "predictive": predictive.grid_section(art, floor),
        "audiences": predictive.audience_sections(art, targets),
        "drivers": sections.driver_sections(art, targets),
        "retrain": sections.retrain_section(art, floor),
        "metrics": model_metrics,
        "baseline_metrics": baseline_metrics,
    }
    page["other_tables"], page["other_images"] = sections.leftovers(art)
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(default=True))
    return env.get_template("report.html.j2").render(**page)


def load_folder(root: str | Path) -> tuple[dict[str, pd.DataFrame], dict[str, bytes], dict[str, Any]]:
    """CSV tables (< 5 MB), PNG images and the known JSON documents under ``root``, by relative path."""
    root = Path(root)
    tables = {
        p.relative_to(root).as_posix(): pd.read_csv(p)
        for p in sorted(root.rglob("*.csv"))
        if p.stat().st_size < 5_000_000
    }
    images = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.png"))}
    documents = {}
    for name in JSON_DOCUMENTS:
        path = root / name
        if path.exists():
            try:
                documents[name] = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                log.warning("report: %s is not valid JSON; skipped", name)
    return tables, images, documents


def render_folder(run: dict[str, Any], root: str | Path) -> str:
    """The report of a run from a folder of its artifacts (CSV tables, PNG plots, JSON documents)."""
    tables, images, documents = load_folder(root)
    return render_report(run, tables, images, documents)


def write_html_atomic(html: str, out: str | Path) -> Path:
    """Write ``html`` to ``out`` through a temporary file, so readers never see half a report."""
    from segml.data.io import replace_atomically

    return replace_atomically(out, lambda tmp: Path(tmp).write_text(html, encoding="utf-8"))


def write_report(run_id: str, out: str | Path, *, tracking: TrackingConfig) -> Path:
    """Download a run's artifacts, render the report and write it atomically to ``out``."""
    from segml.tracking.reading import download_run_artifacts, run_summary

    summary = run_summary(run_id, tracking)
    with tempfile.TemporaryDirectory() as tmp:
        html = render_folder(summary, download_run_artifacts(run_id, tracking, tmp))
    return write_html_atomic(html, out)
