"""End to end on generated data: train -> champion -> score -> retrain, in a tmp tracking store.

One training is shared by the module (it is the expensive part); the retrain tests run after it in
file order. Marked slow: ``make test`` runs them, ``make test-fast`` does not.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from segml.cli.main import app
from segml.data.public import keep_last_days
from segml.data.synthetic.datasets import make_customers, synthetic_config
from segml.targets import target as target_of
from segml.tracking import registry
from segml.workflow.train import train

pytestmark = pytest.mark.slow
runner = CliRunner()
NAME = "segml-customer"
SPEC_COLUMNS = [
    "customer_id", "segment_leaf", "segment_path", "segment_level_1", "segment_name_level_1",
    "segment_is_noise", "rfm_segment", "lifecycle_stage", "churn_probability",
    "purchase_probability", "high_clv_probability", "predicted_spend", "p_alive",
    "expected_next_purchase_date",
]  # fmt: skip


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    data = make_customers(2500, seed=21)
    data.write(root / "data")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", uri)
    mp.setenv("SEGML_LOCK_DIR", str(root / "locks"))
    mp.chdir(root)  # the default ./mlartifacts lands in the tmp folder too
    config = synthetic_config()
    config.data.dir = str(root / "data")
    result = train(config)
    yield {"root": root, "data": data, "uri": uri, "config": config, "result": result}
    mp.undo()


def test_train_registers_a_champion_with_signature_metrics_and_artifacts(workspace):
    result = workspace["result"]
    uri = workspace["uri"]
    champion = registry.get_alias_version(NAME, "champion", uri)
    assert champion is not None and str(champion.version) == result.model_version
    info = mlflow.models.get_model_info(f"models:/{NAME}@champion")
    assert info.signature is not None
    assert "customer_id" in info.signature.inputs.input_names()
    run = mlflow.MlflowClient(uri).get_run(result.run_id)
    assert run.info.status == "FINISHED"
    for key in ("churn_roc_auc", "purchase_pr_auc", "high_clv_lift_at_10", "spend_spearman",
                "baseline_logreg_churn_roc_auc", "baseline_bgnbd_purchase_roc_auc"):
        assert key in run.data.metrics, key
    artifacts = {a.path for a in mlflow.MlflowClient(uri).list_artifacts(result.run_id)}
    assert {"report.html", "segments", "evaluation", "plots", "explain"} <= artifacts


def test_the_champion_tells_mlflows_own_client_where_it_came_from(workspace):
    """Issue 20: source run, description, dataset inputs, tags and the logged model's metrics."""
    result, uri = workspace["result"], workspace["uri"]
    client = mlflow.MlflowClient(uri)
    version = client.get_model_version_by_alias(NAME, "champion")
    assert version.run_id == result.run_id  # the pipeline run, not a nested stage run
    run = client.get_run(version.run_id)
    assert "mlflow.parentRunId" not in run.data.tags and "churn_roc_auc" in run.data.metrics
    targets = ("churn", "purchase", "high_clv", "spend")
    churn = result.comparison["churn"]
    best = churn.drop(index="model")["roc_auc"].max()
    assert f"| churn | roc_auc | {churn.loc['model', 'roc_auc']:.3f} | {best:.3f} (" in (
        version.description)
    for target in targets:
        assert f"| {target} |" in version.description
        assert f"refit up to {result.fit_cutoffs[target]}" in version.description
    registered = client.get_registered_model(NAME).description
    assert "champion" in registered and f"Latest version: {version.version}." in registered
    tags = version.tags
    end = workspace["data"].transactions["timestamp"].max().date().isoformat()
    assert tags["segml.data_end"] == end and tags["segml.data_start"] < end
    assert len(tags["segml.config_hash"]) == 16 and tags["segml.version"]
    inputs = {i.dataset.name: i for i in run.inputs.dataset_inputs}
    assert set(inputs) == {f"{t}-{w}" for t in targets for w in ("train", "evaluation", "refit")}
    evaluation = inputs["churn-evaluation"]
    input_tags = {t.key: t.value for t in evaluation.tags}
    assert input_tags["mlflow.data.context"] == "evaluation"
    assert int(input_tags["segml.rows"]) == churn.loc["model", "rows"]
    assert json.loads(evaluation.dataset.profile)["num_rows"] == churn.loc["model", "rows"]
    assert json.loads(evaluation.dataset.source) == {"uri": str(workspace["root"] / "data")}
    schema = [c["name"] for c in json.loads(evaluation.dataset.schema)["mlflow_colspec"]]
    assert schema[0] == "customer_id" and schema[-1] == "churn" and "recency_days" in schema
    assert not {"name", "email", "phone"} & set(schema)
    assert len({i.dataset.digest for i in inputs.values()}) == len(inputs)
    logged = client.get_logged_model(version.source.removeprefix("models:/"))
    on_model = {m.key: m.value for m in logged.metrics}
    assert on_model["churn_roc_auc"] == run.data.metrics["churn_roc_auc"]
    assert logged.source_run_id == result.run_id


def test_explanations_are_shap_objects_of_the_scored_customers(workspace):
    import shap

    import segml

    result = workspace["result"]
    scorer = result.scorer
    X = result.datasets.current_X
    scored = scorer.score(X).set_index("customer_id")["churn_probability"]
    exp = segml.explain(result, target="churn")
    assert len(exp.values) == scored.notna().sum() < len(X)  # the customers churn applies to
    predictor = scorer.predictors["churn"]
    assert exp.feature_names == predictor.feature_names_
    rows = scorer.prepare(X.loc[scored.notna()])
    np.testing.assert_allclose(exp.values.sum(axis=1) + exp.base_values,
                               predictor.predict_margin(rows), atol=1e-8)
    assert len(segml.explain(result, target="churn", max_rows=100).values) == 100
    shap.plots.waterfall(exp[0], show=False)


def test_every_model_beats_every_baseline_on_the_same_rows(workspace):
    for target, table in workspace["result"].comparison.items():
        metric = "spearman" if target == "spend" else "roc_auc"
        baselines = table.drop(index="model")[metric].dropna()
        assert len(baselines) >= 1
        assert (table.loc["model", metric] > baselines).all(), (target, table[metric].to_dict())
        assert table["rows"].nunique() == 1 or table["rows"].eq(0).any()


def test_registered_predictors_are_fitted_on_the_freshest_windows_and_tagged(workspace):
    """Issue 16: each predictor's latest training cutoff is the data end minus its horizon."""
    result, uri, config = workspace["result"], workspace["uri"], workspace["config"]
    end = workspace["data"].transactions["timestamp"].max().normalize()
    tags = mlflow.MlflowClient(uri).get_model_version(NAME, result.model_version).tags
    for target in ("churn", "purchase", "high_clv", "spend"):
        horizon = target_of(target).horizon(config.time)
        expected = (end - pd.Timedelta(days=horizon)).date().isoformat()
        assert tags[f"fit_cutoff_{target}"] == expected == result.fit_cutoffs[target]
    # issue 17: every candidate's held-out score is logged, the winner tagged
    metrics = mlflow.MlflowClient(uri).get_run(result.run_id).data.metrics
    for target in ("churn", "purchase", "high_clv"):
        assert tags[f"winner_{target}"] in {"lgbm", "lgbm_shallow", "logreg", "blend"}
        assert {f"candidate_{c}_{target}_roc_auc" for c in ("lgbm", "logreg", "blend")} <= set(metrics)
    assert "candidate_lgbm_spend_spearman" in metrics
    scorer = result.scorer
    # the evaluated predictors (whose metrics are reported) are kept beside the fresh ones
    assert set(scorer.evaluated) == set(scorer.predictors)
    assert scorer.evaluated["churn"] is not scorer.predictors["churn"]
    assert not result.skipped


def test_champion_loads_in_process_and_scores_its_input_example(workspace):
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    scorer = workspace["result"].scorer
    example = scorer.example_input(2)
    out = model.predict(example)
    assert {"churn_probability", "segment_path", "rfm_segment"} <= set(out.columns)
    assert out["churn_probability"].between(0, 1).all()


def test_batch_scoring_with_the_cli_matches_ground_truth(workspace):
    root = workspace["root"]
    out = root / "scores.parquet"
    result = runner.invoke(app, ["score", "--model", f"models:/{NAME}@champion",
                                 "--data", str(root / "data"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out)
    truth = workspace["data"].ground_truth
    assert len(scores) == len(truth)
    assert set(SPEC_COLUMNS) <= set(scores.columns)
    assert scores["customer_id"].str.len().eq(truth["customer_id"].str.len().iloc[0]).all()
    merged = scores.merge(truth, on="customer_id")
    assert adjusted_rand_score(merged["true_leaf"], merged["segment_leaf"]) >= 0.8
    assert adjusted_rand_score(merged["true_macro"], merged["segment_level_1"]) >= 0.8
    # churn applies to active customers only: a lapsed customer has no churn probability
    lapsed = scores["lifecycle_stage"] == "lapsed"
    assert lapsed.sum() > 100
    assert scores.loc[lapsed, "churn_probability"].isna().all()
    assert scores.loc[scores["lifecycle_stage"].isin(["active", "loyal"]), "churn_probability"].notna().all()
    assert scores["purchase_probability"].notna().all()


def test_new_customers_of_the_same_segments_are_recognised(workspace, tmp_path):
    """Issue 6 acceptance, smaller: customers drawn with another seed, scored by the champion."""
    data = make_customers(3000, seed=11)
    data.write(tmp_path / "new")
    out = tmp_path / "new_scores.parquet"
    result = runner.invoke(app, ["score", "--model", f"models:/{NAME}@champion",
                                 "--data", str(tmp_path / "new"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    merged = pd.read_parquet(out).merge(data.ground_truth, on="customer_id")
    assert len(merged) == 3000
    assert adjusted_rand_score(merged["true_leaf"], merged["segment_leaf"]) >= 0.8
    assert adjusted_rand_score(merged["true_macro"], merged["segment_level_1"]) >= 0.8


def test_scoring_with_reasons_gives_three_signed_reasons(workspace):
    from segml.workflow.train import score

    scores = score(f"models:/{NAME}@champion", config=workspace["config"], reasons=True)
    reasons = json.loads(scores["churn_reasons"].iloc[0])
    assert len(reasons) == 3
    assert {"feature", "contribution"} <= set(reasons[0])


def test_no_pii_in_the_tracking_store_or_artifacts(workspace):
    root = workspace["root"]
    customers = workspace["data"].customers
    blobs = []
    for path in root.rglob("*"):
        if path.is_file() and "data" not in path.relative_to(root).parts[:1]:
            blobs.append(path.read_bytes())
    haystack = b"\n".join(blobs)
    assert len(haystack) > 10_000
    for column in ("email", "phone", "name"):
        values = customers[column].dropna().astype(str).unique()
        leaked = [v for v in values[:500] if len(v) > 5 and v.encode() in haystack]
        assert not leaked, (column, leaked[:3])


def test_retrain_dry_run_and_bad_data_leave_the_champion(workspace):
    root, uri = workspace["root"], workspace["uri"]
    before = registry.get_alias_version(NAME, "champion", uri).version
    result = runner.invoke(app, ["retrain", "--data", str(root / "data"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output
    bad = root / "bad"
    shutil.copytree(root / "data", bad)
    tx = pd.read_parquet(bad / "transactions.parquet").drop(columns="amount")
    tx.to_parquet(bad / "transactions.parquet")
    result = runner.invoke(app, ["retrain", "--data", str(bad)])
    assert result.exit_code == 1
    assert "amount" in result.output and "Traceback" not in result.output
    assert registry.get_alias_version(NAME, "champion", uri).version == before


def test_retrain_on_same_data_keeps_segment_ids_and_is_idempotent(workspace):
    root, uri = workspace["root"], workspace["uri"]
    before = registry.get_alias_version(NAME, "champion", uri).version
    result = runner.invoke(app, ["retrain", "--data", str(root / "data")])
    assert result.exit_code in (0, 3), result.output
    assert "segment_stability" in result.output
    versions = mlflow.MlflowClient(uri).search_model_versions(f"name='{NAME}'")
    newest = max(versions, key=lambda v: int(v.version))
    assert int(newest.version) > int(before)
    promoted = "promoted to champion" in result.output
    champion = registry.get_alias_version(NAME, "champion", uri).version
    assert champion == (newest.version if promoted else before)

    def leaves(version):
        out = root / f"scores_v{version}.parquet"
        done = runner.invoke(app, ["score", "--model", f"models:/{NAME}/{version}",
                                   "--data", str(root / "data"), "--out", str(out)])
        assert done.exit_code == 0, done.output
        return pd.read_parquet(out).set_index("customer_id")["segment_leaf"]

    old, new = leaves(before), leaves(newest.version)
    assert np.mean(old.loc[new.index].to_numpy() == new.to_numpy()) >= 0.99

    versions = len(mlflow.MlflowClient(uri).search_model_versions(f"name='{NAME}'"))
    again = runner.invoke(app, ["retrain", "--data", str(root / "data")])
    assert again.exit_code == 0, again.output
    assert "already ran" in again.output
    assert len(mlflow.MlflowClient(uri).search_model_versions(f"name='{NAME}'")) == versions


def _recorded(client, run_id: str) -> dict[str, set[str]]:
    """What a run recorded: artifact paths (every file), metric, param and tag names, and the
    names of its dataset inputs."""
    def files(path=None):
        for item in client.list_artifacts(run_id, path):
            yield from files(item.path) if item.is_dir else [item.path]

    run = client.get_run(run_id)
    return {"artifacts": set(files()), "metrics": set(run.data.metrics),
            "params": set(run.data.params), "tags": set(run.data.tags),
            "inputs": {d.dataset.name for d in run.inputs.dataset_inputs}}


def test_a_retrain_run_records_everything_a_train_run_does(workspace):
    """One tracked-run recipe (segml/workflow/tracked_run.py): the retrain above logged every
    artifact, metric, param, tag and dataset input of the training, plus its own comparison
    with the champion (docs/retraining.md) and nothing else."""
    client = mlflow.MlflowClient(workspace["uri"])
    retrains = client.search_runs(
        [client.get_run(workspace["result"].run_id).info.experiment_id],
        "tags.`segml.decision` != '' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"])
    retrains = [r for r in retrains if not r.data.tags["segml.decision"].startswith("dry-run")]
    assert retrains, "the retrain test above registers a challenger"
    trained = _recorded(client, workspace["result"].run_id)
    retrained = _recorded(client, retrains[0].info.run_id)
    for kind in ("artifacts", "metrics", "params", "tags", "inputs"):
        assert trained[kind] - retrained[kind] == set(), kind
    own = {
        "artifacts": {"drift.json", "gates.json", "retrain/gates.csv", "retrain/feature_psi.csv",
                      "segments/migration.csv"},
        "metrics": {"stage_compare_seconds", "drift_psi_max", "segment_share_max_change",
                    "segment_psi"},
        "tags": {"segml.retrain_key", "segml.decision", "segml.failed_gates"},
    }
    for kind in ("artifacts", "metrics", "tags"):
        extra = {n for n in retrained[kind] - trained[kind] if not n.startswith("champion_")}
        assert extra <= own[kind], (kind, extra - own[kind])
    assert retrained["params"] == trained["params"] and retrained["inputs"] == trained["inputs"]
    # the champion's metrics on the challenger's windows, one per metric of the challenger's
    champion = {n.removeprefix("champion_") for n in retrained["metrics"] if n.startswith("champion_")}
    assert {"churn_roc_auc", "purchase_pr_auc"} <= champion <= trained["metrics"]


def test_a_second_retrain_while_one_holds_the_lock_exits_4(workspace):
    from segml.monitor.lock import retrain_lock

    with retrain_lock(NAME, workspace["uri"]):
        result = runner.invoke(app, ["retrain", "--data", str(workspace["root"] / "data")])
    assert result.exit_code == 4
    assert "lock" in result.output.lower()


def test_report_command_writes_self_contained_html(workspace):
    out = workspace["root"] / "report.html"
    result = runner.invoke(app, ["report", "--run-id", workspace["result"].run_id, "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = Path(out).read_text()
    assert "churn_roc_auc" in html and "data:image/png;base64" in html
    assert "http://" not in html and "https://" not in html


def _one_year(source: Path, dest: Path) -> Path:
    tables = {t: pd.read_parquet(source / f"{t}.parquet")
              for t in ("customers", "transactions", "events")}
    dest.mkdir()
    for name, frame in keep_last_days(tables, 365).items():
        frame.to_parquet(dest / f"{name}.parquet", index=False)
    shutil.copy(source / "segml.yaml", dest / "segml.yaml")  # the synthetic columns' roles
    return dest


def test_a_challenger_lacking_a_target_the_champion_serves_is_a_gate_not_a_crash(workspace):
    """Issue 16: one year of history cannot train the 365-day targets; the gates say so."""
    root, uri = workspace["root"], workspace["uri"]
    before = registry.get_alias_version(NAME, "champion", uri).version
    short = _one_year(root / "data", root / "one_year")
    result = runner.invoke(app, ["retrain", "--data", str(short), "--force"])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert "FAIL high_clv_present" in result.output and "FAIL spend_present" in result.output
    assert "time.clv_horizon_days" in result.output
    assert "churn_roc_auc_drop" in result.output  # the targets both sides have are compared
    assert registry.get_alias_version(NAME, "champion", uri).version == before


def test_one_year_of_orders_trains_churn_and_purchase_with_the_defaults(workspace, tmp_path):
    """Issue 16 acceptance: no config, a year of history: exit 0, one warning for CLV."""
    short = _one_year(workspace["root"] / "data", tmp_path / "one_year")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = runner.invoke(app, ["train", "--data", str(short)], env={"MLFLOW_TRACKING_URI": store})
    assert result.exit_code == 0, result.output
    assert result.output.count("time.clv_horizon_days") == 1
    # issue 20: each step with its time, a whole summary at 80 columns, the report's path, and
    # none of MLflow's chatter
    for step in ("loading and validating data", "training churn", "registering the composite"):
        assert re.search(rf"✓ {step}.* \d+\.\d s", result.output), result.output
    assert "…" not in result.output and "report: " in result.output
    for chatter in ("Successfully registered", "Created version", "CloudPickle", "censored"):
        assert chatter not in result.output
    assert "high_clv and spend skipped" in result.output
    client = mlflow.MlflowClient(store)
    (version,) = client.search_model_versions(f"name='{NAME}'")
    run = client.get_run(version.run_id if not client.get_run(version.run_id).data.tags.get(
        "mlflow.parentRunId") else client.get_run(version.run_id).data.tags["mlflow.parentRunId"])
    metrics = run.data.metrics
    for target in ("churn", "purchase"):
        assert f"{target}_roc_auc" in metrics and f"baseline_logreg_{target}_roc_auc" in metrics
        assert f"fit_cutoff_{target}" in version.tags
    assert "high_clv_roc_auc" not in metrics and "fit_cutoff_high_clv" not in version.tags
    assert run.data.tags["segml.skipped_targets"] == "high_clv, spend"
