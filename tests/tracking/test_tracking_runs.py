"""Parent/nested runs, logging helpers, FAILED runs, and no PII anywhere in the store."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from fake_scorer import PII_DOMAIN, FakeScorer, leak_pii, pii_free, raw_customers
from mlflow.tracking import MlflowClient

from segml.config import SegmlConfig, TrackingConfig
from segml.data.synthetic.datasets import synthetic_config
from segml.errors import Problem
from segml.tracking import (
    CHAMPION,
    RegistryError,
    find_finished_run,
    get_alias_version,
    log_artifacts,
    log_config,
    log_data_fingerprints,
    log_dict,
    log_figure_file,
    log_frame,
    log_metrics,
    log_params,
    log_problems,
    log_segml_model,
    pipeline_run,
    promote,
    resolve_tracking_uri,
)


def _children(client, run_id):
    run = client.get_run(run_id)
    return client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run_id}'"
    )


def test_resolve_tracking_uri_precedence(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri(SegmlConfig()) == "sqlite:///mlflow.db"
    assert resolve_tracking_uri(TrackingConfig()) == "sqlite:///mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://team:5000")
    assert resolve_tracking_uri(SegmlConfig()) == "http://team:5000"
    assert resolve_tracking_uri(TrackingConfig()) == "http://team:5000"
    explicit = SegmlConfig(tracking={"tracking_uri": "sqlite:////x/y.db"})
    assert resolve_tracking_uri(explicit) == "sqlite:////x/y.db"
    assert resolve_tracking_uri(explicit.tracking) == "sqlite:////x/y.db"


def test_run_logs_stages_params_metrics_and_artifacts(store, tmp_path):
    before_uri, before_env = mlflow.get_tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI")
    cfg = synthetic_config(tracking={"tracking_uri": store, "experiment_name": "exp-a"})
    figure = tmp_path / "plot.png"
    figure.write_bytes(b"\x89PNG fake")
    with pipeline_run(cfg, "train", cutoff="2025-03-31", mode="behavioural") as run:
        assert mlflow.get_tracking_uri() == store
        with run.stage("load"):
            log_data_fingerprints({"customers": {"rows": 2000, "hash": "abc123"},
                                   "transactions": {"rows": 51234,
                                                    "min_date": pd.Timestamp("2023-01-01")}})
            log_problems([Problem("few positives", severity="warning", table="customers")])
        with run.stage("features"):
            log_frame(pd.DataFrame({"a": [1.0, 2.0]}), "features/summary")
            log_frame(pd.DataFrame({"a": [1.0]}), "features/summary.csv")
        with run.stage("evaluate"):
            logged = log_metrics({"churn_roc_auc": 0.81, "churn_ece": np.float32(0.02),
                                  "purchase_pr_auc": float("nan"), "bad": None})
            log_figure_file(figure)
            log_dict({"gates": [1, 2]}, "decision.json")
        log_config(cfg)
        log_params({f"p{i}": "v" * (20000 if i == 0 else 3) for i in range(250)})
        run.log_metrics({"n_customers": 2000})
    assert mlflow.get_tracking_uri() == before_uri
    assert os.environ.get("MLFLOW_TRACKING_URI") == before_env
    assert set(logged) == {"churn_roc_auc", "churn_ece"}

    client = MlflowClient(store)
    parent = client.get_run(run.run_id)
    assert parent.info.status == "FINISHED"
    assert client.get_experiment(parent.info.experiment_id).name == "exp-a"
    tags = parent.data.tags
    assert tags["segml.cutoff"] == "2025-03-31" and tags["segml.mode"] == "behavioural"
    assert tags["segml.version"]
    assert len(tags.get("segml.git_commit", "0" * 40)) == 40
    params = parent.data.params
    assert params["time.churn_horizon_days"] == "90" and params["data.customers.pii_count"] == "3"
    assert len(params["p0"]) <= 6000 and params["p249"] == "vvv"
    assert {"stage_load_seconds", "stage_features_seconds", "stage_evaluate_seconds",
            "n_customers"} <= set(parent.data.metrics)

    stages = {r.data.tags["segml.stage"]: r for r in _children(client, run.run_id)}
    assert set(stages) == {"load", "features", "evaluate"}
    assert all(r.info.status == "FINISHED" for r in stages.values())
    assert stages["evaluate"].data.metrics["churn_roc_auc"] == pytest.approx(0.81)
    assert "purchase_pr_auc" not in stages["evaluate"].data.metrics
    assert stages["load"].data.params["fingerprint.customers.rows"] == "2000"
    assert stages["load"].data.metrics["problems_warnings"] == 1
    assert stages["load"].data.metrics["duration_seconds"] >= 0

    def names(run_id, path=None):
        return {f.path for f in client.list_artifacts(run_id, path)}

    assert "config/config.yaml" in names(run.run_id, "config")
    assert names(stages["features"].info.run_id, "features") == {
        "features/summary.parquet", "features/summary.csv"}
    assert "figures/plot.png" in names(stages["evaluate"].info.run_id, "figures")
    frame = pd.read_parquet(mlflow.artifacts.download_artifacts(
        run_id=stages["features"].info.run_id, artifact_path="features/summary.parquet",
        tracking_uri=store, dst_path=str(tmp_path / "dl")))
    assert frame["a"].tolist() == [1.0, 2.0]
    # artifacts live next to the store, not in the working directory
    assert parent.info.artifact_uri.startswith((tmp_path / "mlartifacts").as_uri())


def test_failed_run_is_failed_and_champion_untouched(store, scorer):
    name = "segml-customer"
    with pipeline_run(store, "first") as run:
        with run.stage("register"):
            info = log_segml_model(scorer, registered_model_name=name)
        run.on_success(lambda: promote(name, info.registered_model_version, store))
    assert str(get_alias_version(name, CHAMPION, store).version) == str(info.registered_model_version)

    with pytest.raises(ZeroDivisionError):
        with pipeline_run(store, "second") as failed:
            with failed.stage("register"):
                bad = log_segml_model(scorer, registered_model_name=name)
            failed.on_success(lambda: promote(name, bad.registered_model_version, store))
            with failed.stage("explain"):
                1 / 0  # noqa: B018
    client = MlflowClient(store)
    assert client.get_run(failed.run_id).info.status == "FAILED"
    stages = {r.data.tags["segml.stage"]: r.info.status for r in _children(client, failed.run_id)}
    assert stages == {"register": "FINISHED", "explain": "FAILED"}
    assert str(get_alias_version(name, CHAMPION, store).version) == str(info.registered_model_version)
    with pytest.raises(RegistryError, match="FAILED"):
        promote(name, bad.registered_model_version, store)
    assert str(get_alias_version(name, CHAMPION, store).version) == str(info.registered_model_version)
    assert mlflow.active_run() is None


def test_no_pii_in_any_logged_param_tag_or_artifact(store, tmp_path):
    raw = raw_customers(300, seed=3)
    assert raw["email"].str.endswith(PII_DOMAIN).all()
    leaky = FakeScorer(pii_free(raw), example_transform=leak_pii)
    assert "email" in leaky.example_input().columns  # the scorer itself would leak
    cfg = synthetic_config(tracking={"tracking_uri": store})
    assert "email" in cfg.data.customers.pii
    with pipeline_run(cfg, "pii") as run:
        log_config(cfg)
        with run.stage("register"):
            info = log_segml_model(leaky, registered_model_name="pii-model")
    client = MlflowClient(store)
    for r in [client.get_run(run.run_id), *_children(client, run.run_id)]:
        text = repr(r.data.params) + repr(r.data.tags)
        assert "email" not in text.lower() and PII_DOMAIN not in text
    # every byte written: the store itself and every artifact (model, example, pickles)
    files = [p for p in Path(tmp_path).rglob("*") if p.is_file()]
    assert any(p.name == "input_example.json" for p in files)
    assert any(p.name == "scorer.pkl" for p in files)
    for path in files:
        data = path.read_bytes().lower()
        assert b"email" not in data, path
        assert PII_DOMAIN.encode() not in data, path
    assert info.saved_input_example_info is not None


def test_find_finished_run_and_log_artifacts(store, tmp_path):
    folder = tmp_path / "report"
    (folder / "plots").mkdir(parents=True)
    (folder / "report.html").write_text("<html></html>")
    (folder / "plots" / "a.png").write_bytes(b"png")
    cfg = SegmlConfig(tracking={"tracking_uri": store, "experiment_name": "exp-find"})
    assert find_finished_run(cfg.tracking, {"segml.retrain_key": "k1"}) is None
    with pytest.raises(RuntimeError):
        with pipeline_run(cfg.tracking, "failing", tags={"segml.retrain_key": "k1"}):
            raise RuntimeError("boom")
    assert find_finished_run(cfg.tracking, {"segml.retrain_key": "k1"}) is None
    with pipeline_run(cfg.tracking, "ok", tags={"segml.retrain_key": "k1"}) as run:
        log_artifacts(folder)
    found = find_finished_run(cfg.tracking, {"segml.retrain_key": "k1"})
    assert found["run_id"] == run.run_id and found["tags"]["segml.retrain_key"] == "k1"
    assert find_finished_run(cfg.tracking, {"segml.retrain_key": "k2"}) is None
    paths = {f.path for f in MlflowClient(store).list_artifacts(run.run_id, "plots")}
    assert paths == {"plots/a.png"}
