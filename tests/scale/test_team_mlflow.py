"""A PostgreSQL-backed MLflow server on loopback runs train, register, alias, retrain and load.

The integration tests (marker ``scale``, run by ``make test-scale``) start a throwaway cluster and
server on free ports and tear both down even on failure; they need PostgreSQL's server programs and
psycopg2. The bin-dir discovery tests are fast and run everywhere.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from segml.data.synthetic.datasets import synthetic_config
from segml.scale import team_mlflow as tm

NAME = "segml-customer"


# ------------------------------------------------------------------------ fast: bin-dir discovery
def _fake_bindir(root: Path, version: str) -> Path:
    folder = root / "lib" / "postgresql" / version / "bin"
    folder.mkdir(parents=True)
    for program in tm.PG_PROGRAMS:
        (folder / program).write_text("#!/bin/sh\n")
    return folder


def test_find_pg_bindir_picks_the_newest_complete_version(tmp_path, monkeypatch):
    monkeypatch.delenv("SEGML_PG_BINDIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no pg_config, no initdb on the PATH
    _fake_bindir(tmp_path, "9.6")
    newest = _fake_bindir(tmp_path, "15")
    (tmp_path / "lib" / "postgresql" / "16" / "bin").mkdir(parents=True)  # client only: skipped
    found = tm.find_pg_bindir(search=str(tmp_path / "lib" / "postgresql" / "*" / "bin"))
    assert found == newest
    monkeypatch.setenv("SEGML_PG_BINDIR", str(_fake_bindir(tmp_path / "env", "13")))
    assert tm.find_pg_bindir(search="/nonexistent/*/bin").parts[-2] == "13"


def test_find_pg_bindir_names_what_is_missing_and_how_to_install(tmp_path, monkeypatch):
    monkeypatch.delenv("SEGML_PG_BINDIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(tm.TeamMlflowError) as caught:
        tm.find_pg_bindir(search=str(tmp_path / "none" / "*" / "bin"))
    message = str(caught.value)
    assert "initdb" in message and "pg_ctl" in message
    assert "apt-get install postgresql" in message


def test_redact_hides_only_the_password():
    uri = "postgresql+psycopg2://mlflow:a-B_9@127.0.0.1:5433/mlflow"
    assert tm.redact(uri) == "postgresql+psycopg2://mlflow:***@127.0.0.1:5433/mlflow"
    assert tm.redact("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


# ------------------------------------------------------------------------ integration
def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("psycopg2")
    try:
        tm.find_pg_bindir()
    except tm.TeamMlflowError as error:
        pytest.skip(str(error))
    # pytest's tmp_path sits under a root-only folder the postgres user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="segml-pg-"))
    root.chmod(0o755)
    team = root / "team"
    try:
        state = tm.up(team, pg_port=_free_port(), port=_free_port(), timeout=240)
        yield {"root": root, "team": team, "state": state}
    finally:
        try:
            tm.down(team)
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def trained(server):
    from segml.data.contract import load_tables
    from segml.data.synthetic.datasets import make_customers
    from segml.workflow.train import train

    uri = server["state"].tracking_uri
    mp = pytest.MonkeyPatch()
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    mp.setenv("SEGML_LOCK_DIR", str(server["root"] / "locks"))
    mp.chdir(server["root"])  # anything written to the cwd lands in the throwaway folder
    # Small models: this exercises the tracking server, not model quality.
    config = synthetic_config(tracking={"tracking_uri": uri}, time={"training_cutoffs": 1},
                         models={"n_estimators": 60, "targets": ["churn", "purchase"]})
    data = make_customers(1500, seed=5)
    tables = load_tables(config, customers=data.customers, transactions=data.transactions,
                         events=data.events)  # fmt: skip
    first = train(config, tables=tables)
    second = train(config, tables=tables)
    yield {"uri": uri, "config": config, "tables": tables, "first": first, "second": second}
    mp.undo()


@pytest.mark.scale
@pytest.mark.slow
def test_up_is_idempotent_and_status_reports_running(server):
    state = server["state"]
    again = tm.up(server["team"], pg_port=state.pg_port, port=state.port)
    assert (again.server_pid, again.pg_pid) == (state.server_pid, state.pg_pid)
    assert tm.status(server["team"]) == {
        "postgres": "running", "server": "running", "tracking_uri": state.tracking_uri,
    }  # fmt: skip
    password = (server["team"] / "pg-password").read_text().strip()
    assert stat.S_IMODE(os.stat(server["team"] / "pg-password").st_mode) == 0o600
    assert password not in (server["team"] / "state.json").read_text()
    assert "***" in state.backend_store_uri
    cmdline = Path(f"/proc/{state.server_pid}/cmdline")
    if cmdline.exists():  # the password reaches the server through its environment only
        assert password.encode() not in cmdline.read_bytes()
    with pytest.raises(tm.TeamMlflowError, match="in use"):
        tm.start_server(tm.TeamPaths(server["team"]), state.pg_port, port=state.port)


@pytest.mark.scale
@pytest.mark.slow
def test_train_twice_registers_champion_then_challenger(trained):
    from segml.tracking import registry

    uri, first, second = trained["uri"], trained["first"], trained["second"]
    assert (first.alias, second.alias) == ("champion", "challenger")
    champion = registry.get_alias_version(NAME, "champion", uri)
    challenger = registry.get_alias_version(NAME, "challenger", uri)
    assert str(champion.version) == first.model_version
    assert str(challenger.version) == second.model_version
    assert int(second.model_version) == int(first.model_version) + 1


@pytest.mark.scale
@pytest.mark.slow
def test_retrain_records_its_decision(trained):
    import mlflow

    from segml.workflow.retrain import DECISION_TAG, retrain

    outcome = retrain(trained["config"], tables=trained["tables"])
    assert not outcome.reused and outcome.run_id
    assert outcome.gates and outcome.challenger_version is not None
    tags = mlflow.MlflowClient(trained["uri"]).get_run(outcome.run_id).data.tags
    assert tags[DECISION_TAG] == ("promoted" if outcome.promoted else "rejected")
    again = retrain(trained["config"], tables=trained["tables"])  # same data: idempotent
    assert again.reused and again.run_id == outcome.run_id


@pytest.mark.scale
@pytest.mark.slow
def test_registry_and_runs_live_in_postgres_and_artifacts_in_the_folder(server, trained):
    import mlflow
    import psycopg2

    state = server["state"]
    client = mlflow.MlflowClient(trained["uri"])
    versions = client.search_model_versions(f"name='{NAME}'")
    password = (server["team"] / "pg-password").read_text().strip()
    with psycopg2.connect(host="127.0.0.1", port=state.pg_port, user=tm.PG_ROLE,
                          password=password, dbname=tm.PG_DATABASE) as conn, conn.cursor() as cur:  # fmt: skip
        cur.execute("SELECT count(*) FROM model_versions WHERE name = %s", (NAME,))
        assert cur.fetchone()[0] == len(versions) >= 2
        cur.execute("SELECT alias, version FROM registered_model_aliases WHERE name = %s", (NAME,))
        aliases = dict(cur.fetchall())
        cur.execute("SELECT status FROM runs WHERE run_uuid = %s", (trained["first"].run_id,))
        assert cur.fetchone()[0] == "FINISHED"
    champion = client.get_model_version_by_alias(NAME, "champion")
    assert aliases["champion"] == int(champion.version)
    run = client.get_run(trained["first"].run_id)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # proxied: clients need no disk
    artifacts = Path(state.artifacts)
    assert list(artifacts.rglob("report.html")) and len(list(artifacts.rglob("MLmodel"))) >= 2
    assert not (server["root"] / "mlruns").exists() and not (server["root"] / "mlartifacts").exists()


SCORE_SCRIPT = """
import json, sys
import mlflow, pandas as pd
model = mlflow.pyfunc.load_model("models:/segml-customer@champion")
out = model.predict(pd.read_parquet(sys.argv[1]))
print(json.dumps({"rows": len(out), "churn": out["churn_probability"].tolist(),
                  "path": out["segment_path"].astype(str).tolist()}))
"""


@pytest.mark.scale
@pytest.mark.slow
def test_a_fresh_process_loads_the_champion_and_scores(server, trained):
    example = trained["first"].scorer.example_input(3)
    rows = server["root"] / "example.parquet"
    example.to_parquet(rows)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = trained["uri"]
    done = subprocess.run([sys.executable, "-c", SCORE_SCRIPT, str(rows)], env=env,
                          cwd=server["root"], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["rows"] == 3
    assert all(0.0 <= p <= 1.0 for p in out["churn"])
    assert all(path for path in out["path"])
