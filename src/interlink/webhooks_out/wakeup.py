"""Waking the delivery dispatcher: a ``webhooks.dispatch`` job, queued in the caller's
transaction (so it commits, or not, with the deliveries it announces)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.jobs.enqueue import enqueue
from interlink.models import Job

DISPATCH_JOB = "webhooks.dispatch"


async def wake(
    session: AsyncSession, *, run_at: datetime | None = None, key: str | None = None
) -> None:
    """Queue a dispatcher run (now, or at ``run_at``). Wake-ups are cheap and interchangeable:
    a running dispatcher absorbs the due ones, and a run that finds nothing due ends at once."""
    await enqueue(session, DISPATCH_JOB, run_at=run_at, key=key)


async def wake_at_most_once(session: AsyncSession, run_at: datetime) -> None:
    """Queue a run at ``run_at`` unless one is already queued at or before it."""
    queued = await session.scalar(
        select(Job.id)
        .where(Job.name == DISPATCH_JOB, Job.state == "queued", Job.run_at <= run_at)
        .limit(1)
    )
    if queued is None:
        await wake(session, run_at=run_at)
