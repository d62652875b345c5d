"""The notebooks in ``notebooks/`` execute top to bottom on small data (slow).

Each runs with nbclient in a tmp working directory with a tmp ``MLFLOW_TRACKING_URI`` and
``SEGML_NOTEBOOK_CUSTOMERS=1500``. The notebooks are stored without outputs (checked here too).
The Telco notebook needs the data: the repository's cached ``data/telco/customers.csv`` when it
exists, else :func:`segml.data.telco.fetch_telco` downloads it; without network it is skipped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="notebook tests need the dev extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need the dev extra (nbclient)")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _execute(name: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{workdir / 'mlflow.db'}")
    monkeypatch.setenv("SEGML_NOTEBOOK_CUSTOMERS", "1500")
    monkeypatch.setenv("SEGML_LOCK_DIR", str(workdir / "locks"))
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}})
    client.execute()
    return notebook


def _outputs(notebook, kind: str = "") -> str:
    texts = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                texts.append("ERROR " + out.get("ename", ""))
            texts.append(str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


def test_notebooks_are_stored_without_outputs():
    assert [p.name for p in NOTEBOOKS] == ["01_quickstart.ipynb", "02_bring_your_own_data.ipynb"]
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.slow
def test_quickstart_runs(tmp_path, monkeypatch):
    notebook = _execute("01_quickstart.ipynb", tmp_path, monkeypatch)
    text = _outputs(notebook)
    assert "ERROR" not in text
    assert "champion" in text and "churn_probability" in text and "ARI leaf" in text
    assert (tmp_path / "quickstart_report.html").stat().st_size > 100_000
    assert (tmp_path / "mlflow.db").exists()


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
