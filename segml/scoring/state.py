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

A state folder is untrusted input (anyone who can write to the artifact store can edit it), so
:func:`read_state` refuses, naming the file, before anything is allocated: a file that is not a
regular file inside the folder (a symlink, ``/dev/zero``, a ``../`` path), a file over
:data:`MAX_FILE_BYTES`, JSON that does not parse or nests too deeply, an array whose header
declares more bytes than its file holds or an object dtype (``allow_pickle=False``), a reference
to an array or text that is not there. :func:`state_digest` is the folder's content digest,
recorded when the model is logged and checked before it is loaded.

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

import hashlib
import json
import math
import os
import re
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from segml.errors import Problem, SegmlError

#: The state format this segml writes; bump it when ``to_state`` output changes meaning.
STATE_FORMAT_VERSION = 1
#: Format 2: a state holding declared targets (``declared_targets``, docs/targets.md), which a
#: reader of format 1 only would not score; a state without them is still written as format 1.
DECLARED_TARGETS_FORMAT = 2
#: The formats this segml reads.
SUPPORTED_FORMATS = (1, 2)
STATE_FILE = "state.json"
ARRAYS_FILE = "arrays.npz"
#: Strings longer than this are stored as files of their own (booster model strings).
LONG_TEXT = 4096
#: No file of a state is read past this size (a real one is a few MB at a million customers).
MAX_FILE_BYTES = 1 << 30
#: The only names a ``$text`` reference may hold: files of the folder's ``texts/``.
_TEXT_NAME = re.compile(r"texts/t[0-9]{1,9}\.txt")


def _damaged(where: str, name: str, why: str) -> SegmlError:
    return SegmlError([Problem(f"{where}: model artifact {name} {why}; the model was changed "
                               "or damaged after it was registered, so it is not loaded",
                               key="model")])


def _regular_file(folder: Path, name: str, where: str) -> Path:
    """``folder/name`` when it is a regular file inside ``folder`` (no symlink, no device, no
    ``..``) of at most :data:`MAX_FILE_BYTES`; otherwise a problem naming the artifact."""
    path = folder / name
    if any(p.is_symlink() for p in list(path.parents)[: len(Path(name).parts) - 1]):
        raise _damaged(where, f"state/{name}", "is not a regular file (a link leads elsewhere)")
    try:
        info = path.lstat()
    except OSError:
        raise _damaged(where, f"state/{name}", "is missing") from None
    if not stat.S_ISREG(info.st_mode):
        raise _damaged(where, f"state/{name}", "is not a regular file (a link, device or folder)")
    if info.st_size > MAX_FILE_BYTES:
        raise _damaged(where, f"state/{name}", f"is larger than {MAX_FILE_BYTES >> 20} MiB")
    if not path.resolve().is_relative_to(folder.resolve()):
        raise _damaged(where, f"state/{name}", "lies outside the model folder")
    return path


def _check_arrays(path: Path, where: str) -> None:
    """Every array of ``arrays.npz`` read from its header first: a plain dtype, and no more
    bytes declared than the file holds (a header can claim 745 GiB in a few bytes)."""
    name = f"state/{ARRAYS_FILE}"
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if member.file_size > MAX_FILE_BYTES:
                    raise _damaged(where, name, f"holds an array over {MAX_FILE_BYTES >> 20} MiB")
                with archive.open(member) as handle:
                    version = np.lib.format.read_magic(handle)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read_header(handle, max_header_size=10_000)
                if dtype.hasobject:
                    raise _damaged(where, name, f"holds an object array ({member.filename}), "
                                   "which only a pickle can read")
                count = math.prod(int(n) for n in shape)
                if count * dtype.itemsize > member.file_size:
                    raise _damaged(where, name, f"declares an array ({member.filename}) larger "
                                   "than its file")
    except SegmlError:
        raise
    except Exception as exc:  # noqa: BLE001 - any way a tampered archive fails: one line
        raise _damaged(where, name, f"is not a NumPy archive ({type(exc).__name__})") from None


def state_digest(folder: str | os.PathLike[str]) -> str:
    """SHA-256 over the state's files (names and contents, in name order).

    Example
    -------
    >>> import tempfile
    >>> a = write_state({"kind": "demo", "x": 1}, Path(tempfile.mkdtemp()) / "s")
    >>> b = write_state({"kind": "demo", "x": 1}, Path(tempfile.mkdtemp()) / "s")
    >>> state_digest(a) == state_digest(b), len(state_digest(a))
    (True, 64)
    """
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if not p.is_dir() or p.is_symlink()):
        name = path.relative_to(folder).as_posix()
        digest.update(name.encode() + b"\0")
        if path.is_symlink() or not path.is_file():  # never followed: its name changes the sum
            digest.update(b"<not a regular file>\0")
            continue
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


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


def _decode(value: Any, arrays: Any, folder: Path, where: str = "") -> Any:
    if isinstance(value, dict):
        if "$array" in value:
            if not isinstance(value["$array"], str) or value["$array"] not in arrays:
                raise _damaged(where, f"state/{STATE_FILE}",
                               f"names an array that {ARRAYS_FILE} does not hold")
            return arrays[value["$array"]]
        if "$text" in value:
            name = value["$text"]
            if not isinstance(name, str) or not _TEXT_NAME.fullmatch(name):
                raise _damaged(where, f"state/{STATE_FILE}",
                               "names a text outside the state's texts/ folder")
            return _regular_file(folder, name, where).read_text(encoding="utf-8")
        if "$list" in value:
            items = [_decode(v, arrays, folder, where) for v in value["$list"]]
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out.reshape(value["shape"])
        return {k: _decode(v, arrays, folder, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, arrays, folder, where) for v in value]
    return value


def write_state(state: dict[str, Any], folder: str | os.PathLike[str],
                version: int = STATE_FORMAT_VERSION) -> Path:
    """Store ``state`` (``to_state()`` output) in ``folder`` with its format ``version`` (the
    current one unless the state needs a later one, :data:`DECLARED_TARGETS_FORMAT`).

    The files are written into a temporary folder beside ``folder`` and moved into place, so a
    reader never sees half a state. Raises ``TypeError`` naming the path of a value that is not
    data (a live object must never reach a registered model).
    """
    folder = Path(folder)
    arrays: dict[str, np.ndarray] = {}
    texts: dict[str, str] = {}
    body = _encode({**state, "format_version": version}, arrays, texts, "")
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
    if not path.is_file() and not path.is_symlink():
        raise SegmlError([Problem(f"{where} has no {STATE_FILE}: not a segml model state",
                                  key="model")])
    path = _regular_file(folder, STATE_FILE, where)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        reason = "nests too deeply" if isinstance(exc, RecursionError) else "is not valid JSON"
        raise _damaged(where, f"state/{STATE_FILE}", reason) from None
    check_format(body.get("format_version") if isinstance(body, dict) else None, where)
    arrays_path = _regular_file(folder, ARRAYS_FILE, where)
    _check_arrays(arrays_path, where)
    try:
        with np.load(arrays_path, allow_pickle=False) as arrays:
            values = {k: arrays[k] for k in arrays.files}
        return _decode(body, values, folder, where)
    except SegmlError:
        raise
    except RecursionError:
        raise _damaged(where, f"state/{STATE_FILE}", "nests too deeply") from None
    except Exception as exc:  # noqa: BLE001 - any other way a tampered state fails: one line
        raise _damaged(where, "state", f"cannot be read ({type(exc).__name__})") from None


def as_float(value: Any) -> float:
    """A number of the state as a float (JSON gives ints for whole numbers; None stays NaN)."""
    return math.nan if value is None else float(value)


__all__ = ["ARRAYS_FILE", "DECLARED_TARGETS_FORMAT", "MAX_FILE_BYTES", "STATE_FILE", "STATE_FORMAT_VERSION",
           "SUPPORTED_FORMATS", "as_float", "check_format", "read_state", "state_digest",
           "write_state"]
