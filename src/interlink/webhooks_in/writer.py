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

Written per batch: one INSERT of the events (``ON CONFLICT (integration_id, provider_event_id)
DO NOTHING RETURNING id``: the ids that come back are the ones stored), one SELECT of the first
ids of the duplicates (only when there are some), one INSERT of the jobs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from interlink.db.engine import Database
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

    async def _write(self, rows: Sequence[dict[str, Any]]) -> list[Stored]:
        first_of: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            first_of.setdefault(_identity(row), row)
        unique = list(first_of.values())
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
                [
                    (f"inbound:{r['id']}", r["request_id"], {"event_id": r["id"]})
                    for r in unique
                    if r["id"] in inserted
                ],
            )
            await session.commit()
        return [_answer(row, first_of[_identity(row)], inserted, earlier) for row in rows]


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
