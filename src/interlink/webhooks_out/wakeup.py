"""Waking the delivery dispatcher: a ``webhooks.dispatch`` job, queued in the caller's
transaction (so it commits, or not, with the deliveries it announces).

A publish shares its wake-up: a dispatch job queued less than ``SHARE_WINDOW`` ago and not yet
claimed announces the new deliveries as well as the ones it was queued for, so a burst of publishes
queues one job instead of one each. Reuse is safe because the job cannot be claimed (or absorbed
by a run in progress) before the sharing transaction ends: on PostgreSQL the publish holds a
``FOR SHARE`` lock on the job row, which the claim and the absorb (``FOR UPDATE SKIP LOCKED``)
skip, so it is claimed after the commit, by a transaction that sees the deliveries; on SQLite the
publishing transaction holds the database's write lock, which every claim needs. A job already
claimed is ``running``, not ``queued``, and is never shared: the publish queues a new one.

The wake-up's notification names the job. A dispatcher running in the worker that receives it
claims at once and absorbs the job, and that worker's job loop is not woken for it (under a stream
of publishes it would claim once per commit); when the run ends it wakes the job loop, which then
claims whatever wake-up is still queued.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.db.types import UTCDateTime
from interlink.jobs import registry
from interlink.jobs.enqueue import DEFAULT_MAX_ATTEMPTS, announce, enqueue, notify_pending
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import Job
from interlink.observability.context import current_request_id

DISPATCH_JOB = "webhooks.dispatch"
SHARE_WINDOW = timedelta(milliseconds=100)

# PostgreSQL: CTEs to append to a statement whose CTE ``{after}`` returns the deliveries it just
# wrote (none: nothing is queued). ``shared`` locks a queued, due, recent dispatch job (FOR SHARE:
# other publishes may share it at the same time; SKIP LOCKED: a job being claimed is not waited
# for, it is not shared); ``woken`` queues a new one when none could be shared; ``notice`` wakes
# the workers at the commit. The statement's last SELECT must read ``PG_SHARED_WAKE_COLUMNS``.
PG_SHARED_WAKE = """
shared AS MATERIALIZED (
    SELECT j.id FROM jobs AS j
    WHERE EXISTS (SELECT 1 FROM {after})
      AND j.state = 'queued' AND j.priority = :wake_priority
      AND j.run_at <= :at AND j.run_at > :shared_since AND j.name = :wake_name
    LIMIT 1
    FOR SHARE SKIP LOCKED
), woken AS (
    INSERT INTO jobs (id, name, args, state, priority, run_at, attempts, max_attempts,
                      request_id, created_at, updated_at)
    SELECT CAST(:wake_id AS varchar), CAST(:wake_name AS varchar), CAST('{{}}' AS jsonb),
           'queued', CAST(:wake_priority AS integer), CAST(:at AS timestamptz), 0,
           CAST(:wake_max_attempts AS integer), CAST(:request_id AS varchar),
           CAST(:at AS timestamptz), CAST(:at AS timestamptz)
    WHERE EXISTS (SELECT 1 FROM {after}) AND NOT EXISTS (SELECT 1 FROM shared)
    RETURNING 1
), notice AS (
    SELECT pg_notify('interlink_jobs', CAST(:wake_name AS text))
    WHERE CAST(:notify AS boolean) AND EXISTS (SELECT 1 FROM {after})
)"""
PG_SHARED_WAKE_COLUMNS = "(SELECT count(*) FROM woken), (SELECT count(*) FROM notice)"
WAKE_TYPES = (bindparam("at", type_=UTCDateTime()), bindparam("shared_since", type_=UTCDateTime()))

_PG_WAKE = text(
    "WITH announced AS (SELECT 1), "
    + PG_SHARED_WAKE.format(after="announced").strip()
    + " SELECT "
    + PG_SHARED_WAKE_COLUMNS
).bindparams(*WAKE_TYPES)
# SQLite: the publishing transaction holds the write lock, so a queued job it sees stays queued
# until its commit
_SQLITE_WAKE = text(
    """
INSERT INTO jobs (id, name, args, state, priority, run_at, attempts, max_attempts,
                  request_id, created_at, updated_at)
SELECT :wake_id, :wake_name, '{}', 'queued', :wake_priority, :at, 0, :wake_max_attempts,
       :request_id, :at, :at
WHERE NOT EXISTS (
    SELECT 1 FROM jobs
    WHERE state = 'queued' AND priority = :wake_priority
      AND run_at <= :at AND run_at > :shared_since AND name = :wake_name
)"""
).bindparams(*WAKE_TYPES)


def shared_wake_params(session: AsyncSession, at: datetime) -> dict[str, Any]:
    """The parameters of ``PG_SHARED_WAKE`` and of SQLite's shared wake-up, at ``at``."""
    spec = registry.get(DISPATCH_JOB)
    if spec is None:  # pragma: no cover - the manifest names it
        raise LookupError(f"no job named {DISPATCH_JOB!r} is registered")
    return {
        "wake_id": new_id("job"),
        "wake_name": DISPATCH_JOB,
        "wake_priority": spec.priority,
        "wake_max_attempts": spec.max_attempts or DEFAULT_MAX_ATTEMPTS,
        "request_id": current_request_id(),
        "at": at,
        "shared_since": at - SHARE_WINDOW,
        "notify": notify_pending(session),
    }


async def wake_sqlite_shared(session: AsyncSession, params: dict[str, Any]) -> None:
    """SQLite's shared wake-up (``params`` from ``shared_wake_params``)."""
    await session.execute(_SQLITE_WAKE, {k: v for k, v in params.items() if k != "notify"})
    await announce(session, True, notified=False, job_name=DISPATCH_JOB)


async def wake_shared(session: AsyncSession) -> None:
    """Wake the dispatcher for deliveries written in this transaction, sharing a recent queued
    wake-up when there is one (see the module's docstring)."""
    params = shared_wake_params(session, now())
    if session.get_bind().dialect.name == "sqlite":
        await wake_sqlite_shared(session, params)
    else:
        await session.execute(_PG_WAKE, params)
        await announce(session, False, notified=True, job_name=DISPATCH_JOB)


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
