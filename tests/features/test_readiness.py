import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from segml.config import ReadinessConfig
from segml.errors import ReadinessError
from segml.features.readiness import _leakage_auc, check_readiness, combine_reports

CFG = ReadinessConfig(min_positives=50, recommended_positives=200, min_history_days=90,
                      leakage_auc=0.95)


def make_data(n: int = 600, rate: float = 0.4, seed: int = 0):
    rng = np.random.default_rng(seed)
    idx = pd.Index([f"c{i:05d}" for i in range(n)], name="customer_id")
    y = pd.Series((rng.random(n) < rate).astype(float), index=idx, name="churn")
    X = pd.DataFrame({
        "recency_days": rng.exponential(30, n) + 20 * y.to_numpy(),  # honest, moderate signal
        "frequency": rng.poisson(3, n).astype(float),
        "region": pd.Categorical(rng.choice(["n", "s", "e"], n)),
    }, index=idx)
    return X, y


def codes(report, severity=None):
    return [(p.column, p.severity) for p in report.problems
            if severity is None or p.severity == severity]


def test_clean_data_passes_and_report_is_json():
    X, y = make_data()
    report = check_readiness(X, y.to_frame(), target="churn", config=CFG, history_days=365,
                             cutoff=pd.Timestamp("2024-06-30"),
                             max_timestamp=pd.Timestamp("2024-06-30"))
    assert not report.blocking
    assert report.problems == []
    summary = report.targets["churn"]
    assert summary["positives"] == int(y.sum())
    assert summary["negatives"] == len(y) - int(y.sum())
    assert summary["label_rate"] == pytest.approx(y.mean())
    assert summary["history_days"] == 365.0
    assert 0.5 < summary["leakage_auc"]["recency_days"] < 0.95
    json.dumps(report.to_dict())
    report.raise_if_blocking()  # no exception


def test_too_few_positives_blocks_and_few_warns():
    X, y = make_data(n=600, rate=0.05, seed=1)
    report = check_readiness(X, y, target="churn", config=CFG)
    assert report.blocking
    with pytest.raises(ReadinessError) as info:
        report.raise_if_blocking()
    [problem] = info.value.problems
    assert problem.column == "churn" and "positives" in problem.message and "'churn'" in problem.message
    X, y = make_data(n=600, rate=0.2, seed=1)  # ~120 positives: enough but below recommended
    report = check_readiness(X, y, target="churn", config=CFG)
    assert not report.blocking
    assert codes(report) == [("churn", "warning")]


def test_constant_label_blocks():
    X, y = make_data()
    report = check_readiness(X, y * 0, target="churn", config=CFG)
    messages = [p.message for p in report.problems if p.severity == "error"]
    assert any("constant" in m for m in messages)
    assert report.targets["churn"]["leakage_auc"] == {}


def test_short_history_and_future_timestamp_block():
    X, y = make_data()
    report = check_readiness(X, y, target="churn", config=CFG, history_days=30,
                             cutoff=pd.Timestamp("2024-06-30"),
                             max_timestamp=pd.Timestamp("2024-07-01 00:00:01"))
    errors = [p for p in report.problems if p.severity == "error"]
    assert len(errors) == 2
    assert all(p.column == "timestamp" for p in errors)
    assert any("history" in p.message for p in errors)
    assert any("after the cutoff" in p.message for p in errors)


def test_leaking_feature_blocks_naming_column():
    X, y = make_data()
    rng = np.random.default_rng(5)
    X["days_to_cancel"] = np.where(y == 1, 5.0, 50.0) + rng.normal(0, 1, len(y))
    X["cancel_flag_cat"] = pd.Categorical(np.where(y == 1, "yes", "no"))
    # Leak through missingness: present only for non-churners.
    X["last_order_value"] = np.where(y == 0, rng.normal(50, 10, len(y)), np.nan)
    report = check_readiness(X, y, target="churn", config=CFG)
    leaked = {p.column for p in report.problems if p.severity == "error"}
    assert leaked == {"days_to_cancel", "cancel_flag_cat", "last_order_value"}
    with pytest.raises(ReadinessError) as info:
        report.raise_if_blocking()
    assert all(p.table == "features" for p in info.value.problems)


def test_auc_matches_sklearn_with_ties_and_nans():
    rng = np.random.default_rng(3)
    n = 300
    positive = rng.random(n) < 0.3
    a = np.round(rng.normal(size=n) + positive, 1)  # ties
    b = rng.normal(size=n) - 0.5 * positive
    b[rng.random(n) < 0.2] = np.nan
    auc = _leakage_auc(pd.DataFrame({"a": a, "b": b}), positive)
    assert auc["a"] == pytest.approx(roc_auc_score(positive, a))
    ok = ~np.isnan(b)
    expected_b = roc_auc_score(positive[ok], b[ok])
    assert auc["b"] == pytest.approx(max(expected_b, 1 - expected_b))
    assert "b (missing)" in auc


def test_warnings_for_missing_constant_and_id_like_columns():
    X, y = make_data()
    rng = np.random.default_rng(9)
    X["mostly_missing"] = np.where(rng.random(len(y)) < 0.7, np.nan, 1.0) * rng.random(len(y))
    X["always_one"] = 1.0
    X["account_number"] = np.arange(len(y), dtype="int64") * 7
    X["email_hash"] = pd.Series([f"h{i}" for i in range(len(y))], index=X.index, dtype="str")
    report = check_readiness(X, y, target="churn", config=CFG)
    assert not report.blocking
    found = codes(report, "warning")
    assert ("mostly_missing", "warning") in found
    assert ("always_one", "warning") in found
    summary = report.targets["churn"]
    assert summary["constant_columns"] == ["always_one"]
    assert summary["id_like_columns"] == ["account_number", "email_hash"]
    assert summary["missing_share"]["mostly_missing"] == pytest.approx(0.7, abs=0.06)
    # Honest float features are never called ID-like even though their values are unique.
    assert "recency_days" not in summary["id_like_columns"]


def test_nan_labels_are_left_out_and_reports_combine():
    X, y = make_data()
    churn = y.copy()
    churn.iloc[:100] = np.nan
    labels = pd.DataFrame({"churn": churn, "purchase": 1 - y})
    r1 = check_readiness(X, labels, target="churn", config=CFG)
    r2 = check_readiness(X, labels, target="purchase", config=CFG, history_days=10)
    assert r1.targets["churn"]["labelled_rows"] == 500
    assert r1.targets["churn"]["positives"] == int(y.iloc[100:].sum())
    merged = combine_reports([r1, r2])
    assert set(merged.targets) == {"churn", "purchase"}
    assert merged.blocking and not r1.blocking
    with pytest.raises(ReadinessError, match="target 'purchase'"):
        merged.raise_if_blocking()
    with pytest.raises(Exception, match="high_clv"):
        check_readiness(X, labels, target="high_clv", config=CFG)


def test_constant_detection_counts_missing_as_a_value(monkeypatch):
    import segml.features.readiness as readiness

    X, y = make_data()
    X["one_or_missing"] = np.where(np.arange(len(y)) % 2 == 0, 1.0, np.nan)
    X["all_missing"] = np.nan
    X["same_text"] = pd.Series("x", index=X.index, dtype="str")
    report = check_readiness(X, y, target="churn", config=CFG)
    assert report.targets["churn"]["constant_columns"] == ["all_missing", "same_text"]
    # Sampling for the AUC scan still finds a leak.
    monkeypatch.setattr(readiness, "AUC_SAMPLE_ROWS", 200)
    X["leak"] = y.to_numpy() + np.random.default_rng(2).normal(0, 0.01, len(y))
    report = check_readiness(X, y, target="churn", config=CFG)
    assert [p.column for p in report.problems if p.severity == "error"] == ["leak"]


def test_a_strong_point_in_time_feature_is_a_warning_but_a_leaky_attribute_blocks():
    """segml's own features see only rows before the cutoff: a very strong one (BG/NBD in a
    world of dead customers) is not leakage. A user's column that strong still blocks."""
    X, y = make_data()
    X["btyd_p_alive"] = 1 - y.to_numpy() * 0.9  # near-perfect, but computed before the cutoff
    X["cancel_flag"] = y.to_numpy()  # an attribute the export filled in after the fact
    X["days_since_ticket"] = np.where(np.arange(len(X)) % 10 == 0, 3.0, np.nan)  # never: NaN
    X["income"] = np.where(np.arange(len(X)) % 10 == 0, 3.0, np.nan)  # an attribute, mostly blank
    report = check_readiness(X, y, target="churn", config=CFG, history_days=365,
                             point_in_time={"recency_days", "frequency", "btyd_p_alive",
                                            "days_since_ticket"})
    assert ("btyd_p_alive", "warning") in codes(report)
    assert ("income", "warning") in codes(report)  # 90% missing
    assert "days_since_ticket" not in [column for column, _ in codes(report)]
    assert ("cancel_flag", "error") in codes(report)
    assert report.targets["churn"]["leakage_suspects"] == ["cancel_flag"]
    with pytest.raises(ReadinessError, match="cancel_flag"):
        report.raise_if_blocking()
