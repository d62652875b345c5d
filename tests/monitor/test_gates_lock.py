import multiprocessing as mp
import time

import pytest

from segml.config import RetrainConfig
from segml.monitor.gates import evaluate_gates, promotion_decision
from segml.monitor.lock import LockHeld, retrain_lock

CHAMPION = {"churn_roc_auc": 0.80, "purchase_roc_auc": 0.70, "spend_spearman": 0.5}


def test_all_gates_pass_for_an_equal_or_better_challenger():
    challenger = {**CHAMPION, "churn_roc_auc": 0.81, "churn_ece": 0.01}
    gates = evaluate_gates(CHAMPION, challenger, RetrainConfig(), segment_stability=0.99)
    promote, reasons = promotion_decision(gates)
    assert promote and reasons == []
    assert {g.name for g in gates} == {
        "churn_roc_auc_drop", "churn_ece", "purchase_roc_auc_drop", "spend_spearman_drop",
        "segment_stability", "readiness",
    }


def test_a_target_only_one_side_has_is_a_clear_gate_not_a_crash():
    champion = {"churn_roc_auc": 0.8, "high_clv_roc_auc": 0.9, "spend_spearman": 0.7}
    challenger = {"churn_roc_auc": 0.82, "purchase_roc_auc": 0.75}
    skipped = {"high_clv": "targets high_clv and spend skipped: a 365-day horizon needs ..."}
    gates = {g.name: g for g in evaluate_gates(
        champion, challenger, RetrainConfig(), champion_targets=["churn", "high_clv", "spend"],
        challenger_targets=["churn", "purchase"], skipped=skipped)}
    assert gates["churn_roc_auc_drop"].passed
    assert gates["purchase_present"].passed and "new target" in gates["purchase_present"].reason
    assert not gates["high_clv_present"].passed
    assert "high_clv_probability" in gates["high_clv_present"].reason
    assert "365-day horizon" in gates["high_clv_present"].reason  # why it is missing
    assert not gates["spend_present"].passed and "models.targets" in gates["spend_present"].reason
    promote, reasons = promotion_decision(list(gates.values()))
    assert not promote and len(reasons) == 2


@pytest.mark.parametrize(
    ("challenger", "kwargs", "failed"),
    [
        ({**CHAMPION, "churn_roc_auc": 0.78}, {}, "churn_roc_auc_drop"),
        ({**CHAMPION, "purchase_ece": 0.2}, {}, "purchase_ece"),
        ({**CHAMPION, "spend_spearman": 0.4}, {}, "spend_spearman_drop"),
        (dict(CHAMPION), {"segment_stability": 0.5}, "segment_stability"),
        (dict(CHAMPION), {"readiness_passed": False}, "readiness"),
        ({"purchase_roc_auc": 0.7, "spend_spearman": 0.5}, {}, "churn_present"),  # lacks churn
    ],
)
def test_each_gate_blocks_promotion(challenger, kwargs, failed):
    promote, reasons = promotion_decision(evaluate_gates(CHAMPION, challenger, RetrainConfig(), **kwargs))
    assert not promote
    assert [r.split(":")[0] for r in reasons] == [failed]


def test_tolerance_from_config():
    challenger = {**CHAMPION, "churn_roc_auc": 0.78}
    gates = evaluate_gates(CHAMPION, challenger, RetrainConfig(max_auc_drop=0.05))
    assert promotion_decision(gates)[0]


def _hold(lock_dir, ready, release):
    with retrain_lock("m", "sqlite:///x.db", lock_dir=lock_dir):
        ready.set()
        release.wait(10)


def test_second_retrain_is_refused_while_first_holds_lock(tmp_path):
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(tmp_path, ready, release))
    proc.start()
    try:
        assert ready.wait(10)
        with pytest.raises(LockHeld, match="another retrain of 'm'"):
            with retrain_lock("m", "sqlite:///x.db", lock_dir=tmp_path):
                pass
        with retrain_lock("other-model", "sqlite:///x.db", lock_dir=tmp_path):
            pass
    finally:
        release.set()
        proc.join(10)
    with retrain_lock("m", "sqlite:///x.db", lock_dir=tmp_path):
        pass


def test_lock_released_when_holder_dies(tmp_path):
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(tmp_path, ready, release))
    proc.start()
    assert ready.wait(10)
    proc.kill()
    proc.join(10)
    start = time.monotonic()
    with retrain_lock("m", "sqlite:///x.db", lock_dir=tmp_path, timeout_seconds=5):
        pass
    assert time.monotonic() - start < 5


def test_lock_key_names_the_store_not_the_working_directory(tmp_path, monkeypatch):
    from segml.monitor.lock import retrain_lock

    paths = {}
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        for uri in ("http://mlflow.internal:5000", "sqlite:///mlflow.db"):
            with retrain_lock("segml-customer", uri, lock_dir=tmp_path / "locks") as path:
                paths[folder, uri] = path
    assert paths["a", "http://mlflow.internal:5000"] == paths["b", "http://mlflow.internal:5000"]
    assert paths["a", "sqlite:///mlflow.db"] != paths["b", "sqlite:///mlflow.db"]
