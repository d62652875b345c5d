"""Output paths (family 10, round 2, issue 31): ``--out`` never replaces what is not a regular
file (devices, FIFOs, folders, links to them), a write that fails or is interrupted leaves no
temporary file, and a written file has the mode ``open()`` would give it (umask respected)."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pandas as pd
import pytest

from segml.data.io import replace_atomically, write_frame_atomic
from segml.errors import DataError

from .helpers import NAME, assert_handled, invoke


@pytest.fixture
def env(trained, tmp_path):
    return {"MLFLOW_TRACKING_URI": trained["uri"], "SEGML_LOCK_DIR": str(tmp_path / "locks")}


def _device_copy(path: Path, of: str) -> bool:
    """A copy of a character device (``mknod``: needs root, as in containers)."""
    info = os.stat(of)
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, info.st_rdev)
    except PermissionError:
        return False
    return True


def _make(kind: str, path: Path) -> None:
    if kind in ("null", "full"):
        if not _device_copy(path, f"/dev/{kind}"):
            pytest.skip("mknod needs root")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "link-to-null":
        path.symlink_to("/dev/null")
    elif kind == "link-to-folder":
        (path.parent / "elsewhere").mkdir()
        path.symlink_to(path.parent / "elsewhere")


KINDS = [pytest.param(k, id=f"f10-out-is-{k}")
         for k in ("null", "full", "fifo", "folder", "link-to-null", "link-to-folder")]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("kind", KINDS)
def test_score_never_replaces_a_non_regular_file(env, source, tmp_path, kind):
    out = tmp_path / "scores.parquet"
    _make(kind, out)
    before = os.lstat(out)
    result = invoke("score", "--model", f"models:/{NAME}@champion", "--data", source, "--out",
                    out, env=env)
    assert_handled(result, 1, "--out")
    after = os.lstat(out)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", KINDS)
def test_report_never_replaces_a_non_regular_file(env, trained, tmp_path, kind):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(trained["uri"], registry_uri=trained["uri"])
    run_id = client.get_model_version_by_alias(NAME, "champion").run_id
    out = tmp_path / "report.html"
    _make(kind, out)
    before = os.lstat(out)
    result = invoke("report", "--run-id", run_id, "--out", out, env=env)
    assert_handled(result, 1, "not a regular file" if kind != "folder" else None)
    after = os.lstat(out)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", KINDS)
def test_the_helper_refuses_non_regular_targets(tmp_path, kind):
    out = tmp_path / "x.csv"
    _make(kind, out)
    with pytest.raises(DataError, match="not a regular file"):
        write_frame_atomic(pd.DataFrame({"a": [1]}), out)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [
    pytest.param(OSError(28, "No space left on device"), id="f10-disk-full"),
    pytest.param(OSError(5, "Input/output error"), id="f10-io-error"),
    pytest.param(KeyboardInterrupt(), id="f10-ctrl-c-mid-write"),
    pytest.param(MemoryError(), id="f10-out-of-memory-mid-write"),
])
def test_a_failed_write_leaves_no_temp_file_and_the_old_output(tmp_path, error):
    out = tmp_path / "scores.csv"
    out.write_text("old\n")

    def failing(tmp: str) -> None:
        Path(tmp).write_text("half a fi")
        raise error

    with pytest.raises(type(error)):
        replace_atomically(out, failing)
    assert out.read_text() == "old\n"
    assert _leftovers(tmp_path) == []


def test_f10_disk_full_in_score_is_one_line(env, source, tmp_path, monkeypatch):
    def full(self, path, *args, **kwargs):
        Path(path).write_bytes(b"PAR1")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    out = tmp_path / "scores.parquet"
    result = invoke("score", "--model", f"models:/{NAME}@champion", "--data", source, "--out",
                    out, env=env)
    assert_handled(result, 1, "No space left on device")
    assert not out.exists() and _leftovers(tmp_path) == []


@pytest.mark.parametrize("signum", [pytest.param(signal.SIGTERM, id="f10-sigterm-during-write"),
                                    pytest.param(signal.SIGINT, id="f10-sigint-during-write")])
def test_a_signal_during_score_write_leaves_no_temp_file(env, source, tmp_path, monkeypatch,
                                                         signum):
    """The signal arrives while the temporary file is half written: exit 128+N, no temp file,
    and the previous output untouched."""
    write = pd.DataFrame.to_parquet

    def interrupted(self, path, *args, **kwargs):
        write(self.head(3), path, *args, **kwargs)
        os.kill(os.getpid(), signum)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", interrupted)
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"previous")
    result = invoke("score", "--model", f"models:/{NAME}@champion", "--data", source, "--out",
                    out, env=env)
    assert_handled(result, 128 + signum, "interrupted by")
    assert out.read_bytes() == b"previous" and _leftovers(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


@pytest.mark.parametrize("umask", [pytest.param(m, id=f"f10-umask-{m:03o}")
                                   for m in (0o022, 0o027, 0o002, 0o077)])
@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".html"])
def test_a_new_output_respects_the_umask(tmp_path, umask, suffix):
    """Issue 32: like ``open()``, not 0600 like ``mkstemp``."""
    out = tmp_path / f"out{suffix}"
    saved = os.umask(umask)
    try:
        if suffix == ".html":
            from segml.report.html import write_html_atomic

            write_html_atomic("<p>x</p>", out)
        else:
            write_frame_atomic(pd.DataFrame({"a": [1]}), out)
    finally:
        os.umask(saved)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_f10_a_replaced_output_keeps_its_mode(tmp_path):
    out = tmp_path / "scores.csv"
    out.write_text("old\n")
    out.chmod(0o640)
    write_frame_atomic(pd.DataFrame({"a": [1]}), out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and "old" not in out.read_text()


def test_f10_csv_gz_output_is_compressed(tmp_path):
    out = tmp_path / "scores.csv.gz"
    write_frame_atomic(pd.DataFrame({"a": [1, 2]}), out)
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    assert pd.read_csv(out)["a"].tolist() == [1, 2]
