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
# in a session's info: what its jobs' notification says. "" (every worker's business), or the
# name of the one job it queued when that is all it queued (a dispatcher's wake-up)
ENQUEUED_FLAG = "interlink.jobs_enqueued"
SQLITE_DATABASE = "interlink.jobs_sqlite_database"  # the file whose other processes to wake

_local_waiters: set[asyncio.Event] = set()
_callbacks: set[Callable[[str | None], bool]] = set()


def add_waiter(waiter: asyncio.Event) -> None:
    _local_waiters.add(waiter)


def remove_waiter(waiter: asyncio.Event) -> None:
    _local_waiters.discard(waiter)


def add_callback(callback: Callable[[str | None], bool]) -> None:
    """Called on every wake-up this process sees: a local commit that enqueued, or (in a worker
    on PostgreSQL) a notification, with the name of the job it announces when it names one. A
    running delivery dispatcher claims at once on it instead of waiting for the worker to claim
    and run the wake-up job; it returns True when that job is its own (its claims absorb it), and
    the workers are then not woken for it."""
    _callbacks.add(callback)


def remove_callback(callback: Callable[[str | None], bool]) -> None:
    _callbacks.discard(callback)


def wake_local(job_name: str | None = None) -> None:
    """Wake this process for new jobs: ``job_name`` when only that job was queued."""
    # callbacks first: a running dispatcher then claims (and absorbs its wake-up jobs) before
    # the workers' claims, which skip the rows it locks
    handled = False
    for callback in list(_callbacks):
        handled = callback(job_name or None) or handled
    if not handled:
        wake_workers()


def wake_workers() -> None:
    """Wake this process's workers (not the callbacks): they claim what is queued."""
    for waiter in _local_waiters:
        waiter.set()


def wake_after_commit(sqlite_database: str | None, job_name: str | None = None) -> None:
    """Wake the workers for jobs just committed: this process's, and on SQLite (the database
    file given) those of other processes. Session commits do this on their own (the hook below);
    a writer that commits outside a session calls it."""
    wake_local(job_name)
    if sqlite_database and sqlite_database != ":memory:":
        from interlink.jobs import wake_socket

        wake_socket.send(sqlite_database)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    database = session.info.pop(SQLITE_DATABASE, None)
    announced = session.info.pop(ENQUEUED_FLAG, None)
    if announced is not None:
        wake_after_commit(database, announced or None)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(ENQUEUED_FLAG, None)
    session.info.pop(SQLITE_DATABASE, None)


def _unused(*_: Any) -> None:  # pragma: no cover - keeps the listeners referenced for linters
    return None
