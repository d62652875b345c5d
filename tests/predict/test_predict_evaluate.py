import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from segml.config import ModelsConfig
from segml.predict import cross_validate_target, evaluate_target, fit_baselines, fit_predictor

FAST = ModelsConfig(n_estimators=100, learning_rate=0.1, early_stopping_rounds=20, cv_folds=3)


def attributes_frame(n=2400, seed=5):
    """Attributes-mode data: customers with attributes only, an XOR-like churn signal."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(["monthly", "yearly", "two_year"], n)
    tenure = rng.uniform(0, 72, n)
    charges = rng.uniform(20, 120, n)
    logit = np.where(contract == "monthly", 1.0, -1.5) + np.where((tenure < 12) ^ (charges > 70), 1.2, -1.2)
    y = pd.Series((rng.random(n) < expit(logit)).astype(float), name="churn")
    X = pd.DataFrame({"contract": pd.Series(contract).astype("category"), "tenure": tenure,
                      "charges": charges, "noise": rng.normal(size=n)})
    return X, y


def test_cross_validation_attributes_mode():
    X, y = attributes_frame()
    cv = cross_validate_target("churn", X, y, FAST, seed=0)
    assert list(cv.folds.index) == [0, 1, 2]
    assert cv.metrics["churn_roc_auc"] == pytest.approx(cv.folds["churn_roc_auc"].mean())
    assert cv.metrics["churn_roc_auc_std"] == pytest.approx(cv.folds["churn_roc_auc"].std())
    assert cv.metrics["churn_roc_auc"] > cv.metrics["baseline_logreg_churn_roc_auc"] + 0.02
    assert not any(k.startswith(("baseline_recency", "baseline_bgnbd")) for k in cv.metrics)
    assert cv.comparison.loc["baseline_recency"].isna().all()
    assert cv.predictor is not None and cv.predictor.n_train_rows_ == len(X)


def test_attributes_mode_skips_behavioural_baselines_with_a_note():
    X, y = attributes_frame(1200)
    pred = fit_predictor("churn", X[:800], y[:800], FAST, seed=0)
    result = evaluate_target("churn", pred, X[800:], y[800:])
    notes = result.comparison["note"]
    assert notes["baseline_recency"] == "skipped: column 'recency_days' missing"
    assert notes["baseline_bgnbd"] == "skipped: column 'btyd_p_alive' missing"
    assert notes["baseline_logreg"] == "" and notes["model"] == ""
    assert result.comparison.loc["baseline_logreg", "rows"] == 400


def test_cv_spend_uses_kfold(data):
    X, Y, _ = data
    cv = cross_validate_target("spend", X.head(1500), Y.head(1500), FAST, seed=0, refit=False)
    assert {"spend_spearman", "spend_gini", "baseline_past_spend_spend_spearman"} <= set(cv.metrics)
    assert cv.predictor is None


def test_baselines_fitted_on_training_rows_only(data):
    X, Y, _ = data
    train, test = X.iloc[:2000], X.iloc[2000:]
    fitted = fit_baselines("purchase", train, Y["purchase"].iloc[:2000], max_rows=500)
    assert sorted(fitted) == ["bgnbd", "logreg", "recency"]
    assert fitted["bgnbd"].column_ == "btyd_prob_purchase_30d"
    for baseline in fitted.values():
        p = baseline.predict(test)
        assert p.shape == (len(test),) and ((p >= 0) & (p <= 1)).all()
    # the evaluation rows do not change what a fitted baseline predicts for a customer
    first = fitted["recency"].predict(test.head(5))
    assert np.array_equal(first, fitted["recency"].predict(test)[:5])


def test_explicit_baseline_features(data):
    X, Y, _ = data
    pred = fit_predictor("churn", X[:3000], Y[:3000], FAST, seed=0)
    model_X = X.drop(columns=["btyd_p_alive"])
    with pytest.raises(Exception, match="btyd_p_alive"):
        evaluate_target("churn", pred, model_X[3000:], Y[3000:])
    result = evaluate_target("churn", pred, X[3000:], Y[3000:], baseline_features=X[3000:])
    assert "baseline_bgnbd_churn_roc_auc" in result.metrics
