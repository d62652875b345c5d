import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from segml.predict import metrics as m


@pytest.fixture
def scores():
    rng = np.random.default_rng(3)
    y = (rng.random(1000) < 0.3).astype(float)
    p = np.clip(0.3 + 0.3 * (y - 0.3) + rng.normal(0, 0.2, 1000), 0, 1)
    return y, p


def test_against_sklearn(scores):
    y, p = scores
    assert m.roc_auc(y, p) == pytest.approx(roc_auc_score(y, p))
    assert m.pr_auc(y, p) == pytest.approx(average_precision_score(y, p))
    assert m.brier(y, p) == pytest.approx(brier_score_loss(y, p))
    assert m.spearman(y * p, p) == pytest.approx(spearmanr(y * p, p).statistic)


def test_lift_and_capture_by_hand():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1], dtype=float)
    s = np.arange(20, 0, -1, dtype=float)  # rows in decreasing score order; top 10% = 2 rows
    assert m.capture_at(y, s) == pytest.approx(2 / 4)
    assert m.lift_at(y, s) == pytest.approx((2 / 2) / (4 / 20))
    # ceil(0.1 * 25) = 3 rows
    y25 = np.r_[1, 0, 1, np.zeros(22)]
    assert m.capture_at(y25, -np.arange(25.0)) == pytest.approx(1.0)


def test_ece_by_hand_and_strategies():
    y = np.array([0, 0, 1, 1, 1, 0], dtype=float)
    p = np.array([0.05, 0.05, 0.95, 0.95, 0.55, 0.55])
    # bins: [0,0.1): |0-0.1|; [0.9,1]: |2-1.9|; [0.5,0.6): |1-1.1| -> 0.3/6
    assert m.ece(y, p) == pytest.approx(0.3 / 6)
    rng = np.random.default_rng(0)
    pp = rng.random(5000)
    yy = (rng.random(5000) < pp).astype(float)
    assert m.ece(yy, pp, strategy="quantile") < 0.03
    assert m.ece(yy, np.clip(pp + 0.2, 0, 1)) > 0.15
    with pytest.raises(ValueError):
        m.ece(yy, pp, strategy="bogus")


def test_normalised_gini():
    y = np.array([0, 0, 3, 10, 0, 1], dtype=float)
    assert m.normalised_gini(y, y) == pytest.approx(1.0)
    assert m.normalised_gini(y, -y) == pytest.approx(-1.0)
    rng = np.random.default_rng(1)
    big = rng.gamma(1, 1, 20000)
    assert abs(m.normalised_gini(big, rng.random(20000))) < 0.05


def test_degenerate_inputs_are_nan():
    assert np.isnan(m.roc_auc([1, 1], [0.2, 0.3]))
    assert np.isnan(m.pr_auc([0, 0], [0.2, 0.3]))
    assert np.isnan(m.lift_at([0, 0], [0.2, 0.3]))
    with pytest.raises(ValueError):
        m.roc_auc([0, 1], [0.2])


def test_named_metrics_and_deciles():
    y = np.arange(100, dtype=float)
    names = m.regression_metrics(y, y, prefix="spend")
    assert set(names) == {"spend_spearman", "spend_gini", "spend_mae"}
    t = m.decile_table(y, y)
    assert t["customers"].tolist() == [10] * 10
    assert t["mean_actual"].is_monotonic_decreasing
    assert t["cum_share"].iloc[-1] == pytest.approx(1.0)
    assert set(m.classification_metrics([0, 1], [0.1, 0.9], "churn")) == {
        f"churn_{k}" for k in m.CLASSIFICATION_METRICS
    }
