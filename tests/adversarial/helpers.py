"""What every adversarial case asserts (:func:`assert_handled`), and the strings that must never
appear in any output.

Every case is tagged with the family of issue 19 it belongs to (``f1`` ... ``f13``; ``f0`` for
bad inputs outside the numbered families) in its test id or test name, so ``pytest
--collect-only -q tests/adversarial`` counts the cases per family. Issue 31's round adds cases
to families 1-10 and two families of its own: ``f14`` user text that must never be read as rich
markup, ``f15`` tracking stores that cannot work (missing driver, no answer, full).
"""

from __future__ import annotations

from typer.testing import CliRunner

from segml.cli.main import app

SECRET = "S3cretPW"  # a password in tracking URIs: never in any output
MARKER = "Zq9Marker"  # a request value: never echoed
PII = ("@example.com", "+1-555")  # what the synthetic PII columns hold: never in any output
NAME = "segml-customer"

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None):
    """``segml ARGS`` in-process (typer's CliRunner): fast, and the exit code as a shell sees it."""
    return runner.invoke(app, [str(a) for a in args], env=env)


def assert_handled(result, code: int, culprit: str | None = None, *forbidden: str,
                   errors: int | None = 1) -> str:
    """The rule of the suite: the documented exit code, no traceback, ``errors`` error lines
    (one, by default) naming ``culprit``, and none of ``forbidden`` (nor PII) anywhere."""
    output = result.output
    assert result.exit_code == code, output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert "Traceback" not in output and 'File "' not in output, output
    if code == 1 and errors is not None:
        lines = [line for line in output.splitlines() if line.startswith("error:")]
        assert len(lines) == errors, output
        if culprit is not None:
            assert any(culprit in line for line in lines), output
    elif culprit is not None:
        assert culprit in output, output
    for text in (*forbidden, *PII):
        assert text not in output, f"{text!r} leaked: {output}"
    return output


def small_training(tmp_path, monkeypatch, data):
    """``data`` (synthetic tables) written to ``tmp_path / "data"`` and a fast config reading
    them (30 rounds, the lgbm candidate), with this test's own MLflow store, retrain locks and
    working folder."""
    from segml.data.synthetic.datasets import synthetic_config

    data.write(tmp_path / "data")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("SEGML_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.chdir(tmp_path)
    config = synthetic_config()
    config.data.dir = str(tmp_path / "data")
    config.models.n_estimators = 30
    config.models.candidates = ["lgbm"]
    return config
