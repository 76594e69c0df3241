"""Reading a test service's database from beside it, on SQLite or PostgreSQL alike."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from service.store.dialect import pg_sql


def rows(db_url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one read (``?`` placeholders) on the database at ``db_url``; the service may be running."""
    if db_url.startswith("sqlite:///"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=10) as db:
            return [tuple(r) for r in db.execute(sql, tuple(params)).fetchall()]
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        return [tuple(r) for r in conn.execute(pg_sql(sql), tuple(params)).fetchall()]


def execute(db_url: str, sql: str, params: Sequence[Any] = ()) -> int:
    """Run one change on the database at ``db_url`` (a test moving time forward); rows changed."""
    if db_url.startswith("sqlite:///"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=10) as db:
            return db.execute(sql, tuple(params)).rowcount
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.execute(pg_sql(sql), tuple(params)).rowcount
