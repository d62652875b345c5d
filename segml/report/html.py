"""Render a run's artifacts into one self-contained HTML page a marketer can read.

Plots are embedded as base64 PNG so the file can be mailed or attached. Only aggregated artifacts
are read (profiles already suppress groups under ``min_profile_size``), so no PII or single customer
can appear in the report.

Example
-------
>>> import pandas as pd
>>> html = render_report({"run_id": "abc", "metrics": {"churn_roc_auc": 0.81}, "params": {},
...                       "tags": {}, "status": "FINISHED", "run_name": "demo"}, {}, {})
>>> "churn_roc_auc" in html and "<html" in html
True
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, select_autoescape

from segml.config import TrackingConfig

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>segml run {{ run.run_id }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.85rem}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:.5rem 0}
.meta{color:#666;font-size:.9rem}
</style></head><body>
<h1>segml run {{ run.run_name or "" }}</h1>
<p class="meta">run {{ run.run_id }} · status {{ run.status }}
{% for k, v in run.tags.items() %} · {{ k }} {{ v }}{% endfor %}</p>
<h2>Headline metrics</h2>
<table><tr><th>metric</th><th>value</th></tr>
{% for k, v in headline %}<tr><td>{{ k }}</td><td>{{ "%.4f"|format(v) }}</td></tr>{% endfor %}
</table>
{% for title, table in sections %}<h2>{{ title }}</h2>{{ table|safe }}{% endfor %}
{% for title, data in images %}<h3>{{ title }}</h3><img alt="{{ title }}" src="data:image/png;base64,{{ data }}">{% endfor %}
</body></html>
"""

SECTION_TITLES = {
    "segments/profile_level_": "Segment profiles, level ",
    "evaluation/": "Model vs baselines: ",
    "explain/": "Drivers (mean |SHAP|): ",
    "segments/rule_segments": "Rule segments",
}


def _title(relative: str) -> str:
    stem = relative.removesuffix(".csv")
    for prefix, title in SECTION_TITLES.items():
        if stem.startswith(prefix):
            return title + stem.removeprefix(prefix).replace("_", " ")
    return stem


def render_report(
    run: dict[str, Any], tables: dict[str, pd.DataFrame], images: dict[str, bytes]
) -> str:
    """The report HTML from a run summary, its CSV artifacts and its PNG plots."""
    headline = sorted(
        (k, v) for k, v in run.get("metrics", {}).items() if not k.startswith("baseline_")
    )
    sections = [
        (_title(name), frame.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep=""))
        for name, frame in sorted(tables.items())
    ]
    pictures = [
        (Path(name).stem.replace("_", " "), base64.b64encode(data).decode("ascii"))
        for name, data in sorted(images.items())
    ]
    env = Environment(autoescape=select_autoescape(default=True))
    return env.from_string(TEMPLATE).render(
        run=run, headline=headline, sections=sections, images=pictures
    )


def write_report(run_id: str, out: str | Path, *, tracking: TrackingConfig) -> Path:
    """Download a run's artifacts, render the report and write it atomically to ``out``."""
    from segml.tracking.reading import download_run_artifacts, run_summary

    out = Path(out)
    summary = run_summary(run_id, tracking)
    with tempfile.TemporaryDirectory() as tmp:
        root = download_run_artifacts(run_id, tracking, tmp)
        tables = {
            str(p.relative_to(root)): pd.read_csv(p)
            for p in root.rglob("*.csv")
            if p.stat().st_size < 5_000_000
        }
        images = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.png")}
    html = render_report(summary, tables, images)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(html)
    os.replace(tmp_path, out)
    return out
