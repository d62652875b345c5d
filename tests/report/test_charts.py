"""Evaluation curves and the RFM grid behind the report's charts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from segml.report import charts


@pytest.fixture
def scores() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 3000
    signal = rng.normal(size=n)
    label = (rng.random(n) < 1 / (1 + np.exp(-2 * signal))).astype(float)
    prob = 1 / (1 + np.exp(-2 * signal))
    return pd.DataFrame({"label": label, "model": prob, "baseline_noise": rng.random(n)})


def test_curves_have_every_kind_and_sane_endpoints(scores):
    curves = charts.evaluation_curves(scores, min_size=50)
    assert set(curves["curve"]) == {"roc", "pr", "calibration", "lift"}
    roc = curves[(curves.scorer == "model") & (curves.curve == "roc")]
    assert roc["x"].iloc[0] == 0 and roc["y"].iloc[-1] == 1 and roc["x"].is_monotonic_increasing
    area = np.trapezoid(roc["y"], roc["x"])
    assert area == pytest.approx(roc_auc_score(scores.label, scores.model), abs=0.01)
    # calibration only for the model, and a calibrated model lies near the diagonal
    cal = curves[curves.curve == "calibration"]
    assert set(cal["scorer"]) == {"model"}
    assert np.abs(cal["x"] - cal["y"]).max() < 0.08
    # lift: a random scorer hovers around 1, the model starts well above and ends at exactly 1
    lift = curves[curves.curve == "lift"]
    model_lift = lift[lift.scorer == "model"]
    assert model_lift["y"].iloc[0] > 1.5 and model_lift["y"].iloc[-1] == pytest.approx(1.0)
    assert lift[lift.scorer == "baseline_noise"]["y"].between(0.6, 1.4).all()


def test_no_point_describes_fewer_than_min_size_customers(scores):
    curves = charts.evaluation_curves(scores, min_size=400)
    counted = curves[curves.curve.isin(["calibration", "lift"])]
    assert counted["customers"].min() >= 400
    assert len(curves[curves.curve == "roc"]) <= 200 * 2  # thinned: model + baseline


def test_single_class_scorer_is_skipped():
    frame = pd.DataFrame({"label": np.zeros(100), "model": np.linspace(0, 1, 100)})
    assert charts.evaluation_curves(frame).empty


def test_rfm_grid_masks_small_cells_and_is_ordered():
    r = pd.DataFrame({"rfm_r": [5] * 80 + [3] * 60 + [1] * 20, "rfm_f": [1] * 80 + [4] * 60 + [5] * 20})
    grid = charts.rfm_grid(r, min_size=50)
    assert list(grid.index) == [5, 4, 3, 2, 1] and list(grid.columns) == [1, 2, 3, 4, 5]
    assert grid.loc[5, 1] == 80 and grid.loc[3, 4] == 60
    assert np.isnan(grid.loc[1, 5])  # 20 customers < 50: hidden
    assert charts.rfm_grid(pd.DataFrame({"x": [1]})).empty


def test_plots_write_png_files(scores, tmp_path):
    curves = charts.evaluation_curves(scores)
    out = charts.plot_evaluation(curves, tmp_path / "ev.png", title="churn")
    assert (tmp_path / "ev.png").read_bytes()[:4] == b"\x89PNG" and out.endswith("ev.png")
    deciles = pd.DataFrame({"decile": range(1, 11), "mean_predicted": np.linspace(10, 1, 10),
                            "mean_actual": np.linspace(9, 1, 10)})
    deciles["cum_share"] = deciles["mean_actual"].cumsum() / deciles["mean_actual"].sum()
    charts.plot_deciles(deciles, tmp_path / "dec.png")
    assert (tmp_path / "dec.png").stat().st_size > 1000
