"""The notebooks in ``notebooks/`` are stored with their outputs, and execute top to bottom.

``make notebooks`` (``notebooks/refresh.py``) executes them and stores the outputs, scrubbed of
paths, ids and timestamps. Here they are checked as stored (executed in order, no error, nothing
volatile or personal, the outputs of the current sources) and executed again (slow) with nbclient
in a tmp working directory with a tmp ``MLFLOW_TRACKING_URI`` and ``SEGML_NOTEBOOK_CUSTOMERS=1500``.
The Telco notebook needs the data: the repository's cached ``data/telco/customers.csv`` when it
exists, else :func:`segml.data.telco.fetch_telco` downloads it; without network it is skipped.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="notebook tests need the dev extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need the dev extra (nbclient)")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
_spec = importlib.util.spec_from_file_location("refresh", ROOT / "notebooks" / "refresh.py")
refresh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(refresh)
VOLATILE = re.compile(r"(?:/tmp/|/home/|/root/|/Users/|/work/|/var/folders/|[A-Z]:\\\\)"
                      r"|\b[0-9a-f]{32}\b|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
PERSONAL = re.compile(r"[\w.+-]+@[\w-]+\.[a-z]{2,}|\+1-555")


def _execute(name: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
           "SEGML_NOTEBOOK_CUSTOMERS": "1500", "SEGML_LOCK_DIR": str(workdir / "locks"),
           "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return refresh.scrub(refresh.execute(name, workdir, timeout=600), workdir)


def _outputs(notebook, kind: str = "") -> str:
    texts = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                texts.append("ERROR " + out.get("ename", ""))
            texts.append(str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


def _shape(notebook) -> list[list[tuple[str, ...]]]:
    """Per code cell, the kind of each output (stream name or mime types): what a reader sees."""
    return [[(o.output_type, o.get("name", ""), *sorted(o.get("data", {})))
             for o in cell.outputs] for cell in notebook.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_stored_with_the_outputs_of_their_current_code(path):
    assert [p.name for p in NOTEBOOKS] == list(refresh.NOTEBOOKS)
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), (
        "executed top to bottom: run `make notebooks`")
    for cell in code:
        # a cell edited after its outputs were stored: `make notebooks` refreshes them
        assert cell.metadata.get("segml", {}).get("source") == refresh.source_hash(cell.source), (
            cell.source[:80])
        for output in cell.outputs:
            assert output.output_type != "error", cell.source[:80]
            assert not (output.output_type == "stream" and output.name == "stderr")
            text = str(output.get("text", "")) + " ".join(
                v for k, v in output.get("data", {}).items() if k.startswith("text/"))
            assert not VOLATILE.search(text), VOLATILE.search(text).group(0)
            assert not PERSONAL.search(text), PERSONAL.search(text).group(0)
    assert sum(bool(cell.outputs) for cell in code) >= len(code) - 2


def test_the_quickstart_shows_a_waterfall_and_a_beeswarm():
    notebook = nbformat.read(ROOT / "notebooks" / "01_quickstart.ipynb", as_version=4)
    plots = [cell for cell in notebook.cells if cell.cell_type == "code"
             and "shap.plots." in cell.source]
    assert [re.search(r"shap\.plots\.(\w+)", c.source).group(1) for c in plots] == [
        "waterfall", "beeswarm"]
    for cell in plots:
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.source


def test_scrub_removes_paths_ids_times_and_logs(tmp_path):
    cell = nbformat.v4.new_code_cell("print(run_id)")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout",
                               text=f"{'a1' * 16} m-{'0f' * 16} {tmp_path}/x.html 2026-11-29T04:01:39Z\n"),
        nbformat.v4.new_output("stream", name="stderr", text="2026/11/29 INFO mlflow: ...\n"),
        nbformat.v4.new_output("stream", name="stdout", text="flushed later\n"),
    ]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    refresh.scrub(notebook, tmp_path)
    assert [o.text for o in cell.outputs] == ["<id> <id> ./x.html <time>\nflushed later\n"]
    assert cell.metadata["segml"]["source"] == refresh.source_hash("print(run_id)")


@pytest.mark.slow
def test_quickstart_runs(tmp_path, monkeypatch):
    notebook = _execute("01_quickstart.ipynb", tmp_path, monkeypatch)
    text = _outputs(notebook)
    assert "ERROR" not in text
    assert "models:/segml-customer/1" in text and "churn_probability" in text and "ARI leaf" in text
    assert "churn-evaluation" in text and "fit_cutoff_churn" in text  # the lineage section
    assert (tmp_path / "quickstart_report.html").stat().st_size > 100_000
    assert (tmp_path / "mlflow.db").exists()
    stored = nbformat.read(ROOT / "notebooks" / "01_quickstart.ipynb", as_version=4)
    assert _shape(notebook) == _shape(stored)  # the stored outputs are of this code


@pytest.mark.slow
def test_bring_your_own_data_runs_on_telco(tmp_path, monkeypatch):
    from segml.data.telco import TelcoDownloadError, fetch_telco

    cached = ROOT / "data" / "telco" / "customers.csv"
    if cached.exists():
        (tmp_path / "telco_data").mkdir()
        shutil.copy(cached, tmp_path / "telco_data" / "customers.csv")
    else:
        try:
            fetch_telco(tmp_path / "telco_data")
        except (TelcoDownloadError, OSError) as exc:
            pytest.skip(f"the Telco data cannot be downloaded here: {exc}")
    notebook = _execute("02_bring_your_own_data.ipynb", tmp_path, monkeypatch)
    text = _outputs(notebook)
    assert "ERROR" not in text
    assert "attributes" in text and "roc_auc" in text and "churn_reasons" in text
    stored = nbformat.read(ROOT / "notebooks" / "02_bring_your_own_data.ipynb", as_version=4)
    assert _shape(notebook) == _shape(stored)  # the stored outputs are of this code


def test_fetch_telco_reads_an_export_once_and_caches_it(tmp_path):
    import pandas as pd

    from segml.data.telco import IBM_COLUMNS, fetch_telco

    export = pd.DataFrame({c: ["x", "y"] for c in IBM_COLUMNS})
    export["TotalCharges"] = ["29.85", " "]  # the export's blanks for brand-new customers
    export.to_csv(tmp_path / "export.csv", index=False)
    path = fetch_telco(tmp_path / "telco", csv=tmp_path / "export.csv")
    frame = pd.read_csv(path)
    assert list(frame.columns) == IBM_COLUMNS and frame["TotalCharges"].isna().tolist() == [False, True]
    assert (tmp_path / "telco" / ".gitignore").read_text() == "*\n"
    # cached: the source is not read again
    assert fetch_telco(tmp_path / "telco", csv=tmp_path / "missing.csv") == path
