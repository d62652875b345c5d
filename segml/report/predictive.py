"""The report's predictive part: the value x risk grid and each classifier's operating points.

:func:`write_predictive_artifacts` writes, at training time, only aggregated artifacts (cells of
at least ``min_profile_size`` customers, curve points over at least that many): the cell KPIs
(``segments/predictive_cells.csv``), the bands (``segments/predictive_bands.csv``), each
classifier's operating curve and the configured operating points (``audiences/``) and their
precision/recall chart. :func:`grid_section` and :func:`audience_sections` render them.

Example
-------
>>> import pandas as pd
>>> cells = pd.DataFrame({"predictive_segment": ["Stable", "At risk", "Inactive"],
...     "value_band": ["", "", ""], "risk_band": ["stable", "at risk", "inactive"],
...     "customers": [900, 40, 300], "expected_churn": [0.1, None, None]})
>>> art = Artifacts(tables={"segments/predictive_cells.csv": cells})
>>> html = grid_section(art, floor=50)["grid"]
>>> "900 customers" in html, "40 customers" in html, "10.0%" in html
(True, False, True)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from segml.report.blocks import Artifacts, fmt, html_table
from segml.targets import TARGETS, Target

CURVE_COLUMNS = ("threshold", "share", "precision", "recall")
#: Cell KPIs shown in the grid: column -> (label, format); P(high value) only without spend.
CELL_KPIS = {"revenue_share": ("share of revenue", "pct"),
             "expected_churn": ("expected churn", "pct"),
             "expected_spend": ("expected spend", "money"),
             "expected_high_clv": ("P(high value)", "pct")}


def _cell_value(value: Any, kind: str) -> str:
    """A grid cell's number: percentages, or an amount rounded for people (1,770 / 72 / 2.5).

    Example
    -------
    >>> _cell_value(1769.9, "money"), _cell_value(2.46, "money"), _cell_value(0.062, "pct")
    ('1,770', '2.5', '6.2%')
    """
    if kind != "money" or value is None or pd.isna(value):
        return fmt(value, kind)
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.1f}"


# ------------------------------------------------------------------------------ artifacts
def write_predictive_artifacts(out: Path, scored: pd.DataFrame | None,
                               features: pd.DataFrame | None, grid: dict[str, Any] | None,
                               curves: dict[str, dict[str, Any]] | None, config: Any,
                               targets: Mapping[str, Target] | None = None) -> dict[str, Any]:
    """Write the grid's and the audiences' aggregated artifacts into ``out``; returns what the
    report's context needs (the grid's ``reason`` when an axis or the grid is missing).
    ``targets``: the run's targets by name (None: the built-in ones)."""
    from segml.data.io import write_frame_atomic
    from segml.predict.operating import resolve
    from segml.segments import predictive

    floor = config.segments.min_profile_size
    targets = TARGETS if targets is None else targets
    if grid and predictive.has_cells(grid) and scored is not None:
        rows = features.reindex(scored.index) if features is not None else None
        cells = predictive.profile_cells(scored, rows, grid, min_profile_size=floor,
                                         targets=targets)
        write_frame_atomic(cells, out / "segments/predictive_cells.csv")
        write_frame_atomic(predictive.bands_table(grid), out / "segments/predictive_bands.csv")
    points = []
    for target, curve in (curves or {}).items():
        frame = pd.DataFrame({k: curve[k] for k in CURVE_COLUMNS})
        frame["customers"] = (frame["share"] * curve["rows"]).round().astype("int64")
        write_frame_atomic(frame, out / f"audiences/{target}_operating_curve.csv")
        marked = []
        for point in config.audiences.operating_points:
            row = {"target": target, "operating_point": point.label}
            try:
                found = resolve(curve, top=point.top, precision=point.precision,
                                threshold=point.threshold, scale=_scale(curve))
                row.update({k: found.get(k) for k in (*CURVE_COLUMNS, "registered_threshold")})
            except ValueError as exc:  # a precision out of reach: said, not drawn
                row["note"] = str(exc)
            points.append(row)
            marked.append(row)
        plot_operating_points(frame, pd.DataFrame(marked),
                              out / f"plots/{target}_operating_points.png",
                              title=f"{target}: {targets[target].audience or target}",
                              base_rate=curve.get("base_rate"))
    if points:
        write_frame_atomic(pd.DataFrame(points), out / "audiences/operating_points.csv")
    return {"reason": (grid or {}).get("reason"),
            "curves": {t: {"rows": c.get("rows"), **c.get("info", {})}
                       for t, c in (curves or {}).items()}}


def _scale(curve: dict[str, Any]) -> str:
    """The score column a threshold point compares against (the registered model's, when known)."""
    return "registered_threshold" if "registered_threshold" in curve else "threshold"


def plot_operating_points(curve: pd.DataFrame, points: pd.DataFrame, path: str | os.PathLike[str],
                          title: str = "", base_rate: float | None = None) -> str:
    """Precision against recall, and precision and recall against the share targeted, with the
    operating points marked.

    Example
    -------
    >>> import tempfile
    >>> c = pd.DataFrame({"threshold": [.9, .5, .1], "share": [.1, .5, 1.],
    ...                   "precision": [.8, .5, .3], "recall": [.3, .8, 1.]})
    >>> p = pd.DataFrame({"operating_point": ["top 10%"], "share": [.1], "precision": [.8],
    ...                   "recall": [.3], "threshold": [.9]})
    >>> plot_operating_points(c, p, tempfile.mkdtemp() + "/op.png").endswith("op.png")
    True
    """
    from matplotlib.figure import Figure

    from segml.report.charts import save_figure

    fig = Figure(figsize=(9, 3.4))
    pr, depth = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    pr.plot(curve["recall"], curve["precision"], color="black", linewidth=1.8)
    depth.plot(curve["share"], curve["precision"], color="#4c78a8", label="precision")
    depth.plot(curve["share"], curve["recall"], color="#f58518", label="recall")
    if base_rate is not None:
        pr.axhline(base_rate, linestyle=":", color="grey", linewidth=0.8)
    marked = points.dropna(subset=["precision"]) if "precision" in points else points.iloc[:0]
    for i, row in enumerate(marked.itertuples(index=False)):
        color = f"C{(i + 2) % 10}"
        label = f"{row.operating_point}: P {row.precision:.2f}, R {row.recall:.2f}"
        pr.scatter([row.recall], [row.precision], color=color, zorder=3, s=30, label=label)
        depth.axvline(row.share, color=color, linestyle="--", linewidth=1)
    pr.set_xlabel("recall (share of the positives in the list)", fontsize=8)
    pr.set_ylabel("precision (share of the list positive)", fontsize=8)
    pr.set_title("precision-recall (evaluation window)", fontsize=9)
    depth.set_xlabel("share of the population in the list (by score)", fontsize=8)
    depth.set_title("precision and recall by list size", fontsize=9)
    for ax in (pr, depth):
        ax.set_ylim(0, 1.02)
        ax.set_xlim(0, 1)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


# ------------------------------------------------------------------------------ sections
def grid_section(art: Artifacts, floor: int) -> dict[str, Any]:
    """The value x risk grid (value rows highest first, risk columns lowest first), its bands
    and, when an axis or the grid is missing, why."""
    cells = art.table("segments/predictive_cells.csv")
    bands = art.table("segments/predictive_bands.csv")
    context = art.document("report/context.json") or {}
    reason = (context.get("predictive_segments") or {}).get("reason")
    if cells is None or not len(cells):
        return {"grid": "", "bands": "", "reason": reason}
    cells = cells.assign(**{c: cells[c].astype(object).where(cells[c].notna(), "").astype(str)
                            for c in ("value_band", "risk_band")})  # a missing axis: empty
    values = list(dict.fromkeys(cells["value_band"]))[::-1]  # highest value on top
    risks = list(dict.fromkeys(cells["risk_band"]))
    kpis = {c: v for c, v in CELL_KPIS.items() if c in cells}
    if "expected_spend" in kpis:
        kpis.pop("expected_high_clv", None)
    top = max(float(pd.to_numeric(cells["customers"], errors="coerce").max() or 1), 1.0)
    lookup = {(r.value_band, r.risk_band): r for r in cells.itertuples(index=False)}
    head = "".join(f"<th>{escape(r or 'all')}</th>" for r in risks)
    body = []
    for value in values:
        tds = []
        for risk in risks:
            row = lookup[(value, risk)]
            size = pd.to_numeric(pd.Series([row.customers]), errors="coerce").iloc[0]
            if pd.isna(size) or size < floor:
                tds.append('<td class="cell empty"><span class="note">(fewer than '
                           f'{floor})</span></td>')
                continue
            lines = "".join(
                f"<div>{escape(label)} <b>{escape(_cell_value(getattr(row, c), kind))}</b></div>"
                for c, (label, kind) in kpis.items() if fmt(getattr(row, c), "num"))
            share = f" ({fmt(row.share, 'pct')})" if "share" in cells else ""
            alpha = 0.08 + 0.6 * size / top
            tds.append(f'<td class="cell" style="background:rgba(76,120,168,{alpha:.2f})">'
                       f'<div class="n">{escape(fmt(int(size)))} customers{escape(share)}</div>'
                       f"{lines}</td>")
        body.append(f"<tr><th>{escape(value or 'all')}</th>{''.join(tds)}</tr>")
    grid = (f'<table class="grid pgrid"><tr><th>value \\ risk</th>{head}</tr>'
            f'{"".join(body)}</table>')
    axes = []
    if bands is not None and len(bands):
        for axis, column in bands.groupby("axis", sort=False)["column"].first().items():
            axes.append(f"{axis} bands cut {column}")
    return {"grid": grid, "bands": html_table(bands) if bands is not None else "",
            "reason": reason, "kpis": [label for label, _ in kpis.values()], "axes": axes}


def audience_sections(art: Artifacts, targets: Mapping[str, Target] | None = None
                      ) -> list[dict[str, Any]]:
    """Per classifier: the precision/recall chart with the configured operating points, and
    those points as a table (threshold, share, expected precision and recall). ``targets``:
    the run's targets by name (None: the built-in ones)."""
    points = art.table("audiences/operating_points.csv")
    out = []
    for target, spec in (TARGETS if targets is None else targets).items():
        plot = art.image(f"plots/{target}_operating_points.png")
        art.used.add(f"audiences/{target}_operating_curve.csv")
        if plot is None:
            continue
        table = ""
        if points is not None and len(points):
            mine = points[points["target"] == target].drop(columns=["target", "threshold"])
            mine = mine.rename(columns={"operating_point": "operating point",
                                        "share": "share of population",
                                        "registered_threshold": "list: probability at least"})
            table = html_table(mine.dropna(axis=1, how="all"),
                               pct=("share of population", "precision", "recall"))
        out.append({"target": target, "audience": spec.audience or target, "plot": plot,
                    "points": table})
    return out


__all__ = ["audience_sections", "grid_section", "plot_operating_points",
           "write_predictive_artifacts"]
