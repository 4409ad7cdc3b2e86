"""Periodic schedules: a row per schedule whose ``next_run_at`` is advanced by compare-and-set, so
that among any number of workers exactly one enqueues each run."""

from __future__ import annotations

from datetime import datetime

from croniter import croniter
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.jobs import registry
from interlink.jobs.enqueue import enqueue
from interlink.kit.clock import now
from interlink.models import Schedule


def next_after(cron: str, after: datetime) -> datetime:
    value: datetime = croniter(cron, after).get_next(datetime)
    return value


async def sync(session: AsyncSession) -> None:
    """Make the table match the registered schedules (new ones added, changed crons updated).
    Workers starting together may both add a row: the second insert is a no-op."""
    existing = {s.name: s for s in (await session.scalars(select(Schedule))).all()}
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    for spec in registry.schedules():
        row = existing.get(spec.name)
        if row is None:
            await session.execute(
                dialect.insert(Schedule)
                .values(
                    name=spec.name,
                    cron=spec.cron,
                    job_name=spec.job_name,
                    next_run_at=next_after(spec.cron, now()),
                )
                .on_conflict_do_nothing(index_elements=["name"])
            )
        elif row.cron != spec.cron or row.job_name != spec.job_name:
            row.cron, row.job_name = spec.cron, spec.job_name
            row.next_run_at = next_after(spec.cron, now())
    await session.flush()


async def tick(session: AsyncSession) -> int:
    """Enqueue every due schedule once; returns how many were enqueued by this caller."""
    at = now()
    due = (await session.scalars(select(Schedule).where(Schedule.next_run_at <= at))).all()
    fired = 0
    for row in due:
        if not registry.known(row.job_name):
            continue
        slot = row.next_run_at
        won = await session.execute(
            update(Schedule)
            .where(Schedule.name == row.name, Schedule.next_run_at == slot)
            .values(next_run_at=next_after(row.cron, at), last_run_at=at)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount == 1:  # type: ignore[attr-defined]
            await enqueue(session, row.job_name, key=f"schedule:{row.name}:{slot.isoformat()}")
            fired += 1
    return fired
