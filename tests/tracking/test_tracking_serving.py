"""End to end: `mlflow models serve -m models:/<name>@champion --env-manager local`."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from segml.tracking import log_segml_model, pipeline_run, promote, serve_model

OUTPUT = {"customer_id", "segment_leaf", "segment_path", "segment_name_level_1", "rfm_segment",
          "lifecycle_stage", "churn_probability", "purchase_probability", "high_clv_probability",
          "predicted_spend", "p_alive", "expected_next_purchase_date"}


def _post(url: str, payload: dict) -> tuple[int, str]:
    request = urllib.request.Request(f"{url}/invocations", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.mark.slow
def test_served_champion_scores_and_rejects_malformed_requests(store, scorer, tmp_path):
    name = "segml-served"
    with pipeline_run(store, "serve") as run:
        with run.stage("register"):
            info = log_segml_model(scorer, registered_model_name=name)
        run.on_success(lambda: promote(name, info.registered_model_version, store))
    rows = scorer.sample_.head(2)
    split = json.loads(rows.to_json(orient="split", index=False))
    with serve_model(f"models:/{name}@champion", store, log_path=str(tmp_path / "serve.log"),
                     timeout=240) as url:
        status, body = _post(url, {"dataframe_split": split})
        assert status == 200, body
        predictions = json.loads(body)["predictions"]
        assert len(predictions) == 2 and OUTPUT <= set(predictions[0])
        assert predictions[0]["customer_id"] == rows["customer_id"].iloc[0]

        status, body = _post(url, {"dataframe_split": split, "params": {"reasons": True}})
        assert status == 200, body
        assert json.loads(json.loads(body)["predictions"][0]["churn_reasons"])[0][0] == "recency_days"

        missing = {"columns": [c for c in split["columns"] if c != "frequency"],
                   "data": [[v for c, v in zip(split["columns"], r, strict=True) if c != "frequency"]
                            for r in split["data"]]}
        status, body = _post(url, {"dataframe_split": missing})
        assert 400 <= status < 500 and "frequency" in body
        # the answer names the column but never echoes the request (MLflow's default does)
        customer = str(rows["customer_id"].iloc[0])
        assert customer not in body and "Failed to predict data" not in body
        columnar = {c: [r[i] for r in missing["data"]] for i, c in enumerate(missing["columns"])}
        status, body = _post(url, {"inputs": columnar})
        assert 400 <= status < 500 and "frequency" in body and customer not in body

        at = split["columns"].index("monetary_sum")
        wrong = {**split, "data": [[*r[:at], "lots", *r[at + 1:]] for r in split["data"]]}
        status, body = _post(url, {"dataframe_split": wrong})
        assert 400 <= status < 500 and "monetary_sum" in body and "lots" not in body

        # the columnar format answers the same as dataframe_split
        columnar = {c: [r[i] for r in split["data"]] for i, c in enumerate(split["columns"])}
        status, body = _post(url, {"inputs": columnar})
        assert status == 200 and json.loads(body)["predictions"] == predictions

        status, body = _post(url, {"dataframe_split": {**split, "data": []}})
        assert 400 <= status < 500 and "no rows" in body
