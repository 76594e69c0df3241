"""A throwaway PostgreSQL cluster from the machine's binaries, on loopback, for the test session.

``initdb`` and ``postgres`` refuse to run as root, so under root (CI machines, containers) they
run as the ``postgres`` system user, on a data directory that user owns. Durability is off
(``fsync=off``): the tests kill optin processes, never this server, and the benches start a
cluster of their own with durable settings.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from tests.support.app_server import free_port

FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def binaries() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres (the newest version installed), if any."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


class Cluster:
    def __init__(self, bin_dir: Path, settings: tuple[str, ...] = FAST, max_connections: int = 200) -> None:
        self.bin = bin_dir
        self.settings = settings
        self.max_connections = max_connections
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="optin-pg-"))
        self.data = self.root / "data"
        self.user = "optin_test"
        self._as: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}\n{result.stderr}")

    def start(self) -> Cluster:
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8",
            "--no-sync", "--locale=C",
        )  # fmt: skip
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-k {self.root}",
            f"-c max_connections={self.max_connections}",
            *(f"-c {s}" for s in self.settings),
        ]
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-o", " ".join(options), "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self, migrated: bool = True) -> str:
        """A fresh database, its schema current like a deploy's `optin migrate` leaves it; its URL."""
        import psycopg

        from service.store import migrate
        from service.store.dialect import PgConnection, postgresql_dialect

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        if migrated:
            with psycopg.connect(self.url(name), autocommit=True) as conn:
                migrate.apply(PgConnection(conn, postgresql_dialect()))
        return self.url(name)
