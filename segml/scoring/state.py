"""The registered model's state as data: JSON, NumPy arrays and texts in one folder, versioned.

A fitted scorer (:class:`segml.scoring.scorer.CustomerScorer`) describes itself with ``to_state()``:
nested dicts and lists of plain values (str, int, float, bool, None), NumPy arrays and long
texts (LightGBM's ``model_to_string()``). :func:`write_state` stores that in a folder:

==================  ==========================================================================
``state.json``      the structure, ``format_version`` and ``kind`` at the top; an array appears
                    as ``{"$array": "a<n>"}``, a long text as ``{"$text": "texts/t<n>.txt"}``
``arrays.npz``      the numeric arrays (``np.savez``, read back with ``allow_pickle=False``)
``texts/``          the long texts (booster model strings), UTF-8
==================  ==========================================================================

:func:`read_state` checks the format version first: a folder written by another format fails
with a :class:`~segml.errors.SegmlError` naming the version found and the versions supported.
Nothing in the folder is a pickle, so loading a model runs no code from it; the objects are
rebuilt by ``from_state()`` of segml's own classes.

Example
-------
>>> import tempfile, numpy as np
>>> folder = Path(tempfile.mkdtemp()) / "state"
>>> _ = write_state({"kind": "demo", "edges": np.array([0.5, 1.5]), "names": ["a", "b"]}, folder)
>>> state = read_state(folder)
>>> state["edges"].tolist(), state["names"], state["format_version"]
([0.5, 1.5], ['a', 'b'], 1)
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from segml.errors import Problem, SegmlError

#: The state format this segml writes; bump it when ``to_state`` output changes meaning.
STATE_FORMAT_VERSION = 1
#: The formats this segml reads.
SUPPORTED_FORMATS = (1,)
STATE_FILE = "state.json"
ARRAYS_FILE = "arrays.npz"
#: Strings longer than this are stored as files of their own (booster model strings).
LONG_TEXT = 4096


def _encode(value: Any, arrays: dict[str, np.ndarray], texts: dict[str, str], path: str) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if len(value) <= LONG_TEXT:
            return value
        name = f"texts/t{len(texts)}.txt"
        texts[name] = value
        return {"$text": name}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype == object:  # strings and mixed labels: as JSON
            return {"$list": [_encode(v, arrays, texts, f"{path}[]") for v in value.ravel().tolist()],
                    "shape": list(value.shape)}
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {"$array": name}
    if isinstance(value, dict):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise TypeError(f"model state at {path or '/'}: keys must be strings, got {bad[:3]}")
        return {k: _encode(v, arrays, texts, f"{path}/{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v, arrays, texts, f"{path}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"model state at {path or '/'}: {type(value).__name__} is not data "
                    "(str, number, bool, None, list, dict or NumPy array)")


def _decode(value: Any, arrays: Any, folder: Path) -> Any:
    if isinstance(value, dict):
        if "$array" in value:
            return arrays[value["$array"]]
        if "$text" in value:
            return (folder / value["$text"]).read_text(encoding="utf-8")
        if "$list" in value:
            items = [_decode(v, arrays, folder) for v in value["$list"]]
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out.reshape(value["shape"])
        return {k: _decode(v, arrays, folder) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, arrays, folder) for v in value]
    return value


def write_state(state: dict[str, Any], folder: str | os.PathLike[str]) -> Path:
    """Store ``state`` (``to_state()`` output) in ``folder`` with the current format version.

    The files are written into a temporary folder beside ``folder`` and moved into place, so a
    reader never sees half a state. Raises ``TypeError`` naming the path of a value that is not
    data (a live object must never reach a registered model).
    """
    folder = Path(folder)
    arrays: dict[str, np.ndarray] = {}
    texts: dict[str, str] = {}
    body = _encode({**state, "format_version": STATE_FORMAT_VERSION}, arrays, texts, "")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".state-", dir=folder.parent))
    (staging / "texts").mkdir()
    for name, text in texts.items():
        (staging / name).write_text(text, encoding="utf-8")
    np.savez(staging / ARRAYS_FILE, **arrays)
    (staging / STATE_FILE).write_text(json.dumps(body, indent=1, allow_nan=True), encoding="utf-8")
    if folder.exists():
        raise FileExistsError(f"{folder} exists: the state goes into a new folder")
    staging.rename(folder)
    return folder


def check_format(version: Any, where: str) -> None:
    """Fail with a clear :class:`SegmlError` unless ``version`` is a supported state format.

    Example
    -------
    >>> try:
    ...     check_format(99, "models:/m/1")
    ... except SegmlError as exc:
    ...     print(exc.problems[0].message[:69])
    models:/m/1 holds model state format 99; this segml reads format(s) 1
    """
    if version in SUPPORTED_FORMATS:
        return
    found = "no format version" if version is None else f"model state format {version}"
    raise SegmlError([Problem(
        f"{where} holds {found}; this segml reads format(s) "
        f"{', '.join(str(v) for v in SUPPORTED_FORMATS)}: install the segml version that wrote "
        "it, or retrain the model with this one", key="model")])


def read_state(folder: str | os.PathLike[str], where: str | None = None) -> dict[str, Any]:
    """The state :func:`write_state` stored in ``folder`` (arrays as NumPy arrays, texts as
    strings). ``where`` names the model in errors (default: the folder)."""
    folder = Path(folder)
    where = where or str(folder)
    path = folder / STATE_FILE
    if not path.is_file():
        raise SegmlError([Problem(f"{where} has no {STATE_FILE}: not a segml model state",
                                  key="model")])
    body = json.loads(path.read_text(encoding="utf-8"))
    check_format(body.get("format_version") if isinstance(body, dict) else None, where)
    with np.load(folder / ARRAYS_FILE, allow_pickle=False) as arrays:
        return _decode(body, {k: arrays[k] for k in arrays.files}, folder)


def as_float(value: Any) -> float:
    """A number of the state as a float (JSON gives ints for whole numbers; None stays NaN)."""
    return math.nan if value is None else float(value)


__all__ = ["ARRAYS_FILE", "STATE_FILE", "STATE_FORMAT_VERSION", "SUPPORTED_FORMATS", "as_float",
           "check_format", "read_state", "write_state"]
