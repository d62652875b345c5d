"""The HTML report: sections from crafted artifacts, privacy floor, escaping, self-containment."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segml.report import charts, render_folder, render_report, write_html_atomic
from segml.report.blocks import Artifacts

RUN = {"run_id": "r123", "run_name": "train", "status": "FINISHED", "params": {},
       "metrics": {"churn_roc_auc": 0.871, "baseline_logreg_churn_roc_auc": 0.838},
       "tags": {"mode": "behavioural"}}


def _png(tmp_path: Path, name: str) -> bytes:
    from segml.report.charts import plot_deciles

    deciles = pd.DataFrame({"decile": [1, 2], "mean_predicted": [2.0, 1.0], "mean_actual": [2.0, 1.0],
                            "cum_share": [0.7, 1.0]})
    return Path(plot_deciles(deciles, tmp_path / name)).read_bytes()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "artifacts"
    for sub in ("segments", "evaluation", "explain", "plots", "report", "data"):
        (root / sub).mkdir(parents=True)
    distinguishing = json.dumps([{"feature": "monetary_mean", "kind": "numeric", "effect": 1.6,
                                  "segment_value": 218.1, "rest_value": 42.9}])
    pd.DataFrame({
        "segment": ["1", "2", "3"], "name": ["Big <script>alert(1)</script> spenders", "Tiny group", "Lapsed"],
        "size": [1500, None, 400], "share": [0.78, None, 0.21], "suppressed": [False, True, False],
        "revenue_share": [0.9, None, 0.1], "aov": [218.1, None, 30.2],
        "distinguishing": [distinguishing, "[]", "[]"],
    }).to_csv(root / "segments/profile_level_1.csv", index=False)  # fmt: skip
    pd.DataFrame({"segment_leaf": [1, 2, 3, 4, 5], "path": ["1.1", "1.2", "2.1", "3.1", "3.2"],
                  "level_1": [1, 1, 2, 3, 3], "size": [900, 600, 40, 400, None]}).to_csv(
        root / "segments/hierarchy.csv", index=False)
    pd.DataFrame({"rule": ["lifecycle_stage", "lifecycle_stage", "rfm_segment"],
                  "segment": ["active", "secretive", "Champions"], "customers": [1200, 33, 700]}).to_csv(
        root / "segments/rule_segments.csv", index=False)
    pd.DataFrame({"R": [5, 4], "1": [600.0, 41.0], "2": [300.0, 250.0]}).to_csv(
        root / "segments/rfm_grid.csv", index=False)
    pd.DataFrame({"previous": ["1.1", "1.2"], "1.1": [880, 77], "1.2": [20, 523]}).to_csv(
        root / "segments/migration.csv", index=False)
    pd.DataFrame({"scorer": ["model", "baseline_logreg"], "roc_auc": [0.871, 0.838], "rows": [1200, 1200],
                  "note": ["", ""]}).to_csv(root / "evaluation/churn_comparison.csv", index=False)
    rng = np.random.default_rng(0)
    y = (rng.random(1200) < 0.3).astype(float)
    curves = charts.evaluation_curves(pd.DataFrame({"label": y, "model": y * 0.6 + rng.random(1200) * 0.4}))
    curves.to_csv(root / "evaluation/churn_curves.csv", index=False)
    charts.plot_evaluation(curves, root / "plots/churn_evaluation.png", "churn")
    pd.DataFrame({"segment": [1, 1, 3], "rank": [1, 2, 1], "feature": ["btyd_p_alive", "recency_days", "tenure_days"],
                  "mean_shap": [0.8, -0.3, 0.2], "mean_abs_shap": [1.0, 0.4, 0.2],
                  "customers": [700, 700, 200]}).to_csv(root / "explain/churn_drivers_by_segment.csv", index=False)
    (root / "plots/churn_importance.png").write_bytes(_png(tmp_path, "imp.png"))
    (root / "plots/mystery_plot.png").write_bytes(_png(tmp_path, "m.png"))
    (root / "gates.json").write_text(json.dumps([
        {"name": "churn_roc_auc", "value": 0.004, "threshold": 0.01, "passed": True, "reason": "within"},
        {"name": "segment_stability", "value": 0.5, "threshold": 0.7, "passed": False, "reason": "below"}]))
    (root / "drift.json").write_text(json.dumps({
        "feature_psi": {"recency_days": 0.31, "frequency": 0.02}, "drift_psi_max": 0.31,
        "drifted_features": ["recency_days"], "score_psi": {"churn_probability": 0.05}}))
    (root / "report/context.json").write_text(json.dumps({
        "mode": "behavioural", "min_profile_size": 100, "data": {"customers scored": 1900},
        "cutoffs": {"evaluation": "2024-12-30"},
        "readiness": {"blocking": False, "problems": [{"message": "65% missing", "severity": "warning",
                                                       "column": "days_since_email_click"}],
                      "targets": {"churn": {"positives": 806, "negatives": 1987, "label_rate": 0.29,
                                            "leakage_suspects": []}}}}))
    (root / "data/fingerprints.json").write_text(json.dumps({"customers": {"rows": 1900, "columns": 12,
                                                                             "sha256": "abc123"}}))
    return root


def test_every_section_is_rendered_from_the_artifacts(folder):
    html = render_folder(RUN, folder)
    for heading in ("Data and readiness", "Segment tree", "Segment profiles", "Rule segments",
                    "RFM grid", "Models vs baselines", "Drivers (SHAP)", "Retrain: gates, migration and drift"):
        assert heading in html, heading
    assert "churn_roc_auc" in html and "baseline_logreg_churn_roc_auc" in html
    assert "abc123" in html and "65% missing" in html and "2024-12-30" in html
    assert "218.1 vs 42.9" in html  # the distinguishing feature on the card
    # per-segment drivers with the profiles' readable labels, "btyd" explained
    assert "purchase model: P(alive) (+0.800)" in html and "btyd_p_alive" not in html
    assert "<th>note</th>" not in html  # an always-empty column is not shown
    assert "not all passed" in html and "recency_days" in html
    assert html.count("data:image/png;base64,") == 3  # evaluation, importance, the unknown plot
    assert "mystery plot" in html  # an artifact no section knows still appears


def test_groups_under_the_floor_are_never_described(folder):
    html = render_folder(RUN, folder)  # floor 100 from report/context.json
    assert "Tiny group" not in html  # suppressed profile
    assert "secretive" not in html  # a 33-customer rule segment
    assert ">41<" not in html and ">600<" in html  # RFM grid cell under the floor hidden
    assert ">77<" not in html and ">880<" in html  # migration cell under the floor hidden
    assert "2.1" in html and ">40<" not in html  # a small leaf keeps its place, not its size
    assert "<b>3.2</b>" in html  # a leaf whose size the artifact already masked
    assert "1 segment(s) under the minimum profile size" in html
    # an explicit floor wins over the run's
    low = render_report(RUN, {"segments/rfm_grid.csv": pd.read_csv(folder / "segments/rfm_grid.csv")}, {},
                        min_profile_size=10)
    assert ">41<" in low


def test_report_is_self_contained_and_escaped(folder, tmp_path, external_references):
    html = render_folder(RUN, folder)
    assert external_references(html) == []
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    out = write_html_atomic(html, tmp_path / "deep" / "report.html")
    assert out.read_text(encoding="utf-8") == html
    assert not list(out.parent.glob(".*tmp"))


def test_external_reference_check_catches_links(external_references):
    assert external_references('<img src="https://x.org/a.png">')
    assert external_references("<style>@import 'x.css';</style>")
    assert external_references('<link rel="stylesheet" href="s.css">')
    assert external_references('<img src="data:image/png;base64,AAAA"><a href="#x">') == []


def test_minimal_run_renders_without_artifacts():
    html = render_report({"run_id": "abc", "metrics": {"churn_roc_auc": 0.81}, "params": {},
                          "tags": {}, "status": "FINISHED", "run_name": "demo"}, {}, {})
    assert "churn_roc_auc" in html and "Retrain" not in html.split("<main>")[1]


def test_retrain_section_reads_the_csv_layout_of_segml_retrain(tmp_path):
    root = tmp_path / "artifacts"
    (root / "retrain").mkdir(parents=True)
    pd.DataFrame({"name": ["churn_roc_auc", "readiness"], "value": [0.002, 1.0], "threshold": [0.01, 1.0],
                  "passed": [True, True], "reason": ["within", "ok"]}).to_csv(root / "retrain/gates.csv", index=False)
    pd.DataFrame({"feature": ["frequency", "recency_days"], "psi": [0.01, 0.42]}).to_csv(
        root / "retrain/feature_psi.csv", index=False)
    html = render_folder(RUN, root)
    retrain = html.split('id="retrain"')[1]
    assert "all passed" in retrain and "churn_roc_auc" in retrain
    assert retrain.index("recency_days") < retrain.index("frequency")  # largest PSI first
    assert "Other artifacts" not in html


def test_segment_tree_says_how_the_leaves_were_made(tmp_path):
    profile = pd.DataFrame({"segment": ["1", "2"], "name": ["Short tenure", "Long tenure"],
                            "size": [700, 300], "suppressed": [False, False]})
    leaves = pd.DataFrame({"segment": ["1.1", "1.2", "2.1"],
                           "name": ["Short tenure, Female", "Short tenure, Male", "Long tenure"],
                           "size": [400, 300, 300], "suppressed": [False] * 3})
    tree = pd.DataFrame({"segment_leaf": [1, 2, 3], "path": ["1.1", "1.2", "2.1"],
                         "level_1": [1, 1, 2], "size": [400, 300, 300]})
    found = {"leaf_method": "kmeans", "reason": "HDBSCAN called 75% of the sample noise",
             "density_noise_share": 0.75, "noise_share": 0.0, "top_level_silhouette": 0.08}
    html = render_report(RUN, {"segments/profile_level_1.csv": profile,
                               "segments/profile_level_2.csv": leaves,
                               "segments/hierarchy.csv": tree},
                         {}, {"segments/discovery.json": found})
    assert "Leaves made by k-means (partition): HDBSCAN called 75% of the sample noise." in html
    assert "HDBSCAN would have called 75% of the customers noise" in html
    assert "mean silhouette 0.08 (no substantial structure)" in html
    assert "<b>1.1</b> + Female" in html  # a leaf box shows what it adds to its parent
    dense = dict(found, leaf_method="hdbscan", noise_share=0.29, top_level_silhouette=0.41)
    html = render_report(RUN, {"segments/hierarchy.csv": tree}, {}, {"segments/discovery.json": dense})
    assert "29% of the customers are in no dense cluster" in html and "(weak structure)" in html


def test_the_header_reads_as_words_not_a_tag_dump(folder):
    run = {**RUN, "tags": {"mode": "behavioural", "cutoff": "2025-12-30", "winner_churn": "lgbm",
                           "calibration_churn": "none", "fit_cutoff_churn": "2025-10-01",
                           "winner_purchase": "lgbm_shallow", "calibration_purchase": "sigmoid",
                           "segml.code_version": "abc"}}
    html = render_folder(run, folder)
    head = html[html.index("<header>"):html.index("</header>")]
    assert "behavioural data" in head and "data up to 2025-12-30" in head
    assert "<b>churn</b> lgbm, no calibration, fitted up to 2025-10-01" in head
    assert "<b>purchase</b> lgbm_shallow, sigmoid calibration" in head
    for raw in ("calibration_churn", "winner_", "fit_cutoff_", "segml.code_version"):
        assert raw not in head, raw


def test_card_kpis_are_formatted_by_kind():
    from segml.report.segment_sections import profile_cards

    art = Artifacts(tables={"segments/profile_level_1.csv": pd.DataFrame({
        "segment": ["1"], "name": ["A"], "size": [771], "share": [0.386], "aov": [58.353],
        "frequency": [38.619], "recency_days": [273.9], "lapsed_share": [0.47],
        "churn_rate": [0.175], "distinguishing": ["[]"]})})
    kpis = dict(profile_cards(art)[0]["cards"][0]["kpis"])
    assert kpis["average order value"] == "58.35" and kpis["orders (mean)"] == "38.6"
    assert kpis["days since last order (mean)"] == "274"
    assert kpis["expected churn (active customers)"] == "17.5%"
    assert kpis["lapsed (no order in the activity window)"] == "47.0%"
