"""A local PostgreSQL cluster in a folder, for the team MLflow server (:mod:`segml.scale.team_mlflow`).

Finds the server programs (``initdb``, ``pg_ctl``, ``postgres``), creates a cluster once with a
generated password for the ``mlflow`` role (password authentication on TCP and the socket), and
starts and stops it on a loopback port. As root, every PostgreSQL command runs as the
``postgres`` OS user (PostgreSQL refuses root).

Example
-------
>>> paths = TeamPaths(Path("/srv/team-mlflow"))
>>> paths.pgdata.name, paths.password_file.name
('pgdata', 'pg-password')
>>> redact("postgresql://mlflow:s3cret@127.0.0.1:5433/mlflow")
'postgresql://mlflow:***@127.0.0.1:5433/mlflow'
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PG_ROLE = "mlflow"
PG_DATABASE = "mlflow"
PG_OS_USER = "postgres"
PG_SEARCH = "/usr/lib/postgresql/*/bin"
PG_PROGRAMS = ("initdb", "pg_ctl", "postgres")
INSTALL_HINT = (
    "install the PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql`; it puts initdb, "
    "pg_ctl and postgres in /usr/lib/postgresql/<version>/bin), or set SEGML_PG_BINDIR to the "
    "folder that holds them"
)


class TeamMlflowError(RuntimeError):
    """The team server could not be set up, started or stopped; the message says why."""


@dataclass
class TeamPaths:
    """Where everything lives inside the team folder (see the module docstring).

    Example
    -------
    >>> TeamPaths(Path("team")).state_file.as_posix()
    'team/state.json'
    """

    root: Path
    pgdata: Path = field(init=False)
    password_file: Path = field(init=False)
    artifacts: Path = field(init=False)
    logs: Path = field(init=False)
    state_file: Path = field(init=False)
    ready_marker: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        names = ("pgdata", "pg-password", "artifacts", "logs", "state.json", ".cluster-ready")
        (self.pgdata, self.password_file, self.artifacts, self.logs, self.state_file,
         self.ready_marker) = (self.root / name for name in names)  # fmt: skip


def redact(uri: str) -> str:
    """``uri`` with the password of its user info replaced by ``***``.

    Example
    -------
    >>> redact("http://127.0.0.1:5000")
    'http://127.0.0.1:5000'
    """
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", uri)


# ------------------------------------------------------------------------------ binaries
def _version_key(path: str) -> tuple[int, ...]:
    digits = re.findall(r"\d+", Path(path).parent.name)
    return tuple(int(d) for d in digits) or (0,)


def has_programs(folder: Path) -> bool:
    return all((folder / name).is_file() for name in PG_PROGRAMS)


def find_pg_bindir(pg_config: str = "pg_config", search: str = PG_SEARCH) -> Path:
    """The folder holding PostgreSQL's ``initdb``, ``pg_ctl`` and ``postgres``.

    Looks at ``$SEGML_PG_BINDIR``, then ``pg_config --bindir``, then the newest ``search`` match
    (Debian's ``/usr/lib/postgresql/<version>/bin``), then ``initdb`` on the ``PATH``.

    Raises
    ------
    TeamMlflowError
        Naming the missing programs and how to install them.

    Example
    -------
    >>> find_pg_bindir()  # doctest: +SKIP
    PosixPath('/usr/lib/postgresql/15/bin')
    """
    candidates: list[Path] = []
    if os.environ.get("SEGML_PG_BINDIR"):
        candidates.append(Path(os.environ["SEGML_PG_BINDIR"]))
    if (exe := shutil.which(pg_config)) is not None:
        done = subprocess.run([exe, "--bindir"], capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip():
            candidates.append(Path(done.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob(search), key=_version_key, reverse=True)]
    if (initdb := shutil.which("initdb")) is not None:
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if has_programs(folder):
            return folder
    looked = ", ".join(str(c) for c in candidates) or "nothing found"
    raise TeamMlflowError(
        f"PostgreSQL server programs {', '.join(PG_PROGRAMS)} not found (looked in: {looked}); "
        + INSTALL_HINT
    )


def _as_owner(cmd: list[str], os_user: str) -> list[str]:
    """``cmd`` run as ``os_user`` when we are root (initdb and postgres refuse to run as root)."""
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    if runuser is None:
        raise TeamMlflowError("running as root needs `runuser` (util-linux) to start PostgreSQL")
    return [runuser, "-u", os_user, "--", *cmd]


def _run(cmd: list[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        raise TeamMlflowError(f"{what} failed (exit {done.returncode}): {redact(done.stderr or done.stdout)[-2000:]}")
    return done


def _check_os_user(os_user: str) -> None:
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(os_user)
    except KeyError:
        raise TeamMlflowError(
            f"as root, PostgreSQL must run as the {os_user!r} OS user, which does not exist "
            "(Debian's postgresql package creates it); create it or run as an ordinary user"
        ) from None


def _give_to(path: Path, os_user: str) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, user=os_user, group=None)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``.

    Example
    -------
    >>> isinstance(port_in_use(1), bool)
    True
    """
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


# ------------------------------------------------------------------------------ PostgreSQL
def _init_cluster(paths: TeamPaths, bindir: Path, os_user: str) -> None:
    if paths.pgdata.exists() and any(paths.pgdata.iterdir()):
        raise TeamMlflowError(
            f"{paths.pgdata} exists but was not fully initialised by segml; remove it and run up again"
        )
    paths.pgdata.mkdir(mode=0o700, parents=True, exist_ok=True)
    _give_to(paths.pgdata, os_user)
    check = subprocess.run(_as_owner(["test", "-w", str(paths.pgdata)], os_user), check=False)
    if check.returncode != 0:
        raise TeamMlflowError(
            f"the {os_user!r} OS user cannot reach {paths.pgdata}: every parent folder needs o+x "
            "(use a --dir under /tmp, /srv or your project folder)"
        )
    paths.password_file.write_text(secrets.token_urlsafe(24) + "\n")
    paths.password_file.chmod(0o600)
    _give_to(paths.password_file, os_user)  # initdb (run as os_user) reads it
    _run(_as_owner([str(bindir / "initdb"), "-D", str(paths.pgdata), "-U", PG_ROLE,
                    f"--pwfile={paths.password_file}", "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256", "--encoding=UTF8", "--locale=C"], os_user),
         "initdb")  # fmt: skip
    socket_dir = str(paths.pgdata).replace("'", "''")
    with open(paths.pgdata / "postgresql.conf", "a") as conf:
        conf.write(f"\n# segml team MLflow\nlisten_addresses = '127.0.0.1'\n"
                   f"unix_socket_directories = '{socket_dir}'\n")  # fmt: skip
    # Single-user mode creates the database before the server ever listens.
    single = _as_owner([str(bindir / "postgres"), "--single", "-D", str(paths.pgdata), "postgres"], os_user)
    done = _run(single, "creating the mlflow database", input=f"CREATE DATABASE {PG_DATABASE};\n")
    if "ERROR" in done.stdout:
        raise TeamMlflowError(f"creating the mlflow database failed: {done.stdout[-2000:]}")
    paths.ready_marker.write_text("ok\n")
    log.info("initialised PostgreSQL cluster in %s", paths.pgdata)


def postgres_running(paths: TeamPaths, bindir: Path | None = None, os_user: str = PG_OS_USER) -> bool:
    """Whether the cluster in ``paths.pgdata`` runs (``pg_ctl status``)."""
    if not (paths.pgdata / "PG_VERSION").exists():
        return False
    bindir = bindir or find_pg_bindir()
    cmd = _as_owner([str(bindir / "pg_ctl"), "status", "-D", str(paths.pgdata)], os_user)
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def _postmaster(paths: TeamPaths) -> tuple[int | None, int | None]:
    try:
        lines = (paths.pgdata / "postmaster.pid").read_text().splitlines()
        return int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None, None


def start_postgres(paths: TeamPaths, port: int = 5433, bindir: Path | None = None,
                   os_user: str = PG_OS_USER, timeout: int = 60) -> int:
    """Create the cluster when missing and start it on ``127.0.0.1:port``; return its pid.

    Idempotent: an existing cluster folder is reused, a running one is left running.

    Example
    -------
    >>> start_postgres(TeamPaths(Path(".team-mlflow")), port=5433)  # doctest: +SKIP
    41234
    """
    bindir = bindir or find_pg_bindir()
    _check_os_user(os_user)
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(exist_ok=True)
    if not paths.ready_marker.exists():
        _init_cluster(paths, bindir, os_user)
    if postgres_running(paths, bindir, os_user):
        pid, running_port = _postmaster(paths)
        if running_port != port:
            raise TeamMlflowError(f"the cluster in {paths.pgdata} already runs on port {running_port}")
        return int(pid or 0)
    if port_in_use(port):
        raise TeamMlflowError(f"port {port} is in use: choose another --pg-port")
    logfile = paths.logs / "postgres.log"
    logfile.touch()
    _give_to(logfile, os_user)
    _run(_as_owner([str(bindir / "pg_ctl"), "start", "-D", str(paths.pgdata), "-l", str(logfile),
                    "-w", "-t", str(timeout), "-o", f"-p {int(port)}"], os_user),
         f"starting PostgreSQL (log: {logfile})")  # fmt: skip
    pid, _ = _postmaster(paths)
    log.info("PostgreSQL running on 127.0.0.1:%s (pid %s)", port, pid)
    return int(pid or 0)


def stop_postgres(paths: TeamPaths, bindir: Path | None = None, os_user: str = PG_OS_USER) -> bool:
    """Stop the cluster (fast shutdown); False when it was not running."""
    bindir = bindir or find_pg_bindir()
    if not postgres_running(paths, bindir, os_user):
        return False
    _run(_as_owner([str(bindir / "pg_ctl"), "stop", "-D", str(paths.pgdata), "-m", "fast", "-w"],
                   os_user), "stopping PostgreSQL")  # fmt: skip
    return True


def backend_store_uri(paths: TeamPaths, pg_port: int) -> str:
    """The SQLAlchemy URI of the cluster's ``mlflow`` database, password included: keep it secret."""
    password = paths.password_file.read_text().strip()
    return f"postgresql+psycopg2://{PG_ROLE}:{password}@127.0.0.1:{pg_port}/{PG_DATABASE}"
