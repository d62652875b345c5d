"""Credentials in tracking URIs (family 3, round 2, issue 31): never on stdout or stderr, whatever
prints them (segml's errors, a library's log record, MLflow's own ``View run ... at: URL`` line
written straight to stdout), with ``--quiet`` too, and whatever the password holds (``/``,
``'``, ``@``, ``:``, ``#``). A fake MLflow REST server on loopback answers the two calls behind
MLflow's URL line, so the real MLflow code path prints through the real CLI guard."""

from __future__ import annotations

import json
import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import typer
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from segml.cli.guard import handles_user_errors
from segml.errors import redact

from .helpers import assert_handled, invoke

#: Passwords a user may type unencoded; each must vanish whole from every output.
PASSWORDS = [
    pytest.param("S3cr/etK10", id="f3-password-with-slash"),
    pytest.param("S3cr'etK11", id="f3-password-with-quote"),
    pytest.param("S3cr@etK12", id="f3-password-with-at"),
    pytest.param("S3cr:etK13", id="f3-password-with-colon"),
    pytest.param("S3cr#etK14", id="f3-password-with-hash"),
    pytest.param('S3cr"etK15', id="f3-password-with-double-quote"),
    pytest.param("S3cr?e=tK16", id="f3-password-with-query"),
    pytest.param("S3cr%2FetK17", id="f3-password-percent-encoded"),
]


def _fragments(password: str) -> list[str]:
    """The password and the pieces a URI parser would cut it into: none may leak."""
    pieces = [password]
    for sep in "/'@:#\"?=":
        pieces += [p for p in password.split(sep) if len(p) >= 4]
    return [p for p in pieces if p != "S3cr"] + (["S3cr"] if password.startswith("S3cr") else [])


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("template", [
    "cannot reach http://alice:{pw}@127.0.0.1:9/api (refused)",
    "uri='https://alice:{pw}@mlflow.example.org/mlflow'",
    "postgresql+psycopg://ml:{pw}@db:5432/mlflow?connect_timeout=3",
    "🏃 View run load at: http://alice:{pw}@127.0.0.1:5000/#/experiments/1/runs/abc",
])
def test_redact_masks_the_whole_password(password, template):
    text = redact(template.format(pw=password))
    for piece in _fragments(password):
        assert piece not in text, text
    assert ":***@" in text


@pytest.mark.parametrize("text", [
    pytest.param("models:/segml-customer@champion", id="f3-model-alias-untouched"),
    pytest.param("write to bob@example.org failed", id="f3-mail-address-untouched"),
    pytest.param("http://127.0.0.1:5000/#/experiments/1", id="f3-plain-url-untouched"),
])
def test_redact_leaves_text_without_credentials(text):
    assert redact(text) == text


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("via", ["config", "env"])
def test_unreachable_server_with_an_awkward_password(source, tmp_path, password, via):
    uri = f"http://alice:{password}@127.0.0.1:9"
    env = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    args = ["train", "--data", str(source), "--quiet"]
    if via == "config":
        config = tmp_path / "c.yaml"
        config.write_text(f"tracking:\n  tracking_uri: {json.dumps(uri)}\n")
        args += ["--config", str(config)]
    else:
        env["MLFLOW_TRACKING_URI"] = uri
    output = assert_handled(invoke(*args, env=env), 1, None, *_fragments(password))
    assert "tracking" in output


# ------------------------------------------------------------ MLflow's own printing, for real
RUN_ID = "0123456789abcdef0123456789abcdef"


class _FakeMlflow(BaseHTTPRequestHandler):
    """Just enough of MLflow's REST API for ``set_terminated``: runs/get and runs/update."""

    def _reply(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - the http.server API
        info = {"run_id": RUN_ID, "run_uuid": RUN_ID, "experiment_id": "1", "run_name": "load",
                "status": "RUNNING", "start_time": 1, "lifecycle_stage": "active"}
        self._reply({"run": {"info": info, "data": {}}})

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._reply({"run_info": {"run_id": RUN_ID, "status": "FINISHED"}})

    def log_message(self, *args):  # no request lines on the test's stderr
        pass


@pytest.fixture(scope="module")
def fake_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeMlflow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def _command_app(body):
    app = typer.Typer()

    @app.command()
    @handles_user_errors
    def run(quiet: bool = False) -> None:
        body()

    @app.command()
    def other() -> None:  # two commands: typer keeps the command name
        pass

    return app


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("suppressed", [pytest.param("true", id="default"),
                                        pytest.param("false", id="printing-forced-on")])
def test_mlflow_view_run_line_never_shows_the_password(fake_server, password, suppressed,
                                                       monkeypatch):
    """MLflow writes ``View run NAME at: URL`` to stdout when a run ends on an HTTP store: under
    the CLI guard it is suppressed, and if forced on, redacted."""
    monkeypatch.setenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", suppressed)
    uri = f"http://alice:{password}@127.0.0.1:{fake_server}"

    def body():
        MlflowClient(tracking_uri=uri).set_terminated(RUN_ID)

    result = CliRunner().invoke(_command_app(body), ["run", "--quiet"])
    # a password no URL parser can take ('/', '#', '?') fails the call: one line, still masked
    output = assert_handled(result, result.exit_code, None, *_fragments(password))
    assert result.exit_code in (0, 1)
    if suppressed == "false" and result.exit_code == 0:  # the line was printed, and masked
        assert f"alice:***@127.0.0.1:{fake_server}" in output, output


@pytest.mark.parametrize("how", [
    pytest.param("print", id="f3-library-print-redacted"),
    pytest.param("stderr", id="f3-library-stderr-write-redacted"),
    pytest.param("log", id="f3-library-log-record-redacted"),
    pytest.param("log-args", id="f3-library-log-args-redacted"),
    pytest.param("error", id="f3-library-exception-redacted"),
])
def test_anything_a_library_prints_is_redacted(how):
    uri = "http://alice:S3cr/et@K99@mlflow.internal:5000"

    def body():
        if how == "print":
            print(f"connecting to {uri}")
        elif how == "stderr":
            sys.stderr.write(f"retrying {uri}\n")
        elif how == "log":
            logging.getLogger("mlflow.store").error(f"failed: {uri}")
        elif how == "log-args":
            logging.getLogger("urllib3").error("failed: %s", uri)
        else:
            raise RuntimeError(f"store {uri} broke")

    result = CliRunner().invoke(_command_app(body), ["run"])
    output = result.output
    assert "S3cr" not in output and "K99" not in output and "et@" not in output, output
    assert "Traceback" not in output


def test_f3_config_logged_to_mlflow_has_no_password(trained, tmp_path):
    """The config's tracking URI is masked in the run's params and config artifact, whatever
    the password holds."""
    from segml.config import load_config
    from segml.tracking import runs
    from segml.tracking.store import using_tracking_uri

    config = tmp_path / "c.yaml"
    config.write_text("tracking:\n  tracking_uri: \"http://alice:S3cr/e'@tK@127.0.0.1:9\"\n")
    cfg = load_config(config)
    client = MlflowClient(trained["uri"])
    with using_tracking_uri(trained["uri"]):
        experiment = client.get_experiment_by_name("segml").experiment_id
        run = client.create_run(experiment)
        runs.log_config(cfg, run.info.run_id)
        client.set_terminated(run.info.run_id)
    params = json.dumps(client.get_run(run.info.run_id).data.params)
    artifact = client.download_artifacts(run.info.run_id, "config/config.yaml", str(tmp_path))
    text = open(artifact).read()
    for piece in ("S3cr", "tK@", "/e'"):
        assert piece not in params and piece not in text, (params, text)
    assert "alice:***@127.0.0.1:9" in text
