"""``optin copy-db FROM TO``: move every row from one database to another (SQLite ⇄ PostgreSQL).

Both ends run the same migrations, so they have the same tables and columns; rows keep their ids
(links and the ledger refer to them), and PostgreSQL's identity counters are moved past the
largest copied id so a new row never takes an old one's id. The target must be empty: a copy
never merges into a database that is in use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from service.errors import StoreError
from service.store import migrate
from service.store.dialect import Connection, connect, describe

# Tables others refer to (foreign keys) go first; then every other table the migrations made,
# in name order, so a table a later migration adds is copied without a change here.
PARENTS = ("contacts",)
CHUNK = 1000


def copy_order(conn: Connection) -> list[str]:
    found = migrate.tables(conn)
    return [*(t for t in PARENTS if t in found), *(t for t in found if t not in PARENTS)]


@dataclass(frozen=True)
class Copied:
    table: str
    rows: int


def _columns(conn: Connection, table: str) -> list[str]:
    cursor = conn.execute(f"SELECT * FROM {table} WHERE 1 = 0")
    return [str(d[0]) for d in cursor.description]


def _ready(source: Connection, target: Connection, source_url: str, target_url: str) -> None:
    found, expected = migrate.current_version(source), migrate.latest(source.dialect.name)
    if found != expected:
        raise StoreError(
            f"the source {describe(source_url)} has schema version {found}, not {expected}:"
            " run `optin migrate` on it first"
        )
    migrate.ensure_current(target, auto_migrate=True)
    for table in copy_order(target):
        if target.execute(f"SELECT count(*) FROM {table}").fetchone()[0]:
            raise StoreError(
                f"the target {describe(target_url)} already holds data (table {table}):"
                " copy into an empty database"
            )
    if {t: _columns(source, t) for t in copy_order(source)} != {
        t: _columns(target, t) for t in copy_order(target)
    }:
        raise StoreError("the two databases do not have the same tables and columns")


def copy_database(
    source_url: str, target_url: str, progress: Callable[[Copied], None] = lambda _: None
) -> list[Copied]:
    """Copy every row of ``source_url`` into the empty database ``target_url``, in one transaction."""
    with connect(source_url) as source, connect(target_url) as target:
        _ready(source, target, source_url, target_url)
        done: list[Copied] = []
        target.execute(target.dialect.begin)
        try:
            for table in copy_order(source):
                done.append(_copy_table(source, target, table))
                progress(done[-1])
            if target.dialect.name == "postgresql":
                for table in (t for t in copy_order(target) if "id" in _columns(target, t)):
                    target.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                    ).fetchone()
            target.execute("COMMIT")
        except BaseException:
            target.execute("ROLLBACK")
            raise
    return done


def _copy_table(source: Connection, target: Connection, table: str) -> Copied:
    columns = _columns(source, table)
    names = ", ".join(columns)
    insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
    # In the table's own order of columns: deterministic, so two copies of one database are equal.
    count = 0
    for chunk in source.stream(f"SELECT {names} FROM {table} ORDER BY {names}", CHUNK):
        target.executemany(insert, [tuple(row) for row in chunk])
        count += len(chunk)
    return Copied(table, count)
