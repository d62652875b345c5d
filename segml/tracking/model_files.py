"""A registered model's files, checked before anything in them is loaded.

A model folder is untrusted input: anyone who can write to the artifact store can change it.
:func:`checked_state` is what :func:`segml.tracking.model.load_scorer` reads a model through:

* ``MLmodel`` is a regular file of at most 1 MiB, parsed as plain YAML (segml's loader: no
  tags, aliases bounded) with a ``python_function`` flavor;
* a ``scorer`` artifact (a pickle) is refused unless :func:`pickles_allowed`;
* the ``state`` artifact is a folder inside the model folder (no absolute path, ``..`` or
  symlink on the way);
* the state's SHA-256 (:func:`segml.scoring.state.state_digest`) equals the one ``MLmodel``
  recorded when the model was logged and, for a registered version, the version's
  ``segml.state_sha256`` tag.

The model's code file is never executed here (MLflow's own loader would). Every refusal is one
:class:`~segml.errors.SegmlError` naming the model and the artifact.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import mlflow

from segml.errors import Problem, SegmlError
from segml.scoring.state import state_digest

#: The scorer's state as data (segml's CustomerScorer: :mod:`segml.scoring.state`).
STATE_ARTIFACT = "state"
#: A scorer pickled by value: only scorers that are not segml's (a test fake, a notebook's).
#: Never unpickled unless ``SEGML_ALLOW_PICKLED_SCORER=true`` (a model is untrusted input).
SCORER_ARTIFACT = "scorer"
#: The opt-in that lets a pickled (non-segml) scorer load: tests' fakes, notebooks' stand-ins.
ALLOW_PICKLE_ENV = "SEGML_ALLOW_PICKLED_SCORER"
#: ``MLmodel`` metadata key: the SHA-256 of the state artifact (:func:`state_digest`).
DIGEST_KEY = "segml_state_sha256"
#: No ``MLmodel`` is read past this size (a real one is ~20 KB).
MAX_MLMODEL_BYTES = 1 << 20

def pickles_allowed() -> bool:
    """Whether a pickled scorer may be loaded: only with ``SEGML_ALLOW_PICKLED_SCORER=true``
    and MLflow's own ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` not turned off."""
    from segml.tracking.validation import TRUE_WORDS

    allowed = os.environ.get(ALLOW_PICKLE_ENV, "").strip().lower() in TRUE_WORDS
    mlflow_off = os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "").strip().lower() in (
        "false", "0", "no", "off")
    return allowed and not mlflow_off


def refuse_pickle(where: str) -> SegmlError:
    return SegmlError([Problem(
        f"{where}: model artifact '{SCORER_ARTIFACT}' is a pickle, which segml never loads (it can "
        f"run any code); register the model with segml train, or set {ALLOW_PICKLE_ENV}=true "
        "for a model you made yourself", key="model")])


def checked_state(model_uri: str, tracking_uri: str, tmp: Path) -> Path | None:
    """The model's ``state`` folder once every check above has passed, or None for a pickled
    scorer the caller may load (:func:`pickles_allowed`); ``tmp`` holds a downloaded model."""
    folder = local_model_folder(model_uri, tmp)
    spec = read_mlmodel(folder, model_uri)
    artifacts = spec["flavors"]["python_function"].get("artifacts") or {}
    if not isinstance(artifacts, dict):
        raise bad_mlmodel(model_uri, "its artifacts are not a mapping")
    if SCORER_ARTIFACT in artifacts or STATE_ARTIFACT not in artifacts:
        if SCORER_ARTIFACT not in artifacts:
            raise bad_mlmodel(model_uri, f"it names no '{STATE_ARTIFACT}' artifact: not a "
                              "segml model")
        if not pickles_allowed():
            raise refuse_pickle(model_uri)
        return None
    state = confined(folder, artifacts[STATE_ARTIFACT], model_uri)
    check_digest(state, spec.get("metadata"), model_uri, tracking_uri)
    return state


def bad_mlmodel(model_uri: str, why: str) -> SegmlError:
    return SegmlError([Problem(f"{model_uri}: model artifact MLmodel is not a segml model "
                               f"description ({why}), so the model is not loaded", key="model")])


def local_model_folder(model_uri: str, tmp: Path) -> Path:
    """The model's folder on this machine, read in place when the store is local (a copy would
    follow symlinks planted in it) and downloaded otherwise (remote stores hold plain files)."""
    from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository
    from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository
    from mlflow.utils.file_utils import local_file_uri_to_path

    if model_uri.startswith("models:/"):
        underlying = ModelsArtifactRepository.get_underlying_uri(model_uri)
    elif model_uri.startswith("runs:/"):
        underlying = RunsArtifactRepository.get_underlying_uri(model_uri)
    else:
        underlying = model_uri
    from urllib.parse import urlsplit

    scheme = urlsplit(underlying).scheme.lower()
    if scheme in ("", "file") or len(scheme) == 1:  # a path (``C:\\...`` has a 1-letter scheme)
        folder = Path(local_file_uri_to_path(underlying) if scheme == "file" else underlying)
        if not folder.is_dir():
            raise SegmlError([Problem(f"cannot load model {model_uri}: no model folder at "
                                      f"{folder}", key="model")])
        return folder
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=underlying, dst_path=str(tmp)))


def read_mlmodel(folder: Path, model_uri: str) -> dict[str, Any]:
    """``MLmodel`` as plain YAML (no tags, no aliases past a few): a mapping with a
    ``python_function`` flavor, or a problem naming the artifact."""

    import yaml

    from segml.config.loading import SafeYamlLoader

    path = folder / "MLmodel"
    try:
        info = path.lstat()
    except OSError:
        raise SegmlError([Problem(f"cannot load model {model_uri}: it has no MLmodel file",
                                  key="model")]) from None
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MLMODEL_BYTES:
        raise bad_mlmodel(model_uri, "not a regular file of at most 1 MiB")
    try:
        spec = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeYamlLoader)  # noqa: S506
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise bad_mlmodel(model_uri, f"invalid YAML: {type(exc).__name__}") from None
    flavor = spec.get("flavors", {}).get("python_function") if isinstance(spec, dict) else None
    if not isinstance(flavor, dict):
        raise bad_mlmodel(model_uri, "no python_function flavor")
    return spec


def confined(folder: Path, entry: Any, model_uri: str) -> Path:
    """The artifact ``entry`` of ``MLmodel`` (``{"path": "artifacts/state"}``) as a folder
    inside the model folder: no absolute path, no ``..``, no symlink on the way."""
    relative = entry.get("path") if isinstance(entry, dict) else None
    if not isinstance(relative, str) or not relative or Path(relative).is_absolute():
        raise bad_mlmodel(model_uri, f"artifact '{STATE_ARTIFACT}' has no relative path")
    path, current = folder, folder
    for part in Path(relative).parts:
        current = current / part
        if part in ("..", ".") or current.is_symlink():
            raise bad_mlmodel(model_uri, f"artifact '{STATE_ARTIFACT}' points outside the "
                               "model folder")
    path = current
    if not path.is_dir() or not path.resolve().is_relative_to(folder.resolve()):
        raise bad_mlmodel(model_uri, f"artifact '{STATE_ARTIFACT}' is not a folder inside the "
                           "model")
    return path


def check_digest(state: Path, metadata: Any, model_uri: str, tracking_uri: str) -> None:
    """The state's digest against the one ``MLmodel`` recorded and, for a registered version,
    the one tagged on it (:data:`DIGEST_KEY`); a model logged before digests has neither."""
    expected = {metadata.get(DIGEST_KEY)} if isinstance(metadata, dict) else set()
    if model_uri.startswith("models:/"):
        tagged = version_digest(model_uri, tracking_uri)
        if tagged:
            expected.add(tagged)
    expected.discard(None)
    if not expected:
        return
    found = state_digest(state)
    if expected != {found}:
        raise SegmlError([Problem(
            f"{model_uri}: model artifact state does not match the digest recorded when it was "
            "registered; it was changed after registration, so it is not loaded", key="model")])


def check_served_digest(state: Path) -> None:
    """In ``mlflow models serve`` (MLflow's loader): the state against the digest of the
    ``MLmodel`` beside it (``<model>/artifacts/state``), when there is one."""
    mlmodel = state.parent.parent / "MLmodel"
    if not mlmodel.is_file() or mlmodel.is_symlink():
        return
    try:
        spec = read_mlmodel(mlmodel.parent, "the model")
    except SegmlError:
        return  # MLflow itself read this MLmodel to get here
    check_digest(state, spec.get("metadata"), "the model", "")


def version_digest(model_uri: str, tracking_uri: str) -> str | None:
    from mlflow.store.artifact.utils.models import get_model_name_and_version

    from segml.tracking.store import client_for

    client = client_for(tracking_uri)
    try:
        name, version = get_model_name_and_version(client, model_uri)
        return client.get_model_version(name, version).tags.get("segml.state_sha256")
    except Exception:  # noqa: BLE001 - a logged-model URI has no version: MLmodel's digest only
        return None


#: segml's own "models from code" file: the only code a segml model may carry.
MODEL_CODE = Path(__file__).with_name("pyfunc_code.py")


def check_servable(model_uri: str, tracking_uri: str) -> None:
    """Before ``mlflow models serve`` loads ``model_uri`` (MLflow's loader runs the model's
    code): the checks of :func:`checked_state`, and the model must be built by segml's own code
    file and nothing else (no ``python_model`` pickle, no ``code`` folders on the path, MLflow's
    code-model loader), so a changed ``pyfunc_code.py`` or ``MLmodel`` never runs."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        if checked_state(model_uri, tracking_uri, Path(tmp)) is None:
            return  # an opted-in pickled scorer: the caller asked for it
        folder = local_model_folder(model_uri, Path(tmp))
        flavor = read_mlmodel(folder, model_uri)["flavors"]["python_function"]
        code_path = flavor.get("model_code_path")
        if (flavor.get("loader_module") != "mlflow.pyfunc.loaders.code_model"
                or flavor.get("code") or "python_model" in flavor
                or not isinstance(code_path, str)
                or Path(code_path).name != MODEL_CODE.name):
            raise bad_mlmodel(model_uri, "it is not built by segml's model code alone")
        code = folder / MODEL_CODE.name
        if code.is_symlink() or not code.is_file() or code.read_bytes() != MODEL_CODE.read_bytes():
            raise SegmlError([Problem(
                f"{model_uri}: model artifact {MODEL_CODE.name} is not segml's model code (it "
                "was changed after registration), so the model is not served", key="model")])
