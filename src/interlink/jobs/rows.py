"""Keyed job rows for a writer that inserts them itself, outside a session: the inbound group
commit on SQLite, which runs its whole transaction on the database's thread
(``db/sqlite_thread``). The rows are those ``enqueue_keyed_many`` inserts (``keyed_rows``); the
writer must then wake the workers itself (``notify.wake_after_commit``), since no session commit
is seen."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Dialect, Table
from sqlalchemy.dialects import sqlite

from interlink.db.sqlite_thread import SQLiteStatement
from interlink.jobs.enqueue import keyed_rows
from interlink.models import Job

__all__ = ["KEYS", "keyed_rows", "sqlite_keyed_insert"]

KEYS = (
    "id",
    "name",
    "args",
    "state",
    "priority",
    "run_at",
    "attempts",
    "max_attempts",
    "dedupe_key",
    "request_id",
    "created_at",
    "updated_at",
)


def sqlite_keyed_insert(dialect: Dialect) -> SQLiteStatement:
    """Insert one of ``keyed_rows``; a key already queued is a no-op."""
    stmt = sqlite.insert(cast(Table, Job.__table__)).on_conflict_do_nothing(
        index_elements=["dedupe_key"]
    )
    return SQLiteStatement(stmt, dialect, KEYS)
