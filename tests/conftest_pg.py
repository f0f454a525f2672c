"""A throwaway PostgreSQL server for the tests: a cluster in a temporary folder, on a free
port of 127.0.0.1 only, a password-authenticated role (scram-sha-256) and its database;
stopped and removed at the end of the session. Skipped, saying why, where PostgreSQL is
not installed. Test modules use it with ``from conftest_pg import pg  # noqa: F401``."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl are (Debian keeps them off PATH)."""
    candidates: list[str] = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb")).parent))  # type: ignore[arg-type]
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """The running test server; ``stop``/``start`` let a test take it away for a while."""

    user, database = "seqtune", "seqtune"

    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir, self.root = bindir, root
        self.data, self.sockets = root / "data", root / "sock"
        self.port = free_port()
        self.password = "pw-" + secrets.token_hex(8)

    def _as_postgres(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(
            [*prefix, *cmd], capture_output=True, text=True, check=check, timeout=120
        )

    def url(
        self, password: str | None = None, database: str | None = None, port: int | None = None
    ) -> str:
        return (
            f"postgresql+psycopg://{self.user}:{password or self.password}@127.0.0.1:"
            f"{port or self.port}/{database or self.database}"
        )

    def init(self) -> None:
        pwfile = self.root / "pw"
        pwfile.write_text("superuser-" + secrets.token_hex(8) + "\n")
        self._chown()
        self._as_postgres(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start()
        self.sql(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'")
        self.sql(f"CREATE DATABASE {self.database} OWNER {self.user}")

    def _chown(self) -> None:
        if os.geteuid() == 0:
            self.sockets.mkdir(exist_ok=True)
            shutil.chown(self.root, "postgres")
            for path in self.root.iterdir():
                shutil.chown(path, "postgres")

    def sql(self, statement: str, database: str = "postgres") -> str:
        return self._as_postgres(
            str(self.bindir / "psql"),
            "-h",
            str(self.sockets),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-tAc",
            statement,
        ).stdout

    def create_database(self, name: str) -> str:
        self.sql(f"CREATE DATABASE {name} OWNER {self.user}")
        return self.url(database=name)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c fsync=off"
        )
        self._as_postgres(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            "start",
        )
        deadline = time.time() + 30
        while self._as_postgres(
            str(self.bindir / "pg_isready"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            check=False,
        ).returncode:
            assert time.time() < deadline, "the test PostgreSQL server did not start"
            time.sleep(0.2)

    def stop(self) -> None:
        self._as_postgres(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-m",
            "fast",
            "-w",
            "stop",
            check=False,
        )


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        pytest.skip("running as root without runuser: PostgreSQL refuses to run as root")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'seqtune[postgres]')")
    root = Path(tempfile.mkdtemp(prefix="seqtune-pg-"))
    server = PgServer(bindir, root)
    try:
        server.init()
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start a test PostgreSQL server: {exc.stderr.strip()[:300]}")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
