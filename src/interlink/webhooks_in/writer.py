"""Group commit of received webhooks: the verified deliveries that arrive while a transaction is
being written wait for it and are written together in the next one.

Each delivery's answer is still sent only after the transaction holding its event and its
processing job has committed; the batch only shares that transaction (and its BEGIN, COMMIT,
fsync, SQLite write lock or PostgreSQL NOTIFY) between the deliveries that arrived meanwhile. A
lone delivery is written at once, alone. If the transaction breaks a constraint, its deliveries
are written again one by one, so that only the delivery whose own row is refused (its integration
deleted meanwhile, say) gets the error; any other failure (the database unreachable) is every
delivery's in the batch. The request pipeline answers a database error with 409 or 503, and the
provider retries.

Written per batch on PostgreSQL: one INSERT of the events (``ON CONFLICT (integration_id,
provider_event_id) DO NOTHING RETURNING id``: the ids that come back are the ones stored), one
SELECT of the first ids of the duplicates (only when there are some), one INSERT of the jobs. On
SQLite the same statements run row by row inside one function handed to the database's thread
(``db/sqlite_thread``): each statement costs microseconds there, while each trip between the event
loop and that thread, with SQLAlchemy around it, costs more than the statement.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.exc import IntegrityError

from interlink.db import sqlite_thread
from interlink.db.engine import Database
from interlink.jobs import notify, rows
from interlink.jobs.enqueue import enqueue_keyed_many
from interlink.webhooks_in import repository

MAX_BATCH = 256

# (the stored event's id, True when it is a redelivery of an event stored before)
Stored = tuple[str, bool]


class InboundWriter:
    def __init__(self, db: Database, job_name: str, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.job_name = job_name
        self.max_batch = max_batch
        self._queue: list[tuple[dict[str, Any], asyncio.Future[Stored]]] = []
        self._task: asyncio.Task[None] | None = None
        self._sqlite: dict[tuple[str, ...], _SQLiteBatch] = {}

    async def store(self, values: dict[str, Any]) -> Stored:
        """Store the event once (``values``: the columns of ``inbound_events``, the same keys
        every time) and queue its processing job, in a committed transaction."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Stored] = loop.create_future()
        self._queue.append((values, future))
        if self._task is None:
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                try:
                    await self._settle(batch)
                except asyncio.CancelledError:
                    for _, future in batch:
                        future.cancel()
                    raise
        finally:
            self._task = None

    async def _settle(self, batch: list[tuple[dict[str, Any], asyncio.Future[Stored]]]) -> None:
        try:
            answers = await self._write([values for values, _ in batch])
        except Exception as exc:
            if isinstance(exc, IntegrityError) and len(batch) > 1:
                # one bad row (its integration deleted meanwhile, say) must not fail the others
                for one in batch:
                    await self._settle([one])
                return
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        else:
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)

    async def _write(self, batch: Sequence[dict[str, Any]]) -> list[Stored]:
        first_of: dict[tuple[str, str], dict[str, Any]] = {}
        for row in batch:
            first_of.setdefault(_identity(row), row)
        unique = list(first_of.values())
        if self.db.is_sqlite:
            inserted, earlier = await self._write_sqlite(unique)
        else:
            inserted, earlier = await self._write_session(unique)
        return [_answer(row, first_of[_identity(row)], inserted, earlier) for row in batch]

    async def _write_session(self, unique: list[dict[str, Any]]) -> _Written:
        async with self.db.session() as session:
            inserted = await repository.insert_many_once(session, unique)
            earlier: dict[tuple[str, str], str] = {}
            if len(inserted) < len(unique):
                earlier = await repository.first_ids(
                    session, [_identity(r) for r in unique if r["id"] not in inserted]
                )
            await enqueue_keyed_many(
                session,
                self.job_name,
                [_job(r) for r in unique if r["id"] in inserted],
            )
            await session.commit()
        return inserted, earlier

    async def _write_sqlite(self, unique: list[dict[str, Any]]) -> _Written:
        engine = self.db.engine
        keys = tuple(unique[0])
        statements = self._sqlite.get(keys)
        if statements is None:
            statements = self._sqlite[keys] = _SQLiteBatch(engine.dialect, keys, self.job_name)
        inserted, earlier = await sqlite_thread.run_transaction(
            engine, lambda conn: statements.write(conn, unique)
        )
        if inserted:
            notify.wake_after_commit(engine.url.database)
        return inserted, earlier


# (the ids of the events stored, the first id of each event stored before)
_Written = tuple[set[str], dict[tuple[str, str], str]]


class _SQLiteBatch:
    """A batch's statements on sqlite3, compiled once per process; ``write`` runs on the
    database's thread, inside the transaction."""

    def __init__(self, dialect: Dialect, keys: Sequence[str], job_name: str) -> None:
        self.job_name = job_name
        self.insert_event = repository.sqlite_insert_once(dialect, keys)
        self.first_id = repository.sqlite_first_id(dialect)
        self.insert_job = rows.sqlite_keyed_insert(dialect)

    def write(self, conn: sqlite3.Connection, unique: list[dict[str, Any]]) -> _Written:
        inserted: set[str] = set()
        earlier: dict[tuple[str, str], str] = {}
        for row in unique:
            if conn.execute(self.insert_event.sql, self.insert_event.params(row)).fetchall():
                inserted.add(row["id"])
                continue
            identity = _identity(row)
            found = conn.execute(
                self.first_id.sql,
                self.first_id.params(
                    {"integration_id": identity[0], "provider_event_id": identity[1]}
                ),
            ).fetchall()
            if found:
                earlier[identity] = found[0][0]
        jobs = rows.keyed_rows(self.job_name, [_job(r) for r in unique if r["id"] in inserted])
        conn.executemany(self.insert_job.sql, [self.insert_job.params(job) for job in jobs])
        return inserted, earlier


def _job(row: dict[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
    return f"inbound:{row['id']}", row["request_id"], {"event_id": row["id"]}


def _identity(row: dict[str, Any]) -> tuple[str, str]:
    return (row["integration_id"], row["provider_event_id"])


def _answer(
    row: dict[str, Any],
    first: dict[str, Any],
    inserted: set[str],
    earlier: dict[tuple[str, str], str],
) -> Stored:
    if first["id"] in inserted:
        return first["id"], row is not first
    return earlier.get(_identity(row), first["id"]), True
