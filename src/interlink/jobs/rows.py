"""Keyed job rows for a writer that inserts them itself, outside a session: the inbound group
commit on SQLite, which runs its whole transaction on the database's thread
(``db/sqlite_thread``). The rows are those ``enqueue_keyed_many`` inserts; the writer must then
wake the workers itself (``notify.wake_after_commit``), since no session commit is seen."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Dialect, Table
from sqlalchemy.dialects import sqlite

from interlink.db.sqlite_thread import SQLiteStatement
from interlink.jobs import registry
from interlink.jobs.enqueue import DEFAULT_MAX_ATTEMPTS
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import Job

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


def keyed_rows(
    name: str, jobs: Sequence[tuple[str, str | None, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The rows of ``jobs`` ((key, request id, args) each) queued to run ``name`` now."""
    spec = registry.get(name)
    if spec is None:
        raise LookupError(f"no job named {name!r} is registered")
    at = now()
    return [
        {
            "id": new_id("job"),
            "name": name,
            "args": args,
            "state": "queued",
            "priority": spec.priority,
            "run_at": at,
            "attempts": 0,
            "max_attempts": spec.max_attempts or DEFAULT_MAX_ATTEMPTS,
            "dedupe_key": key,
            "request_id": request_id,
            "created_at": at,
            "updated_at": at,
        }
        for key, request_id, args in jobs
    ]


def sqlite_keyed_insert(dialect: Dialect) -> SQLiteStatement:
    """Insert one of ``keyed_rows``; a key already queued is a no-op."""
    stmt = sqlite.insert(cast(Table, Job.__table__)).on_conflict_do_nothing(
        index_elements=["dedupe_key"]
    )
    return SQLiteStatement(stmt, dialect, KEYS)
