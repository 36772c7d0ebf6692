"""A throwaway PostgreSQL server for tests and benchmarks: a cluster made with Debian's
`initdb` in a temporary directory, started with `pg_ctl` on a free loopback port, as a user
that is not root (PostgreSQL refuses to run as root: when the tests run as root, the system
user `partnerbot-test` is created with `useradd` and runs the server), stopped and removed at
the end. Nothing of the machine's own PostgreSQL (a `main` cluster, a service) is used.

`find_binaries()` tells whether the server can be run here; `PostgresServer.start()` starts
it, `create_database()` gives each test an empty database of its own (its URL).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Self

TEST_USER = "partnerbot-test"  # the system user the server runs as when we are root
REQUIRE = "PARTNERBOT_REQUIRE_POSTGRES"  # set (CI): a missing PostgreSQL fails, never skips


def find_binaries() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres (Debian's /usr/lib/postgresql/N/bin,
    newest first, or the PATH), or None when PostgreSQL is not installed."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit()
                        else 0, reverse=True)
    found = shutil.which("initdb")
    if found:
        candidates.append(str(Path(found).resolve().parent))
    for directory in candidates:
        if all((Path(directory) / name).exists() for name in ("initdb", "pg_ctl", "postgres")):
            return Path(directory)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as() -> dict[str, Any]:
    """subprocess arguments that run the server as a user other than root."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", TEST_USER], check=True, capture_output=True)
        entry = pwd.getpwnam(TEST_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


class PostgresServer:
    """One throwaway cluster; `with PostgresServer() as server: server.create_database()`."""

    def __init__(self, binaries: Path | None = None) -> None:
        found = binaries or find_binaries()
        if found is None:
            raise RuntimeError("PostgreSQL is not installed (no initdb): apt-get install -y "
                               "postgresql")
        self.bin = found
        self.port = 0
        self.directory: Path | None = None
        self._names = itertools.count(1)
        self._as = _run_as()

    @property
    def data(self) -> Path:
        assert self.directory is not None
        return self.directory / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> Self:
        """initdb in a new temporary directory, then start on a free loopback port."""
        self.directory = Path(tempfile.mkdtemp(prefix="partnerbot-pg-"))
        if self._as:
            os.chown(self.directory, self._as["user"], self._as["group"])
        self._tool("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                   "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        for attempt in range(5):
            self.port = free_port()
            options = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
                       " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                       " -c max_connections=200")
            try:
                self._tool("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                           str(self.directory / "server.log"), "-w", "-t", "60", "start")
                return self
            except subprocess.CalledProcessError as exc:
                if attempt == 4:
                    raise RuntimeError("PostgreSQL did not start:\n" + self.log_tail()) from exc
        return self

    def log_tail(self, lines: int = 30) -> str:
        try:
            assert self.directory is not None
            text = (self.directory / "server.log").read_text(errors="replace")
        except (OSError, AssertionError):
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _tool(self, name: str, *args: str) -> None:
        subprocess.run([str(self.bin / name), *args], check=True, capture_output=True,
                       cwd=self.directory, **self._as)

    def admin(self) -> Any:
        """An autocommit connection to the `postgres` database, as the superuser."""
        import psycopg

        return psycopg.connect(self.url(), autocommit=True)

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database; its URL."""
        name = name or f"t{os.getpid()}_{next(self._names)}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def empty_database(self, url: str) -> None:
        """Drop everything in the database (its connections ended first)."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with self.admin() as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = %s AND pid <> pg_backend_pid()", [name])
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.directory is None:
            return
        try:
            self._tool("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_accepting(url: str, timeout: float = 10.0) -> None:
    """Wait until the server at `url` accepts connections."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
