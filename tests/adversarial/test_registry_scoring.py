"""Registry commands, batch scoring, interrupted runs, the retrain lock and warnings (families 6,
7, 10, 11, 12) against one trained model in a store of its own."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from segml.monitor.lock import retrain_lock
from segml.tracking import registry, runs
from segml.tracking.store import using_tracking_uri

from .helpers import NAME, assert_handled, invoke


@pytest.fixture
def env(trained, tmp_path):
    return {"MLFLOW_TRACKING_URI": trained["uri"], "SEGML_LOCK_DIR": str(tmp_path / "locks")}


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('empty-store')}/mlflow.db"


def _config(tmp_path, text: str) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return str(path)


REGISTRY = [
    pytest.param(["promote", "--version", "999"], "has no version 999", id="f6-promote-missing-version"),
    pytest.param(["promote", "--version", "abc"], "--version must be a version number", id="f6-promote-text-version"),
    pytest.param(["promote", "--version", "0"], "--version must be a version number", id="f6-promote-version-0"),
    pytest.param(["promote", "--version=-1"], "--version must be a version number", id="f6-promote-negative"),
    pytest.param(["promote", "--version", "1.5"], "--version must be a version number", id="f6-promote-fraction"),
    pytest.param(["promote", "--version", ""], "--version must be a version number", id="f6-promote-empty"),
    pytest.param(["promote", "--version", "1' OR '1'='1"], "--version must be a version number", id="f6-promote-injection"),
    pytest.param(["rollback"], "no previous champion", id="f6-rollback-without-history"),
    pytest.param(["promote", "--version", "1", "--config", "{nope}"], "no registered model 'nope'", id="f6-promote-unknown-model"),
    pytest.param(["rollback", "--config", "{nope}"], "no registered model 'nope'", id="f6-rollback-unknown-model"),
    pytest.param(["report", "--run-id", "0123456789abcdef"], "no MLflow run", id="f6-report-unknown-run"),
    pytest.param(["score", "--model", "models:/segml-customer/999", "--data", "{data}", "--out", "{tmp}/s.parquet"], "cannot load model", id="f6-score-missing-version"),
    pytest.param(["score", "--model", "models:/nope@champion", "--data", "{data}", "--out", "{tmp}/s.parquet"], "cannot load model", id="f6-score-unknown-model"),
    pytest.param(["score", "--model", "runs:/abc/model", "--data", "{data}", "--out", "{tmp}/s.parquet"], "cannot load model", id="f6-score-unknown-run"),
]


@pytest.mark.parametrize(("args", "culprit"), REGISTRY)
def test_registry_command_on_a_trained_store(env, source, tmp_path, args, culprit):
    nope = _config(tmp_path, "tracking:\n  registered_model_name: nope\n")
    args = [a.format(nope=nope, data=source, tmp=tmp_path) for a in args]
    assert_handled(invoke(*args, env=env), 1, culprit)
    assert str(registry.get_alias_version(NAME, "champion", env["MLFLOW_TRACKING_URI"]).version) == "1"


@pytest.mark.parametrize("args", [
    pytest.param(["promote", "--version", "1"], id="f6-promote-empty-store"),
    pytest.param(["promote", "--version", "999"], id="f6-promote-999-empty-store"),
    pytest.param(["rollback"], id="f6-rollback-empty-store"),
])
def test_registry_command_on_an_empty_store(empty_store, args):
    assert_handled(invoke(*args, env={"MLFLOW_TRACKING_URI": empty_store}), 1,
                   f"no registered model '{NAME}'")


def test_f7_a_version_whose_run_never_finished_is_not_promoted(trained, env):
    """What ``kill -9`` leaves behind: a version whose run is still RUNNING."""
    client = MlflowClient(trained["uri"], registry_uri=trained["uri"])
    v1 = client.get_model_version(NAME, "1")
    run = client.create_run(client.get_run(v1.run_id).info.experiment_id)  # RUNNING, for ever
    with using_tracking_uri(trained["uri"]):
        orphan = client.create_model_version(NAME, v1.source, run_id=run.info.run_id)
    assert_handled(invoke("promote", "--version", orphan.version, env=env), 1,
                   "has not finished (RUNNING")
    assert str(registry.get_alias_version(NAME, "champion", trained["uri"]).version) == "1"


@pytest.mark.parametrize("signum", [pytest.param(signal.SIGINT, id="f7-sigint-marks-killed"),
                                    pytest.param(signal.SIGTERM, id="f7-sigterm-marks-killed")])
def test_signal_inside_a_run_marks_it_killed(trained, signum):
    with pytest.raises(KeyboardInterrupt):
        with runs.pipeline_run(trained["uri"], "interrupted") as run, run.stage("features"):
            os.kill(os.getpid(), signum)
    client = MlflowClient(trained["uri"])
    assert client.get_run(run.run_id).info.status == "KILLED"
    assert client.get_run(run.stage_runs["features"]).info.status == "KILLED"
    assert mlflow.active_run() is None
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers restored


def test_f7_sigterm_after_created_version_kills_the_retrain_cleanly(trained, source, env,
                                                                   monkeypatch):
    """SIGTERM right after the challenger version is created: run KILLED, no decision tag, the
    champion unchanged, and the version cannot be promoted."""
    set_alias = registry.set_alias

    def terminated(name, alias, version, uri=None):
        if alias == "challenger":
            os.kill(os.getpid(), signal.SIGTERM)
        return set_alias(name, alias, version, uri)

    monkeypatch.setattr(registry, "set_alias", terminated)
    output = assert_handled(invoke("retrain", "--data", source, "--force", "--quiet", env=env), 143,
                            "interrupted by SIGTERM")
    assert "marked KILLED, the champion is unchanged" in output
    client = MlflowClient(trained["uri"], registry_uri=trained["uri"])
    killed = client.search_runs([client.get_experiment_by_name("segml").experiment_id],
                                "attributes.run_name = 'retrain'")[0]
    assert killed.info.status == "KILLED" and "segml.decision" not in killed.data.tags
    assert str(registry.get_alias_version(NAME, "champion", trained["uri"]).version) == "1"
    created = max(int(v.version) for v in client.search_model_versions(f"name = '{NAME}'"))
    assert_handled(invoke("promote", "--version", created, env=env), 1, "ended KILLED")


def _hold(lock_dir, uri, ready, release):
    with retrain_lock(NAME, uri, lock_dir=lock_dir):
        ready.set()
        release.wait(30)


@pytest.mark.parametrize("alias", [pytest.param("symlink", id="f11-lock-through-symlink"),
                                   pytest.param("dotdot", id="f11-lock-through-dotdot"),
                                   pytest.param("relative", id="f11-lock-through-relative-path")])
def test_the_lock_holds_however_the_store_is_reached(trained, source, env, tmp_path, monkeypatch,
                                                     alias):
    folder = trained["folder"]
    if alias == "symlink":
        (tmp_path / "link").symlink_to(folder)
        other = f"sqlite:///{tmp_path}/link/mlflow.db"
    elif alias == "dotdot":
        other = f"sqlite:///{folder}/../{os.path.basename(folder)}/mlflow.db"
    else:
        monkeypatch.chdir(folder)
        other = "sqlite:///mlflow.db"
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(env["SEGML_LOCK_DIR"], trained["uri"], ready, release))
    holder.start()
    try:
        assert ready.wait(20)
        result = invoke("retrain", "--data", source, env={**env, "MLFLOW_TRACKING_URI": other})
        assert_handled(result, 4, "another retrain of 'segml-customer' is running")
    finally:
        release.set()
        holder.join(20)


def test_f12_train_prints_its_data_and_readiness_warnings_once(trained):
    output = trained["output"]
    assert output.count("warning(s) about the data (train)") == 1
    warnings = [line for line in output.splitlines() if line.startswith("warning:")]
    assert warnings and any("positives" in line for line in warnings)
    assert len(warnings) == len(set(warnings))


SCORE = [
    pytest.param(["--cutoff", "2000-01-01"], "--cutoff 2000-01-01 is before the data starts", id="f10-cutoff-before-data"),
    pytest.param(["--cutoff", "2030-01-01"], "--cutoff 2030-01-01 is after the data ends", id="f10-cutoff-after-data"),
    pytest.param(["--out", "{tmp}/scores.parquet"], "--out is a folder", id="f10-out-is-a-folder"),
    pytest.param(["--out", "{tmp}/file.txt/scores.parquet"], "--out cannot be written here", id="f10-out-under-a-file"),
]


@pytest.mark.parametrize(("extra", "culprit"), SCORE)
def test_bad_score_request_is_refused(env, source, tmp_path, extra, culprit):
    (tmp_path / "scores.parquet").mkdir()
    (tmp_path / "file.txt").write_text("x")
    out = ["--out", str(tmp_path / "ok.parquet")] if "--out" not in extra else []
    args = ["score", "--model", f"models:/{NAME}@champion", "--data", source, *out,
            *[a.format(tmp=tmp_path) for a in extra]]
    assert_handled(invoke(*args, env=env), 1, culprit)


def test_f12_score_keeps_and_flags_customers_without_history(env, frames, copy_of, tmp_path):
    """Two customers with no signup date, order or event: rows with null scores, a warning."""
    extra = frames["customers"].head(2).assign(customer_id=["new-1", "new-2"], signup_date=pd.NaT)
    orphans = frames["transactions"].head(3).assign(customer_id="ghost")
    folder = copy_of(customers=pd.concat([frames["customers"], extra], ignore_index=True),
                     transactions=pd.concat([frames["transactions"], orphans], ignore_index=True))
    out = tmp_path / "scores.csv"
    result = invoke("score", "--model", f"models:/{NAME}@champion", "--data", folder, "--out", out,
                    env=env)
    output = assert_handled(result, 0)
    assert "2 customer(s) have no signup date, order or event" in output
    assert "absent from the customers table" in output  # the orphan rows, counted
    scores = pd.read_csv(out)
    assert len(scores) == len(frames["customers"]) + 2
    new = scores[scores["customer_id"].isin(["new-1", "new-2"])]
    assert (new["lifecycle_stage"] == "no history").all() and new["churn_probability"].isna().all()
