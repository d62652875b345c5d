"""The report of a real (small) run: artifacts from ``write_artifacts``, rendered and screenshotted.

Slow: fits the whole pipeline once on 1,500 synthetic customers (no MLflow involved), then renders
the report as a retrain would (migration matrix, gates, drift) and, when a Chromium binary exists,
takes a headless screenshot of it.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from segml.data.synthetic.datasets import make_customers, synthetic_config

pytestmark = pytest.mark.slow
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "chrome")
                 if shutil.which(n)), None)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from segml.monitor.drift import DriftReference, drift_summary
    from segml.monitor.gates import evaluate_gates
    from segml.report.artifacts import write_artifacts, write_run_report
    from segml.workflow.stages import fit_all, keep_segment_ids, load

    root = tmp_path_factory.mktemp("report")
    make_customers(1500, seed=3).write(root / "data")
    config = synthetic_config()
    config.data.dir = str(root / "data")
    tables = load(config)
    data, segmentation, predictions, scorer = fit_all(tables, config)
    placed = segmentation.assignments
    # as a retrain on the same data would: matched ids, gates against itself, drift
    segmentation = keep_segment_ids(segmentation, segmentation.hierarchy, data.current_X,
                                    config.segments)
    gates = evaluate_gates(predictions.metrics, predictions.metrics, config.retrain,
                           segment_stability=segmentation.stability)
    scored = scorer.score(data.current_X).set_index("customer_id")
    drift = drift_summary(DriftReference.from_dict(scorer.metadata["drift_reference"]), data.current_X,
                          segments=scored["segment_leaf"],
                          scores=scored[[c for c in scored if c.endswith("_probability")]])
    folder = root / "artifacts"
    write_artifacts(folder, data, segmentation, predictions, config)
    path = write_run_report(folder, "run-1", "retrain", data, predictions, segmentation,
                            documents={"gates.json": [g.to_dict() for g in gates], "drift.json": drift})
    return {"folder": folder, "path": path, "html": path.read_text(encoding="utf-8"), "config": config,
            "segmentation": segmentation, "scorer": scorer, "X": data.current_X,
            "placed": placed, "current_scores": segmentation.current_scores}


def test_scores_with_the_run_s_own_segments_equal_scores_placed_again(report):
    """fit_all scores the current customers with the segments its segments stage assigned:
    the same frame as placing them again through the scorer's hierarchy."""
    scorer, X = report["scorer"], report["X"]
    again = scorer.score(X)
    reused = scorer.score(X, segments=report["placed"])
    pd.testing.assert_frame_equal(reused, again)
    shuffled = report["placed"].sample(frac=1.0, random_state=0)  # aligned by customer id
    pd.testing.assert_frame_equal(scorer.score(X, segments=shuffled), again)
    assert (report["current_scores"]["segment_leaf"].to_numpy()
            == again.set_index("customer_id")["segment_leaf"].to_numpy()).all()


def test_pipeline_writes_chart_artifacts_but_no_row_level_scores(report):
    folder = report["folder"]
    for target in ("churn", "purchase", "high_clv"):
        assert (folder / f"plots/{target}_evaluation.png").stat().st_size > 5000
        assert (folder / f"evaluation/{target}_curves.csv").exists()
    assert (folder / "plots/spend_deciles.png").exists()
    assert (folder / "segments/rfm_grid.csv").exists() and (folder / "report/context.json").exists()
    assert not list(folder.rglob("*eval_scores*"))


def test_report_has_every_section_and_is_self_contained(report, external_references):
    html = report["html"]
    for heading in ("Readiness per target", "Segment tree", "Level 1", "RFM grid", "lifecycle stage",
                    "Models vs baselines", "Spend decile table", "Top drivers per segment",
                    "Gates", "Migration matrix", "Largest feature PSI", "churn_roc_auc"):
        assert heading in html, heading
    # one 2x2 evaluation panel per classifier, importance + beeswarm per target, segment plots
    assert html.count("data:image/png;base64,") >= 3 + 8 + 4
    assert external_references(html) == []
    # every profile shown meets the privacy floor; suppressed ones get no card
    floor = report["config"].segments.min_profile_size
    for profile in report["segmentation"].profiles.values():
        assert (profile.loc[~profile["suppressed"], "size"] >= floor).all()
        for segment in profile.index[profile["suppressed"]]:
            assert f"segment {segment} ·" not in html


def test_predictive_grid_and_operating_points_in_artifacts_and_report(report):
    """Issue 23: the value x risk grid (cells under the floor not described) and one
    precision/recall chart per classifier with the configured operating points."""
    import pandas as pd

    folder, html = report["folder"], report["html"]
    floor = report["config"].segments.min_profile_size
    cells = pd.read_csv(folder / "segments/predictive_cells.csv")
    assert set(cells["value_band"]) == {"Low value", "Mid value", "High value"}
    assert set(cells["risk_band"]) == {"stable", "cooling", "at risk", "inactive"}
    shown = cells[~cells["suppressed"]]
    assert (shown["customers"] >= floor).all() and len(shown) >= 4
    assert cells.loc[cells["suppressed"], ["customers", "revenue_share"]].isna().all().all()
    assert shown["revenue_share"].sum() <= 1 + 1e-9
    assert "Predictive segments and audiences" in html and "High value" in html
    for row in shown.itertuples():
        assert f"{int(row.customers):,} customers" in html
    for target in ("churn", "purchase", "high_clv"):
        curve = pd.read_csv(folder / f"audiences/{target}_operating_curve.csv")
        # aggregated only: every point covers at least the floor of the evaluation rows
        assert curve["customers"].min() >= floor and curve["precision"].between(0, 1).all()
        assert (folder / f"plots/{target}_operating_points.png").stat().st_size > 5000
    points = pd.read_csv(folder / "audiences/operating_points.csv")
    assert set(points["operating_point"]) == {"top 10%", "precision >= 0.60"}
    assert "likely to become high value" in html


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary found (apt-get install chromium)")
def test_report_renders_in_headless_chromium(report, tmp_path):
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1280,3000", f"--screenshot={shot}", report["path"].resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shot.exists(), done.stderr[-2000:]
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (3000, 1280)
    # not a blank page: the header band is dark and the page has many distinct colours
    assert pixels[:60, :, :3].mean() < 0.4
    assert len(np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 200


def test_tree_counts_equal_profile_counts_and_discovery_is_logged(report):
    import json

    from segml.segments.plots import dendrogram_labels

    folder, segmentation = report["folder"], report["segmentation"]
    found = json.loads((folder / "segments/discovery.json").read_text())
    assert found["leaf_method"] in ("hdbscan", "kmeans") and 0 <= found["noise_share"] <= 1
    assert "Leaves made by" in report["html"] and "Noise:" in report["html"]
    h, A = segmentation.hierarchy, segmentation.assignments
    leaf_profile = segmentation.profiles[segmentation.depth]
    labels = dendrogram_labels(h, A["segment_leaf"].value_counts(),
                               report["config"].segments.min_profile_size)
    for label in labels:  # "2.3 (n=412)": the same count as the leaf's profile card
        path, _, rest = label.partition(" (n=")
        if rest:
            assert int(rest.rstrip(")")) == int(leaf_profile.loc[path, "size"])


def test_each_target_is_explained_on_its_own_population_with_the_sizes_shown(report):
    """Issue 27: churn's SHAP drivers read only the customers churn scores (active at the
    cutoff), each target's sample size is logged and shown; before, one sample of every
    customer served all four targets and the per-segment counts read the same for each."""
    folder, X, config = report["folder"], report["X"], report["config"]
    samples = pd.read_csv(folder / "explain/samples.csv").set_index("target")
    active = X["recency_days"] < config.time.activity_window_days
    assert samples.loc["churn", "customers"] == active.sum() < len(X)
    for target in ("purchase", "high_clv", "spend"):
        assert samples.loc[target, "customers"] == len(X)
        assert samples.loc[target, "explained"] == min(1000, len(X))
    assert samples.loc["churn", "explained"] == min(1000, active.sum())
    # churn's per-segment counts are those of its sample of active customers, purchase's of all
    segments = report["segmentation"].assignments["segment_level_1"]
    churn = pd.read_csv(folder / "explain/churn_drivers_by_segment.csv")
    purchase = pd.read_csv(folder / "explain/purchase_drivers_by_segment.csv")
    churn_counts = churn.groupby("segment")["customers"].first()
    purchase_counts = purchase.groupby("segment")["customers"].first()
    assert churn_counts.sum() <= samples.loc["churn", "explained"]
    assert (churn_counts.reindex(purchase_counts.index).fillna(0) <= purchase_counts).all()
    assert churn_counts.sum() < purchase_counts.sum()
    if samples.loc["churn", "explained"] == active.sum():  # the whole population explained
        in_active = segments[active[active].index.intersection(segments.index)].astype(str)
        expected = in_active.value_counts()
        for segment, count in churn_counts.items():
            assert count == expected[str(segment)]
    html = report["html"]
    assert (f"Explained on {samples.loc['churn', 'explained']:,} customers: a seeded sample of "
            f"the {samples.loc['churn', 'customers']:,} customers churn scores "
            "(active at the cutoff)") in html
