"""Predictive segments (issue 23): cut points learned once, cells from a customer's own scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segml.config import PredictiveSegmentsConfig
from segml.errors import ConfigError
from segml.segments import predictive

CONFIG = PredictiveSegmentsConfig()


@pytest.fixture(scope="module")
def training():
    """Scores of a training population: spend skewed, churn NaN for the 30% not active."""
    rng = np.random.default_rng(3)
    n = 2000
    spend = rng.gamma(0.8, 200.0, n)
    churn = rng.beta(2, 4, n)
    churn[rng.random(n) < 0.3] = np.nan
    return pd.DataFrame({"predicted_spend": spend, "churn_probability": churn,
                         "high_clv_probability": rng.random(n),
                         "purchase_probability": rng.random(n)})


def test_cut_points_are_the_training_quantiles_and_cells_have_the_configured_shares(training):
    grid = predictive.fit_grid(training, CONFIG, ["churn", "purchase", "high_clv", "spend"])
    assert grid["value"]["target"] == "spend" and grid["risk"]["target"] == "churn"
    assert grid["value"]["cuts"] == pytest.approx(np.quantile(training["predicted_spend"], [.5, .8]))
    active = training["churn_probability"].dropna()
    assert grid["risk"]["cuts"] == pytest.approx(np.quantile(active, [.5, .8]))
    cells = pd.Series(predictive.assign(grid, training))
    assert cells.notna().all()
    high = cells.str.startswith("High value")
    assert high.mean() == pytest.approx(0.2, abs=0.002)
    inactive = cells.str.endswith(", inactive")
    assert (inactive == training["churn_probability"].isna()).all()
    at_risk = cells.str.endswith(", at risk")
    assert at_risk.sum() / (~inactive).sum() == pytest.approx(0.2, abs=0.002)
    assert set(cells) <= set(predictive.cell_names(grid).ravel())
    assert "High value, at risk" in set(cells) and "Low value, stable" in set(cells)


def test_a_customer_cell_does_not_depend_on_who_else_is_scored(training):
    grid = predictive.fit_grid(training, CONFIG, ["churn", "spend"])
    batch = predictive.assign(grid, training)
    alone = [predictive.assign(grid, training.iloc[[i]])[0] for i in range(0, 2000, 97)]
    assert alone == list(batch[::97])
    # a batch of only big spenders is not re-cut: they all stay "High value"
    rich = training[training["predicted_spend"] > grid["value"]["cuts"][1]]
    assert pd.Series(predictive.assign(grid, rich)).str.startswith("High value").all()


def test_the_grid_is_plain_data(training):
    import json

    grid = predictive.fit_grid(training, CONFIG, ["churn", "spend"])
    assert json.loads(json.dumps(grid)) == grid


def test_value_falls_back_to_high_clv_without_a_spend_model(training):
    grid = predictive.fit_grid(training, CONFIG, ["churn", "high_clv"])
    assert grid["value"]["column"] == "high_clv_probability"
    assert grid["reason"] is None


def test_one_year_of_history_gives_risk_cells_only(training):
    scored = training.drop(columns=["predicted_spend", "high_clv_probability"])
    grid = predictive.fit_grid(scored, CONFIG, ["churn", "purchase"])
    assert grid["value"] is None and "risk bands only" in grid["reason"]
    cells = set(predictive.assign(grid, scored))
    assert cells == {"Stable", "Cooling", "At risk", "Inactive"}


def test_without_churn_the_cells_are_value_bands(training):
    grid = predictive.fit_grid(training, CONFIG, ["purchase", "spend"])
    assert grid["risk"] is None and "value bands only" in grid["reason"]
    assert set(predictive.assign(grid, training)) == {"Low value", "Mid value", "High value"}


def test_neither_axis_means_no_predictive_segment_and_says_why(training):
    grid = predictive.fit_grid(training[["purchase_probability"]], CONFIG, ["purchase"])
    assert not predictive.has_cells(grid)
    assert grid["reason"].startswith("no predictive segments")
    assert "value_targets" in grid["reason"] and "risk_targets" in grid["reason"]
    assert predictive.assign(grid, training).tolist() == [None] * len(training)


def test_configured_bands_and_names(training):
    config = PredictiveSegmentsConfig(value_quantiles=[0.9], value_names=["rest", "top 10%"],
                                      risk_quantiles=[0.5], risk_names=["safe", "risky"],
                                      outside_name="lapsed")
    grid = predictive.fit_grid(training, config, ["churn", "spend"])
    assert set(predictive.assign(grid, training)) == {
        "Rest, safe", "Rest, risky", "Rest, lapsed", "Top 10%, safe", "Top 10%, risky",
        "Top 10%, lapsed"}


@pytest.mark.parametrize("section", [
    {"value_quantiles": [0.8, 0.5]},
    {"value_quantiles": [0.5, 1.0]},
    {"risk_quantiles": [0.5], "risk_names": ["a", "b", "c"]},
    {"value_names": ["x", "x", "y"]},
    {"value_targets": ["churm"]},
])
def test_bad_band_settings_name_the_key(tmp_path, section):
    import yaml

    from segml.config import load_config

    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump({"predictive_segments": section}))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert all(p.key.startswith("predictive_segments") for p in info.value.problems)


def test_cell_kpis_average_over_each_target_population_and_hide_small_cells(training):
    grid = predictive.fit_grid(training, CONFIG, ["churn", "purchase", "spend"])
    scored = training.assign(predictive_segment=predictive.assign(grid, training))
    features = pd.DataFrame({"monetary_sum": np.arange(len(training), dtype=float)})
    cells = predictive.profile_cells(scored, features, grid, min_profile_size=150)
    assert len(cells) == 3 * 4
    shown = cells[~cells["suppressed"]]
    hidden = cells[cells["suppressed"]]
    assert len(shown) and len(hidden)
    assert (shown["customers"] >= 150).all()
    assert hidden["customers"].isna().all() and hidden["revenue_share"].isna().all()
    assert hidden["expected_spend"].isna().all()
    row = shown.set_index("predictive_segment").loc["Low value, stable"]
    members = scored["predictive_segment"] == "Low value, stable"
    assert row["customers"] == members.sum()
    assert row["expected_churn"] == pytest.approx(training.loc[members, "churn_probability"].mean())
    assert row["revenue_share"] == pytest.approx(
        features.loc[members.to_numpy(), "monetary_sum"].sum() / features["monetary_sum"].sum())
    inactive = cells[cells["risk_band"] == "inactive"]
    assert inactive["expected_churn"].isna().all()  # churn does not apply to them
    assert inactive["expected_spend"].notna().any()


# ------------------------------------------------------------------------- in the scorer
@pytest.fixture(scope="module")
def scorer():
    from segml.predict import Predictor
    from segml.scoring.scorer import CustomerScorer

    rng = np.random.default_rng(3)
    X = pd.DataFrame({"recency_days": rng.exponential(80, 800),
                      "frequency": rng.poisson(4, 800) * 1.0})
    y = pd.Series((rng.random(800) < 1 / (1 + np.exp(-(X.recency_days - 80) / 30))).astype(float))
    predictors = {"churn": Predictor(target="churn", n_estimators=30, seed=0).fit(X, y),
                  "purchase": Predictor(target="purchase", n_estimators=30, seed=0).fit(X, 1 - y)}
    s = CustomerScorer(feature_names=["recency_days", "frequency"], categorical_levels={},
                       rules=None, hierarchy=None, predictors=predictors,
                       activity_window_days=180.0)
    s.predictive_grid = predictive.fit_grid(s.score(X), CONFIG, predictors)
    return s


def _customers(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(9)
    ids = pd.Index([f"c{i:04d}" for i in range(n)], name="customer_id")
    return pd.DataFrame({"recency_days": rng.exponential(120, n),
                         "frequency": rng.poisson(4, n) * 1.0}, index=ids)


def test_the_scorer_gives_every_customer_a_cell_alone_or_in_a_batch(scorer):
    from segml.tracking import SegmlModel

    X = _customers()
    batch = scorer.score(X).set_index("customer_id")
    assert batch[predictive.COLUMN].notna().all()
    lapsed = X["recency_days"] >= 180
    assert (batch[predictive.COLUMN] == "Inactive").equals(lapsed)
    served = SegmlModel.from_scorer(scorer)
    for i in (0, 17, 123):
        one = served.predict(None, X.iloc[[i]].reset_index())
        assert one[predictive.COLUMN].iloc[0] == batch[predictive.COLUMN].iloc[i]


def test_an_older_pickled_scorer_scores_without_the_column(scorer):
    import cloudpickle

    old = cloudpickle.loads(cloudpickle.dumps(scorer))
    assert old.predictive_grid == scorer.predictive_grid  # plain data survives the pickle
    del old.__dict__["predictive_grid"], old.__dict__["audience_curves"]  # as pickled before
    scored = cloudpickle.loads(cloudpickle.dumps(old)).score(_customers(20))
    assert predictive.COLUMN not in scored and "churn_probability" in scored
