"""A team MLflow tracking server backed by a local PostgreSQL cluster (docs/spark.md).

``up`` creates (once) and starts a PostgreSQL cluster on a loopback port, then starts
``mlflow server`` against it with proxied artifacts in a local folder; ``down`` stops both and keeps
the data; ``status`` reports. The folder (``--dir``, default ``.team-mlflow``) holds::

    pgdata/        the cluster (owned by the ``postgres`` OS user when run as root)
    pg-password    the generated password of the ``mlflow`` database role (mode 0600)
    artifacts/     the artifact root the server proxies (``--artifacts-destination``)
    logs/          postgres.log and mlflow-server.log
    state.json     pids, ports and the tracking URI (never the password)

From a shell: ``python -m segml.scale.team_mlflow up --dir .team-mlflow --pg-port 5433 --port 5000``
then ``export MLFLOW_TRACKING_URI=http://127.0.0.1:5000``. See ``docs/team-mlflow.md``.

The PostgreSQL half lives in :mod:`segml.scale.postgres`.

Example
-------
>>> TeamPaths(Path("/srv/team-mlflow")).artifacts.name
'artifacts'
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from segml.scale.postgres import (  # noqa: F401 - re-exported: the team server's API
    INSTALL_HINT,
    PG_DATABASE,
    PG_OS_USER,
    PG_PROGRAMS,
    PG_ROLE,
    TeamMlflowError,
    TeamPaths,
    backend_store_uri,
    find_pg_bindir,
    has_programs,
    port_in_use,
    postgres_running,
    redact,
    start_postgres,
    stop_postgres,
)

log = logging.getLogger(__name__)

# ------------------------------------------------------------------------------ MLflow server
def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:  # reap our own exited child (tests start the server in-process)
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def healthy(url: str, timeout: float = 2.0) -> bool:
    """Whether ``url/health`` answers ``OK``."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


def _is_our_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): trust the state file
    return b"mlflow" in b" ".join(cmdline) and os.getpgid(pid) == pid


def start_server(paths: TeamPaths, pg_port: int, port: int = 5000, host: str = "127.0.0.1",
                 workers: int = 1, timeout: float = 180.0) -> int:
    """Start ``mlflow server`` on the cluster with proxied artifacts; return its pid once healthy.

    The backend URI (with its password) goes through ``MLFLOW_BACKEND_STORE_URI`` in the child's
    environment, not its command line. Output goes to ``logs/mlflow-server.log``. MLflow's GenAI
    job runner stays off unless ``MLFLOW_SERVER_ENABLE_JOB_EXECUTION`` is set.
    """
    url = f"http://{host}:{port}"
    if importlib.util.find_spec("psycopg2") is None:
        raise TeamMlflowError("the MLflow server needs psycopg2 to talk to PostgreSQL: "
                              "pip install 'segml[scale]' (or psycopg2-binary)")
    if port_in_use(port, host):
        raise TeamMlflowError(f"port {port} on {host} is in use: choose another --port")
    paths.artifacts.mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": backend_store_uri(paths, pg_port)}
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_REGISTRY_STORE_URI"):
        env.pop(name, None)
    # MLflow 3's GenAI job runner (eight huey consumer processes) is not used by segml: opt in by
    # exporting MLFLOW_SERVER_ENABLE_JOB_EXECUTION=true.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    cmd = [sys.executable, "-m", "mlflow", "server", "--artifacts-destination",
           str(paths.artifacts.resolve()), "--host", host, "--port", str(port),
           "--workers", str(workers)]  # fmt: skip
    logfile = paths.logs / "mlflow-server.log"
    with open(logfile, "ab") as sink:
        proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=paths.root, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                stop_server(proc.pid)
            tail = redact(logfile.read_text(errors="replace")[-2000:])
            raise TeamMlflowError(f"mlflow server did not become healthy on {url} "
                                  f"(exit code {proc.returncode}); log {logfile}:\n{tail}")
        time.sleep(0.5)
    log.info("MLflow server healthy on %s (pid %s)", url, proc.pid)
    return proc.pid


def stop_server(pid: int | None, timeout: float = 10.0) -> bool:
    """SIGTERM the server's process group (SIGKILL after ``timeout``); False when not running."""
    if not _alive(pid) or not _is_our_server(int(pid)):  # type: ignore[arg-type]
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(int(pid), sig)  # type: ignore[arg-type]
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return True
            time.sleep(0.2)
    return not _alive(pid)


# ------------------------------------------------------------------------------ up / down
@dataclass
class TeamState:
    """What ``up`` started (written to ``state.json``; no password)."""

    tracking_uri: str
    backend_store_uri: str
    artifacts: str
    pg_port: int
    pg_pid: int | None
    port: int
    host: str
    server_pid: int | None
    bindir: str

    def write(self, paths: TeamPaths) -> None:
        tmp = paths.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, paths.state_file)

    @classmethod
    def read(cls, paths: TeamPaths) -> TeamState | None:
        if not paths.state_file.exists():
            return None
        return cls(**json.loads(paths.state_file.read_text()))


def up(root: str | Path = ".team-mlflow", pg_port: int = 5433, port: int = 5000,
       host: str = "127.0.0.1", bindir: str | Path | None = None, timeout: float = 180.0,
       server: bool = True) -> TeamState:
    """Start PostgreSQL and the MLflow server (reusing whatever already runs); return the state.

    ``server=False`` starts PostgreSQL alone (e.g. for ``mlflow db upgrade``).

    Example
    -------
    >>> state = up(".team-mlflow", pg_port=5433, port=5000)  # doctest: +SKIP
    >>> state.tracking_uri  # doctest: +SKIP
    'http://127.0.0.1:5000'
    """
    paths = TeamPaths(Path(root).absolute())
    pg_bin = Path(bindir) if bindir else find_pg_bindir()
    pg_pid = start_postgres(paths, pg_port, pg_bin)
    url = f"http://{host}:{port}"
    previous = TeamState.read(paths)
    if previous and previous.port == port and _alive(previous.server_pid) and healthy(url):
        server_pid = previous.server_pid
    elif not server:
        server_pid = None
    else:
        server_pid = start_server(paths, pg_port, port, host, timeout=timeout)
    state = TeamState(url, redact(backend_store_uri(paths, pg_port)), str(paths.artifacts), pg_port,
                      pg_pid, port, host, server_pid, str(pg_bin))  # fmt: skip
    state.write(paths)
    return state


def down(root: str | Path = ".team-mlflow") -> dict[str, bool]:
    """Stop the server and PostgreSQL; the data stays. Returns what was actually stopped."""
    paths = TeamPaths(Path(root).absolute())
    state = TeamState.read(paths)
    stopped = {"server": stop_server(state.server_pid) if state else False, "postgres": False}
    if paths.ready_marker.exists():
        bindir = Path(state.bindir) if state and has_programs(Path(state.bindir)) else None
        stopped["postgres"] = stop_postgres(paths, bindir)
    if state:
        state.server_pid = state.pg_pid = None
        state.write(paths)
    return stopped


def status(root: str | Path = ".team-mlflow") -> dict[str, Any]:
    """``postgres`` and ``server``: running/stopped/absent, plus the tracking URI when known."""
    paths = TeamPaths(Path(root).absolute())
    state = TeamState.read(paths)
    if not paths.ready_marker.exists():
        return {"postgres": "absent", "server": "absent", "tracking_uri": None}
    bindir = Path(state.bindir) if state and has_programs(Path(state.bindir)) else None
    pg = "running" if postgres_running(paths, bindir) else "stopped"
    server = "stopped"
    if state and _alive(state.server_pid):
        server = "running" if healthy(state.tracking_uri) else "unhealthy"
    return {"postgres": pg, "server": server,
            "tracking_uri": state.tracking_uri if state else None}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """``python -m segml.scale.team_mlflow {up,down,status,backend-uri}``: exit 0, 1 on failure."""
    parser = argparse.ArgumentParser(prog="python -m segml.scale.team_mlflow", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "backend-uri"])
    parser.add_argument("--dir", default=".team-mlflow", help="team folder (default .team-mlflow)")
    parser.add_argument("--pg-port", type=int, default=5433, help="PostgreSQL port (default 5433)")
    parser.add_argument("--port", type=int, default=5000, help="MLflow server port (default 5000)")
    parser.add_argument("--host", default="127.0.0.1", help="server interface (default 127.0.0.1)")
    parser.add_argument("--postgres-only", action="store_true", help="up: start PostgreSQL alone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command == "up":
            state = up(args.dir, args.pg_port, args.port, args.host, server=not args.postgres_only)
            print(f"PostgreSQL on 127.0.0.1:{state.pg_port}, artifacts in {state.artifacts}")
            if state.server_pid:
                print(f"export MLFLOW_TRACKING_URI={state.tracking_uri}")
        elif args.command == "down":
            print(json.dumps(down(args.dir)))
        elif args.command == "status":
            print(json.dumps(status(args.dir), indent=2))
        else:  # for `mlflow db upgrade` and pg_dump; prints the password
            print(backend_store_uri(TeamPaths(Path(args.dir)), args.pg_port))
    except TeamMlflowError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
