"""A model whose input differs from the champion's is refused under the champion's name (issue
20): one line naming the columns and ``tracking.registered_model_name``, exit 1, nothing
registered, the run FAILED, the champion untouched."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from segml.errors import SegmlError
from segml.tracking import publish, registry

from .helpers import NAME, assert_handled, invoke


@pytest.fixture
def env(trained, tmp_path):
    return {"MLFLOW_TRACKING_URI": trained["uri"], "SEGML_LOCK_DIR": str(tmp_path / "locks")}


def _state(uri: str) -> tuple[str, int, int]:
    client = MlflowClient(uri, registry_uri=uri)
    versions = len(client.search_model_versions(f"name = '{NAME}'"))
    failed = len(client.search_runs([client.get_experiment_by_name("segml").experiment_id],
                                    "attributes.status = 'FAILED'"))
    return str(registry.get_alias_version(NAME, "champion", uri).version), versions, failed


def _changed(frames: dict[str, pd.DataFrame], change: str) -> dict[str, pd.DataFrame]:
    customers = frames["customers"].copy()
    if change == "dropped-attribute":  # an optional attribute column the export lost
        return {"customers": customers.drop(columns=["device"])}
    if change == "numeric-as-text":  # nps_score: a number for the champion, a label here
        customers["nps_score"] = "score " + customers["nps_score"].astype("Int64").astype(str)
        return {"customers": customers}
    raise ValueError(change)


@pytest.mark.parametrize(("command", "change", "named"), [
    pytest.param("train", "dropped-attribute", "missing column(s) device",
                 id="f6-train-missing-column"),
    pytest.param("train", "numeric-as-text", "changed type(s) nps_score (double -> string)",
                 id="f6-train-changed-type"),
    pytest.param("retrain", "dropped-attribute", "missing column(s) device",
                 id="f6-retrain-missing-column"),
])
def test_a_model_with_other_input_columns_is_refused(env, trained, frames, copy_of, command,
                                                     change, named):
    before = _state(trained["uri"])
    data = copy_of(**_changed(frames, change))
    if change == "dropped-attribute":  # the folder's config no longer declares it either
        declared = (data / "segml.yaml").read_text()
        (data / "segml.yaml").write_text(declared.replace("- device\n", ""))
        assert "device" not in (data / "segml.yaml").read_text()
    args = [command, "--data", data, "--quiet"] + (["--force"] if command == "retrain" else [])
    output = assert_handled(invoke(*args, env=env), 1, "tracking.registered_model_name")
    line = next(x for x in output.splitlines() if x.startswith("error:"))
    assert named in line and f"version {before[0]} of '{NAME}'" in line
    champion, versions, failed = _state(trained["uri"])
    assert (champion, versions) == before[:2]  # nothing registered, the champion untouched
    assert failed == before[2] + 1  # the run says it failed


def test_missing_columns_are_named_and_counted(trained):
    found = publish.champion_schema(NAME, trained["uri"])
    assert found is not None
    _, columns = found
    events = [c for c, _ in columns if c.startswith("events_")]
    assert len(events) > 8
    kinds = {"string": "string", "double": "double", "long": "long"}
    without = [(c, kinds[t]) for c, t in columns if not c.startswith("events_")]
    with pytest.raises(SegmlError) as error:
        publish.check_input_schema(NAME, without, trained["uri"])
    message = str(error.value)
    assert f"missing column(s) {', '.join(events[:8])} and {len(events) - 8} more" in message
    assert "tracking.registered_model_name" in message


def test_the_same_columns_in_another_order_or_another_name_pass(trained):
    _, columns = publish.champion_schema(NAME, trained["uri"])
    publish.check_input_schema(NAME, list(reversed(columns)), trained["uri"])  # no error
    publish.check_input_schema("another-model", [("customer_id", "string")], trained["uri"])


def test_a_customer_id_that_turned_numeric_is_a_changed_type(trained):
    _, columns = publish.champion_schema(NAME, trained["uri"])
    as_numbers = [("customer_id", "long"), *columns[1:]]
    with pytest.raises(SegmlError, match=r"changed type\(s\) customer_id \(string -> long\)"):
        publish.check_input_schema(NAME, as_numbers, trained["uri"])


def test_a_new_column_is_named(trained):
    _, columns = publish.champion_schema(NAME, trained["uri"])
    with pytest.raises(SegmlError, match=r"new column\(s\) loyalty_tier\. "):
        publish.check_input_schema(NAME, [*columns, ("loyalty_tier", "category")], trained["uri"])
