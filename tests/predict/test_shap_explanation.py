"""Explanations as ``shap.Explanation`` objects (issue 20): segml's fast values equal ``shap``'s
own explainers, and ``shap.plots`` accept them."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import segml  # noqa: E402
from segml.errors import SegmlError  # noqa: E402
from segml.predict.explain import explanation  # noqa: E402
from segml.predict.models import Predictor  # noqa: E402

shap = pytest.importorskip("shap")


def _xy(n: int = 800, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "recency_days": rng.exponential(60, n),
        "frequency": rng.poisson(3, n).astype(float),
        "plan": pd.Categorical(rng.choice(["basic", "pro", "max"], n)),
        "noise": rng.normal(size=n),
    })
    X.loc[::17, "frequency"] = np.nan  # missing values take the trees' default branches
    logit = (X["recency_days"] - 60) / 30 - 0.3 * X["frequency"].fillna(0) + (X["plan"] == "pro")
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float))
    return X, y


@pytest.fixture(scope="module")
def lgbm():
    X, y = _xy()
    return Predictor(target="churn", n_estimators=40, candidates=("lgbm",), seed=0).fit(X, y), X


@pytest.fixture(scope="module")
def logreg():
    X, y = _xy(seed=1)
    return Predictor(target="churn", candidates=("logreg",), seed=0).fit(X, y), X


def test_lightgbm_values_equal_shap_tree_explainer(lgbm):
    pred, X = lgbm
    assert pred.winner_ == "lgbm" and pred.weights_ == (1.0, 0.0)
    ours = explanation(pred, X)
    theirs = shap.TreeExplainer(pred.booster_)(pred.matrix(X))  # path-dependent (no data)
    assert ours.values.shape == theirs.values.shape == (len(X), 4)
    np.testing.assert_allclose(ours.values, theirs.values, atol=1e-9)
    np.testing.assert_allclose(ours.base_values, theirs.base_values, atol=1e-9)
    # and both are LightGBM's own pred_contrib
    contrib = pred.booster_.predict(pred.matrix(X), pred_contrib=True)
    np.testing.assert_allclose(ours.values, contrib[:, :-1], atol=1e-9)


def test_logistic_regression_values_equal_shap_linear_explainer(logreg):
    pred, X = logreg
    assert pred.winner_ == "logreg" and pred.booster_ is None
    ours = explanation(pred, X)
    linear = pred.linear_
    weight = pred.weights_[1]
    design = linear._raw_design(pred.matrix(X))  # the columns the regression reads
    explainer = shap.LinearExplainer((linear.coef_, linear.intercept_),
                                     shap.maskers.Independent(linear.mean_[None, :]))
    per_column = explainer(design).values
    per_feature = np.zeros((len(X), len(pred.feature_names_)))
    np.add.at(per_feature.T, linear.group_, per_column.T)  # design columns -> their feature
    np.testing.assert_allclose(ours.values, weight * per_feature, atol=1e-9)
    # the definition: values plus base value are the margin, feature by feature coef * (x - mean)
    np.testing.assert_allclose(ours.values.sum(axis=1) + ours.base_values,
                               pred.predict_margin(X), atol=1e-9)
    numeric = linear.numeric_.index(0)  # recency_days: one design column, no missing values
    np.testing.assert_allclose(
        ours.values[:, 0],
        weight * linear.coef_[numeric] * (design[:, numeric] - linear.mean_[numeric]), atol=1e-9)


def test_the_explanation_carries_data_display_values_and_names(lgbm):
    pred, X = lgbm
    exp = explanation(pred, X.head(5))
    assert exp.feature_names == ["recency_days", "frequency", "plan", "noise"]
    assert exp.data.dtype == np.float64 and np.isnan(exp.data[0, 1])  # row 0: frequency missing
    assert list(exp.display_data[:, 2]) == X["plan"].head(5).astype(str).tolist()
    assert exp.display_data[0, 1] is None
    one = exp[0]
    assert one.values.shape == (4,) and float(one.base_values) == pytest.approx(exp.base_values[0])


def test_shap_plots_accept_the_explanation(lgbm):
    pred, X = lgbm
    exp = explanation(pred, X.head(200))
    shap.plots.waterfall(exp[0], show=False)
    figure = plt.gcf()
    labels = " ".join(t.get_text() for ax in figure.axes for t in ax.get_yticklabels())
    assert "recency_days" in labels
    plt.close("all")
    shap.plots.beeswarm(exp, show=False)
    assert len(plt.gcf().axes) >= 1
    plt.close("all")


def test_segml_explain_takes_a_predictor_or_a_scorer_and_names_an_unknown_target(lgbm):
    pred, X = lgbm
    exp = segml.explain(pred, X.reset_index(names="customer_id"), max_rows=50)
    assert exp.values.shape == (50, 4)

    class Scorer:  # the composite's protocol: predictors by target, no population
        predictors = {"churn": pred}

    with pytest.raises(SegmlError, match="not 'spend'"):
        segml.explain(Scorer(), X, target="spend")
    with pytest.raises(SegmlError, match="features"):
        segml.explain(Scorer(), None)
