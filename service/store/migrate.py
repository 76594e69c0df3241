"""Versioned schema migrations, for SQLite and PostgreSQL alike.

Migrations are numbered SQL files, one folder per database (``migrations/sqlite``,
``migrations/postgresql``), with the same numbers and names in both. Each is applied in its own
transaction together with its row in ``schema_migrations``, so a crash leaves the schema at the
last version that fully applied. A database made by optin 0.1 (no ``schema_migrations`` table,
but the tables of ``0001``) counts as version 1. Two instances starting at once cannot both
migrate: SQLite's write lock and a PostgreSQL advisory lock let one go first; the other then
finds nothing left to do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from service.errors import SchemaVersionError, StoreError
from service.store.dialect import Connection, Name, connect, statements

MIGRATION_LOCK = 0x6F7074696E  # "optin": the advisory lock key every PostgreSQL instance agrees on

_VERSION_TABLE = {
    "sqlite": "CREATE TABLE IF NOT EXISTS schema_migrations"
    " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)",
    "postgresql": "CREATE TABLE IF NOT EXISTS schema_migrations"
    " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)",
}
_TABLE_EXISTS = {
    "sqlite": "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
    "postgresql": "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?",
}


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def __str__(self) -> str:
        return f"{self.version:04d} {self.name.replace('_', ' ')}"


@cache
def available(dialect: Name) -> tuple[Migration, ...]:
    folder = resources.files("service.store").joinpath("migrations", dialect)
    found = []
    for entry in folder.iterdir():
        stem, _, suffix = entry.name.partition(".")
        if suffix != "sql":
            continue
        number, _, name = stem.partition("_")
        found.append(Migration(int(number), name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise StoreError(f"the {dialect} migrations are not numbered 1, 2, 3…: {[m.version for m in found]}")
    return tuple(found)


def latest(dialect: Name) -> int:
    return len(available(dialect))


_TABLES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename",
}


def tables(conn: Connection) -> list[str]:
    """Every table the migrations made (not the version table), in name order."""
    return [
        str(r[0]) for r in conn.execute(_TABLES[conn.dialect.name]).fetchall() if r[0] != "schema_migrations"
    ]


def _table_exists(conn: Connection, table: str) -> bool:
    return bool(conn.execute(_TABLE_EXISTS[conn.dialect.name], (table,)).fetchone()[0])


def current_version(conn: Connection) -> int:
    """The schema's version: 0 for an empty database, 1 for optin 0.1's unversioned schema."""
    if _table_exists(conn, "schema_migrations"):
        row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)
    return 1 if _table_exists(conn, "contacts") else 0


def pending(conn: Connection) -> list[Migration]:
    return list(available(conn.dialect.name)[current_version(conn) :])


def _check(found: int, expected: int) -> None:
    if found > expected:
        raise SchemaVersionError(
            f"the database schema is at version {found}, newer than this optin knows ({expected}):"
            " it was upgraded by a newer optin; run that version (or restore a backup)",
            found=found,
            expected=expected,
        )


def ensure_current(conn: Connection, auto_migrate: bool) -> list[Migration]:
    """Leave the schema current (migrating when allowed) or say, in words, why it is not."""
    found, expected = current_version(conn), latest(conn.dialect.name)
    _check(found, expected)
    if found == expected:
        return []
    if not auto_migrate:
        raise SchemaVersionError(
            f"the database schema is at version {found}; this optin needs version {expected}:"
            " run `optin migrate` (or set server.auto_migrate = true)",
            found=found,
            expected=expected,
        )
    return apply(conn)


def apply(conn: Connection) -> list[Migration]:
    """Apply every pending migration, each in its own transaction; returns what was applied."""
    if conn.dialect.name == "postgresql":
        conn.execute("SELECT pg_advisory_lock(?)", (MIGRATION_LOCK,)).fetchone()
        try:
            return _apply_each(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(?)", (MIGRATION_LOCK,)).fetchone()
    # Rebuilding a table (SQLite's way to change a column) needs foreign keys off, outside
    # a transaction; they are checked before each COMMIT instead.
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        return _apply_each(conn)
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


def _apply_each(conn: Connection) -> list[Migration]:
    applied: list[Migration] = []
    expected = latest(conn.dialect.name)
    while True:
        conn.execute(conn.dialect.begin)
        try:
            found = current_version(conn)  # again, under the lock: another instance may have gone first
            _check(found, expected)
            if found == expected:
                conn.execute("COMMIT")
                return applied
            legacy = found == 1 and not _table_exists(conn, "schema_migrations")
            conn.execute(_VERSION_TABLE[conn.dialect.name])
            if legacy:
                _record(conn, available(conn.dialect.name)[0])
            migration = available(conn.dialect.name)[found]
            for statement in statements(migration.sql):
                conn.execute(statement)
            if conn.dialect.name == "sqlite":
                broken = conn.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise StoreError(f"migration {migration} would break foreign keys: {broken[:5]}")
            _record(conn, migration)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(migration)


def _record(conn: Connection, migration: Migration) -> None:
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        (migration.version, migration.name, time.time()),
    )


def script(migrations: list[Migration]) -> str:
    """What ``optin migrate --dry-run`` prints: the SQL that would run, in order."""
    return "\n\n".join(f"-- migration {m}\n{m.sql.strip()}" for m in migrations)


@dataclass(frozen=True)
class Upgrade:
    """What ``optin migrate`` did (or, with ``dry_run``, would do)."""

    found: int
    expected: int
    migrations: list[Migration]


def upgrade(url: str, dry_run: bool = False) -> Upgrade:
    """Bring the database at ``url`` to the latest schema (``optin migrate``)."""
    with connect(url) as conn:
        found, expected = current_version(conn), latest(conn.dialect.name)
        _check(found, expected)
        if dry_run:
            return Upgrade(found, expected, pending(conn))
        return Upgrade(found, expected, apply(conn))


def status(url: str, auto_migrate: bool) -> str:
    """What ``optin check-config`` says of the database, in words; StoreError when ``serve`` would
    refuse it (unreachable, a newer schema, an older one it may not migrate)."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return f"a new SQLite file, created at start-up with schema version {latest('sqlite')}"
    with connect(url) as conn:
        found, expected = current_version(conn), latest(conn.dialect.name)
    _check(found, expected)
    if found == expected:
        return f"reachable, schema version {found} (current)"
    if found == 0:
        what = "empty"
    else:
        what = f"schema version {found}, this optin needs {expected}"
    if auto_migrate:
        return f"reachable, {what}: start-up applies the migrations"
    raise SchemaVersionError(
        f"the database is {what}: run `optin migrate` (or set server.auto_migrate = true)",
        found=found,
        expected=expected,
    )
