"""Execute the notebooks in place and store their outputs (``make notebooks``).

Each notebook runs top to bottom with nbclient in a temporary folder (its data, ``mlflow.db`` and
``mlartifacts/`` stay there and are deleted after), with a tracking store of its own, so the
repository's ``mlflow.db`` is never touched. The outputs are then made stable and safe to publish
(:func:`scrub`):

* the temporary folder's path becomes ``.`` and the repository's ``<repo>``; MLflow run and
  model ids become ``<id>``, the times of the run (ISO ``...T...Z``) ``<time>``: they change at
  every run (the data's own dates are kept);
* stderr streams (library log lines and warnings, with their timestamps) are dropped, and a
  cell's stdout is one output however the kernel flushed it;
* each code cell records a hash of the source its outputs came from (``metadata.segml``): the
  tests fail when a cell was edited and its outputs not refreshed.

The tests execute the notebooks too (``tests/test_notebooks.py``, on fewer customers) with the
same :func:`execute` and :func:`scrub`.

Usage::

    python notebooks/refresh.py                       # both notebooks
    python notebooks/refresh.py 01_quickstart.ipynb   # one
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import nbclient
import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NOTEBOOKS = ("01_quickstart.ipynb", "02_bring_your_own_data.ipynb")
_IDS = re.compile(r"\b(?:m-)?[0-9a-f]{32}\b")
_TIMES = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z")  # when it ran, not data


def source_hash(source: str) -> str:
    """A short hash of a cell's source (what its stored outputs were computed from)."""
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def execute(name: str, workdir: Path, env: Mapping[str, str] | None = None,
            timeout: int = 1800) -> nbformat.NotebookNode:
    """Run ``notebooks/<name>`` in ``workdir`` (``env`` added to the kernel's environment)."""
    notebook = nbformat.read(HERE / name, as_version=4)
    saved = {key: os.environ.get(key) for key in (env or {})}
    os.environ.update(env or {})
    try:
        client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                         record_timing=False,
                                         resources={"metadata": {"path": str(workdir)}})
        client.execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


def _clean(text: str, workdir: Path) -> str:
    for folder in sorted({str(workdir), str(workdir.resolve())}, key=len, reverse=True):
        text = text.replace(folder, ".")
    text = text.replace(str(ROOT), "<repo>")
    return _TIMES.sub("<time>", _IDS.sub("<id>", text))


def scrub(notebook: nbformat.NotebookNode, workdir: Path) -> nbformat.NotebookNode:
    """Stable, publishable outputs (see the module docstring); returns ``notebook``."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        cell.metadata["segml"] = {"source": source_hash(cell.source)}
        kept = []
        for output in cell.outputs:
            if output.output_type == "stream":
                if output.name == "stderr":
                    continue
                output.text = _clean(output.text, workdir)
                previous = kept[-1] if kept else None
                if previous is not None and previous.output_type == "stream" and (
                        previous.name == output.name):  # one stream, however it was flushed
                    previous.text += output.text
                    continue
            for mime, value in dict(output.get("data", {})).items():
                if mime.startswith("text/") and isinstance(value, str):
                    output.data[mime] = _clean(value, workdir)
            kept.append(output)
        cell.outputs = kept
    return notebook


def _telco(workdir: Path) -> bool:
    """The Telco export where notebook 02 reads it: the repository's copy, else a download."""
    cached = ROOT / "data" / "telco" / "customers.csv"
    target = workdir / "telco_data"
    if cached.exists():
        target.mkdir()
        shutil.copy(cached, target / "customers.csv")
        return True
    from segml.data.telco import TelcoDownloadError, fetch_telco

    try:
        fetch_telco(target)
    except (TelcoDownloadError, OSError) as exc:
        print(f"skipped 02: the Telco data cannot be fetched here ({exc})", file=sys.stderr)
        return False
    return True


def write_atomic(notebook: nbformat.NotebookNode, path: Path) -> None:
    """Write ``notebook`` to a temporary file next to ``path``, then move it over."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".ipynb.tmp")
    os.close(handle)
    try:
        nbformat.write(notebook, temporary)
        os.chmod(temporary, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def refresh(name: str) -> bool:
    """Execute one notebook in a temporary folder and store it with its outputs."""
    with tempfile.TemporaryDirectory(prefix="segml-notebook-") as tmp:
        workdir = Path(tmp)
        if name.startswith("02") and not _telco(workdir):
            return False
        env = {"MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
               "SEGML_LOCK_DIR": str(workdir / "locks"),
               "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
        notebook = scrub(execute(name, workdir, env), workdir)
        nbformat.validate(notebook)
        write_atomic(notebook, HERE / name)
    print(f"stored notebooks/{name} with its outputs")
    return True


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in NOTEBOOKS]
    if unknown:
        print(f"unknown notebook(s) {unknown}; these exist: {list(NOTEBOOKS)}", file=sys.stderr)
        return 2
    done = [refresh(name) for name in names or NOTEBOOKS]
    return 0 if all(done) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
