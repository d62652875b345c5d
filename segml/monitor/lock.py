"""A lock so two retrains of the same model never run at once on a machine.

``fcntl.flock`` on a file is released by the kernel when the process dies, so a crashed retrain
never leaves a stale lock behind (unlike a marker file or a registry tag).

Example
-------
>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> with retrain_lock("segml-customer", "sqlite:///mlflow.db", lock_dir=folder):
...     pass
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path


class LockHeld(RuntimeError):
    """Another retrain of the same model holds the lock."""


def default_lock_dir() -> Path:
    return Path(os.environ.get("SEGML_LOCK_DIR", Path.home() / ".cache" / "segml" / "locks"))


def _store_key(tracking_uri: str) -> str:
    """One name per tracking store, however it is reached.

    A local store (a sqlite file or a folder) is named by its real path: a relative path names a
    different store in each working directory, and a symlink or ``..`` the store it leads to. A
    server URI (``http://``, ``postgresql://``) is the same store wherever the job starts; its
    credentials are left out (two users of one server share its lock) and the scheme and host
    are compared without case.

    Examples
    --------
    >>> _store_key("http://mlflow:5000/") == _store_key("HTTP://alice:pw@MLflow:5000")
    True
    """
    if "://" in tracking_uri and not tracking_uri.lower().startswith(("sqlite:", "file:")):
        scheme, _, rest = tracking_uri.partition("://")
        host, slash, path = rest.partition("/")
        host = host.rsplit("@", 1)[-1].lower()
        return f"{scheme.lower()}://{host}{slash}{path}".rstrip("/")
    local = tracking_uri.removeprefix("sqlite:///").removeprefix("file://").split("?", 1)[0]
    return os.path.realpath(local)


@contextlib.contextmanager
def retrain_lock(
    model_name: str,
    tracking_uri: str,
    *,
    lock_dir: str | os.PathLike[str] | None = None,
    timeout_seconds: float = 0.0,
) -> Iterator[Path]:
    """Hold an exclusive lock for (tracking store, model) or raise :class:`LockHeld`."""
    folder = Path(lock_dir) if lock_dir else default_lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    key = f"{_store_key(tracking_uri)}|{model_name}"
    path = folder / f"retrain-{hashlib.sha256(key.encode()).hexdigest()[:16]}.lock"
    handle = open(path, "a+")  # noqa: SIM115 - must stay open while the lock is held
    deadline = time.monotonic() + timeout_seconds
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise LockHeld(
                        f"another retrain of '{model_name}' is running ({holder}); "
                        f"lock file {path}"
                    ) from None
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        yield path
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
