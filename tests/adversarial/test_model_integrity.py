"""Tampered registered models (family 6, round 2, issue 31): nothing in a model is unpickled or
run, no path leads out of the model folder, no size is trusted, and every damaged artifact is
refused before loading with exit 1 and one line naming it (never exit 5).

Each case copies the champion's model folder (symlinks kept), changes one thing, and scores with
``--model <folder>``; the digest cases register the copy as a version of its own."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient

from segml.scoring.state import state_digest
from segml.tracking.store import using_tracking_uri

from .helpers import NAME, assert_handled, invoke


@pytest.fixture(scope="module")
def champion_folder(trained) -> Path:
    client = MlflowClient(trained["uri"], registry_uri=trained["uri"])
    version = client.get_model_version_by_alias(NAME, "champion")
    logged = client.get_logged_model(version.source.removeprefix("models:/"))
    return Path(logged.artifact_location.removeprefix("file://"))


@pytest.fixture
def model(champion_folder, tmp_path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(champion_folder, target, symlinks=True)
    return target


def _state(model: Path) -> Path:
    return model / "artifacts" / "state"


def _body(model: Path) -> dict:
    return json.loads((_state(model) / "state.json").read_text())


def _write_body(model: Path, body) -> None:
    (_state(model) / "state.json").write_text(body if isinstance(body, str) else json.dumps(body))


def _mlmodel(model: Path) -> dict:
    return yaml.safe_load((model / "MLmodel").read_text())


def _write_mlmodel(model: Path, spec: dict, keep_digest: bool = False) -> None:
    if not keep_digest:  # the attacker also rewrites the digest: the other checks must hold
        spec.setdefault("metadata", {})["segml_state_sha256"] = state_digest(_state(model))
    (model / "MLmodel").write_text(yaml.safe_dump(spec))


def _first_text(body) -> list:
    """The path (keys) to the first ``$text`` reference in a state body."""
    stack = [([], body)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            if "$text" in value:
                return path
            stack.extend((path + [k], v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((path + [i], v) for i, v in enumerate(value))
    raise AssertionError("no $text in the state")


def _set_at(body, path, value):
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _huge_header_npz() -> bytes:
    """An npz whose one array declares shape (10**11,) float64 (745 GiB) in a few bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                   "shape": (10**11,)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a0.npy", np.lib.format.MAGIC_PREFIX + b"\x01\x00"
                         + header.getvalue()[8:] + b"\x00" * 64)
    return buffer.getvalue()


def _pickle_bomb(marker: Path) -> bytes:
    class Bomb:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    import pickle

    return pickle.dumps(Bomb())


def _scorer_artifact(model: Path, marker: Path, keep_state: bool) -> None:
    (model / "artifacts" / "scorer.pkl").write_bytes(_pickle_bomb(marker))
    spec = _mlmodel(model)
    artifacts = spec["flavors"]["python_function"]["artifacts"]
    if not keep_state:
        artifacts.pop("state")
    artifacts["scorer"] = {"path": "artifacts/scorer.pkl", "uri": "/tmp/x/scorer.pkl"}
    _write_mlmodel(model, spec)


def _text_to(model: Path, target: str) -> None:
    body = _body(model)
    _write_body(model, _set_at(body, _first_text(body), {"$text": target}))
    _write_mlmodel(model, _mlmodel(model))


def _symlink_text(model: Path, target: str) -> None:
    text = next((_state(model) / "texts").iterdir())
    text.unlink()
    text.symlink_to(target)
    _write_mlmodel(model, _mlmodel(model))


def _state_path(model: Path, path: str) -> None:
    spec = _mlmodel(model)
    spec["flavors"]["python_function"]["artifacts"]["state"]["path"] = path
    _write_mlmodel(model, spec, keep_digest=True)


def _link_state_out(model: Path, tmp: Path) -> None:
    outside = tmp / "outside-state"
    shutil.move(_state(model), outside)
    _state(model).symlink_to(outside)


def _mutate_body(func):
    def mutate(model: Path, tmp: Path) -> None:
        body = _body(model)
        _write_body(model, func(body))
        _write_mlmodel(model, _mlmodel(model))
    return mutate


def _replace_file(name: str, content: bytes, redigest: bool = True):
    def mutate(model: Path, tmp: Path) -> None:
        (_state(model) / name).write_bytes(content)
        if redigest:
            _write_mlmodel(model, _mlmodel(model))
    return mutate


def _link(name: str, target: str):
    def mutate(model: Path, tmp: Path) -> None:
        path = _state(model) / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        path.symlink_to(target)
        _write_mlmodel(model, _mlmodel(model))
    return mutate


def _garbage_booster(model: Path, tmp: Path) -> None:
    for text in (_state(model) / "texts").iterdir():
        text.write_text("tree\nversion=v4\nnum_class=oops\n" + "garbage " * 600)
    _write_mlmodel(model, _mlmodel(model))


def _mlmodel_text(text: str):
    def mutate(model: Path, tmp: Path) -> None:
        (model / "MLmodel").write_text(text)
    return mutate


def _mlmodel_change(func):
    def mutate(model: Path, tmp: Path) -> None:
        spec = _mlmodel(model)
        func(spec)
        (model / "MLmodel").write_text(yaml.safe_dump(spec))
    return mutate


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))

CASES = [
    # paths confined to the model folder
    pytest.param(lambda m, t: _text_to(m, "/dev/zero"), "outside the state's texts/", id="f6-text-to-dev-zero"),
    pytest.param(lambda m, t: _text_to(m, "/etc/passwd"), "outside the state's texts/", id="f6-text-to-etc-passwd"),
    pytest.param(lambda m, t: _text_to(m, "texts/../../../../../../etc/passwd"), "outside the state's texts/", id="f6-text-dotdot"),
    pytest.param(lambda m, t: _text_to(m, "texts/t999.txt"), "state/texts/t999.txt is missing", id="f6-text-missing"),
    pytest.param(lambda m, t: _text_to(m, 42), "outside the state's texts/", id="f6-text-not-a-string"),
    pytest.param(lambda m, t: _symlink_text(m, "/dev/zero"), "not a regular file", id="f6-text-symlink-dev-zero"),
    pytest.param(lambda m, t: _symlink_text(m, "/etc/passwd"), "not a regular file", id="f6-text-symlink-etc-passwd"),
    pytest.param(lambda m, t: _state_path(m, "/etc"), "no relative path", id="f6-state-path-absolute"),
    pytest.param(lambda m, t: _state_path(m, "../../.."), "outside the model folder", id="f6-state-path-dotdot"),
    pytest.param(lambda m, t: _state_path(m, "artifacts/nowhere"), "not a folder inside", id="f6-state-path-missing"),
    pytest.param(_link_state_out, "outside the model folder", id="f6-state-folder-symlinked-out"),
    pytest.param(_link("state.json", "/dev/zero"), "not a regular file", id="f6-state-json-symlink-dev-zero"),
    pytest.param(_link("arrays.npz", "/etc/passwd"), "not a regular file", id="f6-arrays-symlink-etc-passwd"),
    pytest.param(_link("texts", "/etc"), "not a regular file", id="f6-texts-folder-symlink-etc"),
    # sizes bounded, no pickle through NumPy
    pytest.param(_replace_file("arrays.npz", _huge_header_npz()), "larger than its file", id="f6-npz-745-gib-header"),
    pytest.param(_replace_file("arrays.npz", _npz(a0=np.array([{"x": 1}], dtype=object))), "object array", id="f6-npz-object-array"),
    pytest.param(_replace_file("arrays.npz", b"PK\x03\x04 not a zip"), "not a NumPy archive", id="f6-npz-garbage"),
    pytest.param(_replace_file("arrays.npz", _npz()), "names an array", id="f6-npz-empty"),
    # garbage and deeply nested state.json
    pytest.param(_replace_file("state.json", b"\x00\xff garbage {"), "not valid JSON", id="f6-state-json-garbage"),
    pytest.param(_replace_file("state.json", b"[" * 100_000 + b"]" * 100_000), "nests too deeply", id="f6-state-json-deep"),
    pytest.param(_replace_file("state.json", b'{"format_version": 1, "kind": "segml.CustomerScorer", "x": ' + b"[" * 900 + b"]" * 900 + b"}"), "model artifact state", id="f6-state-json-nested-900"),
    pytest.param(_replace_file("state.json", b'{"format_version": 1}'), "does not rebuild", id="f6-state-json-empty-state"),
    pytest.param(_replace_file("state.json", b"[1, 2, 3]"), "no format version", id="f6-state-json-a-list"),
    pytest.param(_mutate_body(lambda b: {**b, "predictors": "not a mapping"}), "does not rebuild", id="f6-state-wrong-type"),
    pytest.param(_mutate_body(lambda b: {k: v for k, v in b.items() if k != "feature_names"}), "does not rebuild", id="f6-state-missing-key"),
    pytest.param(_mutate_body(lambda b: {**b, "feature_names": {"$array": "a99999"}}), "names an array", id="f6-state-unknown-array"),
    pytest.param(_mutate_body(lambda b: {**b, "feature_names": {"$list": [1, 2, 3], "shape": [7, 7]}}), "model artifact state", id="f6-state-list-bad-shape"),
    pytest.param(_garbage_booster, "does not rebuild", id="f6-garbage-booster-text"),
    # digest: any byte changed without rewriting the digest
    pytest.param(_replace_file("state.json", b" ", redigest=False), "does not match the digest", id="f6-state-changed-digest-kept"),
    pytest.param(lambda m, t: (_state(m) / "texts" / "t0.txt").write_text("tree\n"), "does not match the digest", id="f6-text-changed-digest-kept"),
    pytest.param(lambda m, t: (_state(m) / "texts" / "extra.txt").write_text("x"), "does not match the digest", id="f6-extra-file-digest-kept"),
    # garbage MLmodel
    pytest.param(_mlmodel_text("\x00\xff\xfe garbage: [\n"), "model artifact MLmodel", id="f6-mlmodel-garbage"),
    pytest.param(_mlmodel_text("- just\n- a list\n"), "no python_function flavor", id="f6-mlmodel-a-list"),
    pytest.param(_mlmodel_text("flavors: {python_function: {artifacts: [1, 2]}}\n"), "not a mapping", id="f6-mlmodel-artifacts-list"),
    pytest.param(_mlmodel_text("flavors: {python_function: {artifacts: {}}}\n"), "no 'state' artifact", id="f6-mlmodel-no-state"),
    pytest.param(_mlmodel_text(BOMB), "model artifact MLmodel", id="f6-mlmodel-alias-bomb"),
    pytest.param(_mlmodel_text("flavors: !!python/object/apply:os.system ['true']\n"), "model artifact MLmodel", id="f6-mlmodel-python-tag"),
    pytest.param(_mlmodel_text("x: " + "[" * 5000 + "]" * 5000 + "\n"), "model artifact MLmodel", id="f6-mlmodel-deep"),
    pytest.param(lambda m, t: ((m / "MLmodel").unlink(), (m / "MLmodel").symlink_to("/dev/zero")), "model artifact MLmodel", id="f6-mlmodel-symlink-dev-zero"),
    pytest.param(lambda m, t: (m / "MLmodel").unlink(), "has no MLmodel", id="f6-mlmodel-missing"),
    pytest.param(_mlmodel_change(lambda s: s["flavors"].pop("python_function")), "no python_function flavor", id="f6-mlmodel-no-pyfunc"),
]


@pytest.mark.parametrize(("tamper", "culprit"), CASES)
def test_a_tampered_model_is_refused_naming_the_artifact(model, source, tmp_path, tamper, culprit):
    tamper(model, tmp_path)
    out = tmp_path / "scores.parquet"
    result = invoke("score", "--model", model, "--data", source, "--out", out, "--quiet")
    assert_handled(result, 1, culprit)
    assert not out.exists()


@pytest.mark.parametrize("keep_state", [pytest.param(False, id="f6-scorer-pickle-instead-of-state"),
                                        pytest.param(True, id="f6-scorer-pickle-beside-state")])
@pytest.mark.parametrize("mlflow_flag", [None, "false"])
def test_a_pickled_scorer_is_never_unpickled(model, source, tmp_path, keep_state, mlflow_flag):
    marker = tmp_path / "pwned"
    _scorer_artifact(model, marker, keep_state)
    env = {"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": mlflow_flag} if mlflow_flag else {}
    result = invoke("score", "--model", model, "--data", source, "--out",
                    tmp_path / "s.parquet", env=env)
    assert_handled(result, 1, "model artifact 'scorer' is a pickle")
    assert not marker.exists()


def test_f6_mlflow_flag_off_wins_over_the_opt_in(model, source, tmp_path):
    marker = tmp_path / "pwned"
    _scorer_artifact(model, marker, keep_state=False)
    env = {"SEGML_ALLOW_PICKLED_SCORER": "true", "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"}
    result = invoke("score", "--model", model, "--data", source, "--out",
                    tmp_path / "s.parquet", env=env)
    assert_handled(result, 1, "is a pickle")
    assert not marker.exists()


def test_f6_the_model_code_file_is_not_run(model, source, tmp_path):
    """segml reads a model as data: a changed ``pyfunc_code.py`` is never executed."""
    marker = tmp_path / "pwned"
    for code in model.rglob("*.py"):
        code.write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    out = tmp_path / "s.parquet"
    assert_handled(invoke("score", "--model", model, "--data", source, "--out", out), 0)
    assert out.exists() and not marker.exists()


def test_f6_the_untouched_copy_scores(model, source, tmp_path):
    """The control: the copy the cases change scores, and records a digest that matches."""
    spec = _mlmodel(model)
    assert spec["metadata"]["segml_state_sha256"] == state_digest(_state(model))
    out = tmp_path / "s.parquet"
    assert_handled(invoke("score", "--model", model, "--data", source, "--out", out), 0)


@pytest.mark.parametrize("rewrite", [pytest.param(False, id="f6-registered-state-changed"),
                                     pytest.param(True, id="f6-registered-state-and-mlmodel-changed")])
def test_a_registered_version_is_checked_against_its_tag(trained, model, source, tmp_path,
                                                         rewrite):
    """The version's ``segml.state_sha256`` tag, set at registration, catches a state changed
    even when the attacker also rewrote MLmodel's digest."""
    client = MlflowClient(trained["uri"], registry_uri=trained["uri"])
    champion = client.get_model_version_by_alias(NAME, "champion")
    assert champion.tags["segml.state_sha256"] == state_digest(_state(model))
    text = next((_state(model) / "texts").iterdir())
    text.write_text(text.read_text().replace("num_leaves=", "num_leaves=1", 1))
    if rewrite:
        _write_mlmodel(model, _mlmodel(model))
    with using_tracking_uri(trained["uri"]):
        version = client.create_model_version(
            NAME, str(model), run_id=champion.run_id,
            tags={"segml.state_sha256": champion.tags["segml.state_sha256"]})
    result = invoke("score", "--model", f"models:/{NAME}/{version.version}", "--data", source,
                    "--out", tmp_path / "s.parquet",
                    env={"MLFLOW_TRACKING_URI": trained["uri"]})
    assert_handled(result, 1, "does not match the digest")


@pytest.mark.parametrize("tampered", [pytest.param(False, id="f6-served-untouched-loads"),
                                      pytest.param(True, id="f6-served-state-changed-refused")])
def test_mlflow_s_own_loader_checks_the_digest_too(model, tampered):
    """What ``mlflow models serve`` calls: ``load_context`` with the model's artifacts."""
    from types import SimpleNamespace

    from segml.errors import SegmlError
    from segml.tracking.model import SegmlModel

    if tampered:
        text = next((_state(model) / "texts").iterdir())
        text.write_text(text.read_text() + "\n")
    context = SimpleNamespace(artifacts={"state": str(_state(model))})
    served = SegmlModel()
    if tampered:
        with pytest.raises(SegmlError, match="does not match the digest"):
            served.load_context(context)
    else:
        served.load_context(context)
        assert served.scorer is not None


def _flavor_change(func):
    def mutate(model: Path) -> None:
        spec = _mlmodel(model)
        func(spec["flavors"]["python_function"], model)
        (model / "MLmodel").write_text(yaml.safe_dump(spec))
    return mutate


def _code_change(model: Path) -> None:
    code = model / "pyfunc_code.py"
    code.write_text(code.read_text() + "\nopen('/tmp/pwned-by-segml-model', 'w')\n")


def _code_link(model: Path) -> None:
    code = model / "pyfunc_code.py"
    code.unlink()
    code.symlink_to(Path(__file__))


def _other_code_file(flavor: dict, model: Path) -> None:
    (model / "evil.py").write_text("import os\n")
    flavor["model_code_path"] = "/somewhere/evil.py"


SERVE = [
    pytest.param(_code_change, "pyfunc_code.py is not segml's model code", id="f6-serve-code-file-changed"),
    pytest.param(_code_link, "pyfunc_code.py is not segml's model code", id="f6-serve-code-file-symlink"),
    pytest.param(lambda m: (m / "pyfunc_code.py").unlink(), "pyfunc_code.py is not segml's model code", id="f6-serve-code-file-missing"),
    pytest.param(_flavor_change(_other_code_file), "not built by segml's model code", id="f6-serve-other-code-file"),
    pytest.param(_flavor_change(lambda f, m: f.update(loader_module="os")), "not built by segml's model code", id="f6-serve-loader-module"),
    pytest.param(_flavor_change(lambda f, m: f.update(python_model="python_model.pkl")), "not built by segml's model code", id="f6-serve-python-model-pickle"),
    pytest.param(_flavor_change(lambda f, m: f.update(code="code")), "not built by segml's model code", id="f6-serve-code-folder"),
    pytest.param(lambda m: (next((_state(m) / "texts").iterdir())).write_text("x"), "does not match the digest", id="f6-serve-state-changed"),
    pytest.param(lambda m: _scorer_artifact(m, m / "pwned", keep_state=True), "is a pickle", id="f6-serve-scorer-pickle"),
]


@pytest.mark.parametrize(("tamper", "culprit"), SERVE)
def test_a_tampered_model_is_not_served(model, tamper, culprit):
    """``serve_model`` checks the model before ``mlflow models serve`` (which runs its code)."""
    from segml.errors import SegmlError
    from segml.tracking import serve_model

    tamper(model)
    with pytest.raises(SegmlError, match=culprit), serve_model(str(model), timeout=5):
        raise AssertionError("the server must not start")
