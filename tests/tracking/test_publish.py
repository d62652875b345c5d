"""Publishing a model (issue 20): dataset inputs, the register stage in the parent run, and a
registered version whose source run holds its metrics, with its description and tags."""

from __future__ import annotations

import json

import mlflow
from mlflow.tracking import MlflowClient

from segml.tracking import log_segml_model, pipeline_run, publish
from segml.workflow.lineage import WindowData


def _window(name: str, source: str | None, rows: int | None = 120) -> WindowData:
    return WindowData(name, "churn", "evaluation", ["2025-10-01"], 90, rows, "d1g3st", [
        ("customer_id", "string"), ("recency_days", "double"), ("churn", "double")], source)


def test_windows_become_dataset_inputs_with_source_digest_schema_and_rows(store, tmp_path):
    with pipeline_run(store, "inputs") as run:
        publish.log_datasets([_window("churn-evaluation", str(tmp_path)),
                              _window("churn-train", None, rows=None)], run.run_id, store)
    inputs = {i.dataset.name: i for i in MlflowClient(store).get_run(run.run_id).inputs.dataset_inputs}
    local, memory = inputs["churn-evaluation"], inputs["churn-train"]
    assert (local.dataset.digest, local.dataset.source_type) == ("d1g3st", "local")
    assert json.loads(local.dataset.source) == {"uri": str(tmp_path)}
    assert [c["name"] for c in json.loads(local.dataset.schema)["mlflow_colspec"]] == [
        "customer_id", "recency_days", "churn"]
    assert json.loads(local.dataset.profile) == {"num_rows": 120, "num_elements": 360}
    tags = {t.key: t.value for t in local.tags}
    assert tags["mlflow.data.context"] == "evaluation" and tags["segml.rows"] == "120"
    assert tags["segml.cutoffs"] == "2025-10-01" and tags["segml.label_horizon_days"] == "90"
    assert memory.dataset.source_type == "code" and "Python API" in memory.dataset.source
    assert "segml.rows" not in {t.key for t in memory.tags}


def test_the_register_stage_works_in_the_parent_run_and_the_version_points_at_it(store, scorer):
    with pipeline_run(store, "publish") as run:
        run.log_metrics({"churn_roc_auc": 0.81})
        with run.stage("register", nested=False) as stage_run:
            assert stage_run == run.run_id == mlflow.active_run().info.run_id
            info = log_segml_model(scorer)
            version = publish.register_logged_model(
                info, "segml-published", run_id=run.run_id, description="**described**",
                tags={"fit_cutoff_churn": "2025-10-01"}, tracking_uri=store)
        publish.set_model_description("segml-published", "the model", store)
    client = MlflowClient(store, registry_uri=store)
    mv = client.get_model_version("segml-published", version)
    assert mv.run_id == run.run_id and mv.source == info.model_uri
    assert mv.description == "**described**" and mv.tags["fit_cutoff_churn"] == "2025-10-01"
    assert client.get_registered_model("segml-published").description == "the model"
    parent = client.get_run(run.run_id)
    assert "stage_register_seconds" in parent.data.metrics
    children = client.search_runs([parent.info.experiment_id],
                                  f"tags.mlflow.parentRunId = '{run.run_id}'")
    assert children == []  # no nested run for the register stage
    logged = client.get_logged_model(info.model_id)
    assert logged.source_run_id == run.run_id
    assert {m.key: m.value for m in logged.metrics}["churn_roc_auc"] == 0.81


def test_a_second_version_of_an_existing_model_registers_too(store, scorer):
    versions = []
    for _ in range(2):
        with pipeline_run(store, "again") as run:
            info = log_segml_model(scorer)
            versions.append(publish.register_logged_model(
                info, "segml-twice", run_id=run.run_id, description="", tracking_uri=store))
    assert versions == ["1", "2"]


def test_the_schema_guard_reads_the_champions_signature(store, scorer):
    import pytest

    from segml.errors import SegmlError
    from segml.tracking import promote

    with pipeline_run(store, "champion") as run:
        info = log_segml_model(scorer)
        version = publish.register_logged_model(info, "segml-guarded", run_id=run.run_id,
                                                description="", tracking_uri=store)
        run.on_success(lambda: promote("segml-guarded", version, store))
    schema = list(scorer.input_schema)  # a category column is a string in the signature
    assert ("country", "category") in schema
    publish.check_input_schema("segml-guarded", schema, store)
    changed = [(c, "double" if c == "orders_365d" else k) for c, k in schema]
    with pytest.raises(SegmlError, match=r"changed type\(s\) orders_365d \(long -> double\)"):
        publish.check_input_schema("segml-guarded", changed, store)
