"""`segml demo` run twice (issue 32): the second run's hints are right (what alias it got, which
version @champion serves, a serve command for the version just trained), each run keeps its own
report, demo runs are in their own experiment with descriptive names, and --json says the same.

Marked slow: two trainings on 500 generated customers in a tmp tracking store.
"""

from __future__ import annotations

import json

import mlflow
import pytest
from typer.testing import CliRunner

from segml.cli.main import app

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def twice(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.chdir(root)
    args = ["demo", "--customers", "500", "--seed", "3", "--workdir", str(root / "demo")]
    first = runner.invoke(app, args)
    second = runner.invoke(app, [*args, "--json"])
    yield root, first, second
    mp.undo()


def test_the_first_demo_serves_its_champion(twice):
    root, first, _ = twice
    assert first.exit_code == 0, first.output
    out = first.stdout
    assert "registered models:/segml-demo/1 as @champion" in out
    assert "serve it: mlflow models serve -m models:/segml-demo@champion" in out
    assert f"report: {root / 'demo' / 'report-v1.html'}" in out
    assert "Downloading artifacts" not in first.stderr and "Validating input" not in first.stderr


def test_the_second_demo_says_champion_is_still_v1_and_keeps_both_reports(twice):
    root, _, second = twice
    assert second.exit_code == 0, second.output
    document = json.loads(second.stdout)
    assert document["command"] == "demo" and document["model_version"] == "2"
    assert document["alias"] == "challenger" and document["champion_version"] == "1"
    assert document["report"].endswith("report-v2.html")
    assert (root / "demo" / "report-v1.html").is_file()
    assert (root / "demo" / "report-v2.html").is_file()
    assert document["run_name"] == "demo 500 customers, seed 3"
    assert {row["scorer"] for row in document["comparison"]["churn"]} >= {"model"}


def test_demo_runs_have_their_own_experiment_and_names(twice):
    root, _, second = twice
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("segml-demo")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], "attributes.run_name = "
                              "'demo 500 customers, seed 3'")
    assert len(runs) == 2
    assert client.get_experiment_by_name("segml") is None  # nothing of the demo's there

