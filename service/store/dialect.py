"""What differs between SQLite and PostgreSQL, in one place: connections, placeholders, locks.

Every query in this package is written once, with ``?`` placeholders and portable SQL (``ON
CONFLICT``, ``RETURNING``, ``CASE``); a :class:`Connection` runs it on either database. The few
fragments that cannot be portable are attributes of a :class:`Dialect`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import psycopg

Name = Literal["sqlite", "postgresql"]
JOBS_CHANNEL = "optin_jobs"


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """The little of a DB-API connection the store uses; ``?`` placeholders on both databases."""

    dialect: Dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def stream(self, sql: str, size: int) -> Iterator[list[Any]]:
        """The rows of one large read, ``size`` at a time, without holding them all in memory."""
        ...


@dataclass(frozen=True)
class Dialect:
    name: Name
    begin: str  # opens a write transaction
    skip_locked: str  # after a claim's inner SELECT: rows another instance holds are skipped
    lock: str  # takes a lock named by a text key until the transaction ends ("" when writes are serial)
    retry_on: tuple[type[Exception], ...]  # an operation failing with these is run again in its savepoint
    # An operation failing with these waits for another transaction that may wait for a lock an
    # earlier operation of its own batch holds: the batch commits what it has, and the operation
    # and those after it run again in the next batch.
    yield_on: tuple[type[Exception], ...] = ()
    notify: str = ""  # tells other instances' workers that a job was queued (sent at COMMIT)
    row_id: str = "rowid"  # the physical row's name, for tables without a key
    # Statements without parameters can be sent together, in one round trip (PostgreSQL's
    # simple query protocol; SQLite's execute takes one statement, and costs no round trip).
    joins_statements: bool = False


SQLITE = Dialect(name="sqlite", begin="BEGIN IMMEDIATE", skip_locked="", lock="", retry_on=())


def postgresql_dialect() -> Dialect:
    import psycopg.errors

    return Dialect(
        name="postgresql",
        begin="BEGIN",
        skip_locked=" FOR UPDATE SKIP LOCKED",
        lock="SELECT pg_advisory_xact_lock(hashtextextended(?, 0))",
        # Two instances inserting the same contact: the loser's operation is rolled back to its
        # savepoint and run again, now seeing the winner.
        retry_on=(psycopg.errors.UniqueViolation, psycopg.errors.SerializationFailure),
        # A deadlock between two batches: each operation takes its locks in one order, but a
        # batch holds every lock its earlier operations took (a hook's signup: the contact, then
        # the budget; the next one, from a visitor: the visitor's address first). Run again in
        # place, the operation meets the same cycle; after the batch's COMMIT, it is gone.
        yield_on=(psycopg.errors.DeadlockDetected,),
        notify=f"NOTIFY {JOBS_CHANNEL}",
        row_id="ctid",
        joins_statements=True,
    )


class SqliteConnection:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.dialect = SQLITE

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.db.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.db.executemany(sql, rows)

    def stream(self, sql: str, size: int) -> Iterator[list[Any]]:
        cursor = self.db.execute(sql)
        while chunk := cursor.fetchmany(size):
            yield chunk


BUSY_SECONDS = 10.0  # how long a connection waits for another one's write lock


def sqlite_connect(path: str) -> SqliteConnection:
    """A connection in WAL with durable commits; a busy writer is waited for, not failed on."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
    _into_wal(db)
    for pragma in ("synchronous = FULL", "foreign_keys = ON"):
        db.execute(f"PRAGMA {pragma}")
    return SqliteConnection(db)


def _into_wal(db: sqlite3.Connection) -> None:
    """Switch a database to WAL. SQLite answers "database is locked" at once, without waiting out
    the busy timeout, when another connection switches the same new file at the same moment
    (two processes starting on a fresh database: `serve --workers 4`, a web and a worker role):
    try again for as long as a busy writer would be waited for."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@lru_cache(maxsize=512)
def pg_sql(sql: str) -> str:
    """``?`` placeholders become psycopg's ``%s`` (a literal ``%`` is doubled first)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    def __init__(self, conn: psycopg.Connection[Any], dialect: Dialect) -> None:
        self.conn = conn
        self.dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.conn.execute(pg_sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(pg_sql(sql), rows)

    def stream(self, sql: str, size: int) -> Iterator[list[Any]]:
        # A server-side cursor lives in a transaction of its own connection's.
        with self.conn.transaction(), self.conn.cursor(name="optin_stream") as cursor:
            cursor.execute(sql)
            while chunk := cursor.fetchmany(size):
                yield chunk


@contextmanager
def connect(url: str) -> Iterator[SqliteConnection | PgConnection]:
    """One plain connection to the database at ``url`` (for migrations, copies and the CLI)."""
    if url.startswith("sqlite:///"):
        conn = sqlite_connect(url.removeprefix("sqlite:///"))
        try:
            yield conn
        finally:
            conn.db.close()
        return
    import psycopg

    from service.errors import StoreError

    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StoreError(f"cannot use the database {describe(url)}: {reason}") from None
    try:
        yield PgConnection(raw, postgresql_dialect())
    finally:
        raw.close()


def describe(url: str) -> str:
    """The database a URL names, without its password: for messages and logs."""
    if url.startswith("sqlite:///"):
        return url
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:
        return "a PostgreSQL database (its URL cannot be parsed)"
    host = parts.get("host") or "localhost"
    port = f":{parts['port']}" if parts.get("port") else ""
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname', '')}"


def statements(script: str) -> list[str]:
    """Split a migration script into statements (SQLite runs one at a time inside a transaction)."""
    found: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            found.append(buffer.strip())
            buffer = ""
    rest = "\n".join(ln for ln in buffer.splitlines() if not ln.strip().startswith("--")).strip()
    if rest:
        found.append(rest)
    return found
