"""``enqueue`` inserts a job row in the caller's transaction: the transactional outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.jobs import notify, registry
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import Job
from interlink.observability.context import current_request_id

DEFAULT_MAX_ATTEMPTS = 10
# built once, values passed as parameters: .values(**row) per call cost more than the insert
# Core statements on the table: an ORM ``insert(Job)`` with a parameter dict takes the ORM bulk
# path, about a third more CPU per job
_INSERT = insert(cast(Table, Job.__table__))
_KEYED_INSERT = {
    name: dialect.insert(Job.__table__).on_conflict_do_nothing(index_elements=["dedupe_key"])
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}


async def enqueue(
    session: AsyncSession,
    name: str,
    *,
    run_at: datetime | None = None,
    delay: timedelta | None = None,
    priority: int | None = None,
    key: str | None = None,
    max_attempts: int | None = None,
    **args: Any,
) -> str:
    """Queue ``name`` to run with ``args`` once the caller's transaction commits.

    ``key`` makes the enqueue idempotent: a second enqueue with the same key is a no-op and
    returns the first job's id. Lower ``priority`` runs first. Args must be JSON-serialisable
    ids and values; jobs reload fresh state from them.
    """
    spec = registry.get(name)
    if spec is None:
        raise LookupError(f"no job named {name!r} is registered")
    at = run_at or now()
    if delay is not None:
        at = at + delay
    job_id = new_id("job")
    values = {
        "id": job_id,
        "name": name,
        "args": args,
        "state": "queued",
        "priority": priority if priority is not None else spec.priority,
        "run_at": at,
        "attempts": 0,
        "max_attempts": max_attempts or spec.max_attempts or DEFAULT_MAX_ATTEMPTS,
        "dedupe_key": key,
        "request_id": current_request_id(),
        "created_at": now(),
        "updated_at": now(),
    }
    is_sqlite = session.get_bind().dialect.name == "sqlite"
    if key is None:
        # a Core insert: no unit-of-work flush, and the statement is compiled once per process
        await session.execute(_INSERT, values)
    else:
        stmt = _KEYED_INSERT["sqlite" if is_sqlite else "postgresql"]
        result = await session.execute(stmt, values)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            existing = await session.scalar(select(Job.id).where(Job.dedupe_key == key))
            return existing or job_id
    await _notify(session, is_sqlite)
    return job_id


def keyed_rows(
    name: str, jobs: Sequence[tuple[str, str | None, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The job rows of ``jobs`` ((key, request id, args) each) queued to run ``name`` now."""
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


async def enqueue_keyed_many(
    session: AsyncSession, name: str, jobs: Sequence[tuple[str, str | None, dict[str, Any]]]
) -> None:
    """``enqueue`` of many keyed jobs in one statement: (key, request id, args) each, a key
    already queued being a no-op. For callers that write in batches (the inbound receiver)."""
    rows = keyed_rows(name, jobs)
    if not rows:
        return
    is_sqlite = session.get_bind().dialect.name == "sqlite"
    await session.execute(_KEYED_INSERT["sqlite" if is_sqlite else "postgresql"], rows)
    await _notify(session, is_sqlite)


def notify_pending(session: AsyncSession) -> bool:
    """Whether workers are yet to be told of this transaction's jobs: a statement that queues
    a job itself (not through ``enqueue``) issues ``pg_notify`` when this is true, then calls
    ``announce``."""
    return notify.ENQUEUED_FLAG not in session.info


async def announce(
    session: AsyncSession, is_sqlite: bool, *, notified: bool, job_name: str | None = None
) -> None:
    """For a statement that queued a job (or shared one already queued) without ``enqueue``:
    workers are woken after the commit as ``enqueue`` wakes them (on SQLite, in other processes
    too). ``notified``: that statement issued ``pg_notify`` itself, with ``job_name`` as its
    payload when given (then a running dispatcher that absorbs that job may keep the workers
    asleep)."""
    announced = session.info.get(notify.ENQUEUED_FLAG)
    if job_name is not None and announced in (None, job_name):
        if announced is None:
            session.info[notify.ENQUEUED_FLAG] = job_name
            _remember_sqlite_database(session, is_sqlite)
        return
    await _notify(session, is_sqlite, notified=notified and job_name is None)


def _remember_sqlite_database(session: AsyncSession, is_sqlite: bool) -> None:
    if is_sqlite:
        bind = session.get_bind()
        database = (bind.engine if isinstance(bind, Connection) else bind).url.database
        if database and database != ":memory:":
            session.info[notify.SQLITE_DATABASE] = database


async def _notify(session: AsyncSession, is_sqlite: bool, *, notified: bool = False) -> None:
    """Every worker is to be woken after the commit (a job other than a named wake-up)."""
    if session.info.get(notify.ENQUEUED_FLAG) != "":
        session.info[notify.ENQUEUED_FLAG] = ""
        _remember_sqlite_database(session, is_sqlite)
        if not is_sqlite and not notified:
            await session.execute(
                text("SELECT pg_notify(:channel, '')"), {"channel": notify.CHANNEL}
            )
