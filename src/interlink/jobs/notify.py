"""Waking idle workers the moment a job is committed.

On PostgreSQL, ``enqueue`` issues ``pg_notify`` in the caller's transaction, so the notification is
delivered when (and only if) it commits and reaches workers in every process. Within one process
(the embedded SQLite default) a session ``after_commit`` hook sets the local workers' events; on
SQLite the same hook also wakes workers in other processes through ``wake_socket``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

CHANNEL = "interlink_jobs"
ENQUEUED_FLAG = "interlink.jobs_enqueued"
SQLITE_DATABASE = "interlink.jobs_sqlite_database"  # the file whose other processes to wake

_local_waiters: set[asyncio.Event] = set()
_callbacks: set[Callable[[], None]] = set()


def add_waiter(waiter: asyncio.Event) -> None:
    _local_waiters.add(waiter)


def remove_waiter(waiter: asyncio.Event) -> None:
    _local_waiters.discard(waiter)


def add_callback(callback: Callable[[], None]) -> None:
    """Called on every wake-up this process sees: a local commit that enqueued, or (in a worker
    on PostgreSQL) a notification. A running delivery dispatcher claims at once on it instead of
    waiting for the worker to claim and run the wake-up job."""
    _callbacks.add(callback)


def remove_callback(callback: Callable[[], None]) -> None:
    _callbacks.discard(callback)


def wake_local() -> None:
    # callbacks first: a running dispatcher then claims (and absorbs its wake-up jobs) before
    # the workers' claims, which skip the rows it locks
    for callback in list(_callbacks):
        callback()
    for waiter in _local_waiters:
        waiter.set()


def wake_after_commit(sqlite_database: str | None) -> None:
    """Wake the workers for jobs just committed: this process's, and on SQLite (the database
    file given) those of other processes. Session commits do this on their own (the hook below);
    a writer that commits outside a session calls it."""
    wake_local()
    if sqlite_database and sqlite_database != ":memory:":
        from interlink.jobs import wake_socket

        wake_socket.send(sqlite_database)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    database = session.info.pop(SQLITE_DATABASE, None)
    if session.info.pop(ENQUEUED_FLAG, False):
        wake_after_commit(database)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(ENQUEUED_FLAG, None)
    session.info.pop(SQLITE_DATABASE, None)


def _unused(*_: Any) -> None:  # pragma: no cover - keeps the listeners referenced for linters
    return None
