"""Every statement the worker runs against the jobs table."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Integer, Table, and_, bindparam, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.kit.clock import now
from interlink.models import Job

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 3600.0


@dataclass(frozen=True)
class ClaimedJob:
    id: str
    name: str
    args: dict[str, Any]
    attempt: int
    max_attempts: int
    request_id: str | None


def backoff(attempt: int) -> timedelta:
    """Exponential backoff with jitter: about 2 s, 4 s, 8 s … capped at an hour."""
    base = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1))
    return timedelta(seconds=base / 2 + random.uniform(0, base / 2))


_jobs = cast(Table, Job.__table__)


def _claim_statement(skip_locked: bool) -> Any:
    j = _jobs.c
    ready: Any
    if skip_locked:
        ready = (
            select(j.id)
            .where(j.state == "queued", j.run_at <= bindparam("b_at"))
            .order_by(j.priority, j.run_at)
            .limit(bindparam("b_limit", type_=Integer))
            .with_for_update(skip_locked=True)
        )
    else:
        # SQLite, left to choose, reads the queued jobs through (state, finished_at), an equality
        # it prefers, and sorts all of them for the first few; named, the index of ready work is
        # read in order. Its condition is repeated as a literal, which SQLite needs to use it.
        ready = (
            text(
                "SELECT id FROM jobs INDEXED BY ix_jobs_ready "
                "WHERE state = 'queued' AND run_at <= :b_at "
                "ORDER BY priority, run_at LIMIT :b_limit"
            )
            .bindparams(bindparam("b_at", type_=j.run_at.type), bindparam("b_limit", type_=Integer))
            .columns(j.id)
        )
    return (
        update(_jobs)
        .where(j.id.in_(ready.scalar_subquery()))
        .values(
            state="running",
            locked_by=bindparam("b_worker"),
            lease_expires_at=bindparam("b_lease"),
            attempts=j.attempts + 1,
            updated_at=bindparam("b_at"),
        )
        .returning(j.id, j.name, j.args, j.attempts, j.max_attempts, j.request_id)
    )


# built once, as _MARK_DONE below: a worker claims many times a second under load, and building
# the statement (and walking it for its cache key) cost more than running it
_CLAIM = {skip: _claim_statement(skip) for skip in (False, True)}


async def claim(
    session: AsyncSession, worker_id: str, limit: int, lease: timedelta, *, skip_locked: bool
) -> list[ClaimedJob]:
    at = now()
    params = {"b_at": at, "b_limit": limit, "b_worker": worker_id, "b_lease": at + lease}
    rows = (await session.execute(_CLAIM[skip_locked], params)).all()
    return [ClaimedJob(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


def _owned(job_id: str, worker_id: str, attempt: int) -> Any:
    # the attempt number is the claim token: after a lease expires and another worker reclaims
    # the job, the first worker's late completion matches no row
    return and_(
        Job.id == job_id,
        Job.state == "running",
        Job.locked_by == worker_id,
        Job.attempts == attempt,
    )


def _mark_done_statement(*where: Any) -> Any:
    """Running jobs of this worker matching ``where`` marked done at ``b_at``."""
    return (
        update(_jobs)
        .where(*where, _jobs.c.state == "running", _jobs.c.locked_by == bindparam("b_worker"))
        .values(
            state="done",
            finished_at=bindparam("b_at"),
            updated_at=bindparam("b_at"),
            locked_by=None,
            lease_expires_at=None,
        )
    )


# built once: the statement every finished job runs (no per-job construction or cache-key walk)
_MARK_DONE = _mark_done_statement(
    _jobs.c.id == bindparam("b_id"), _jobs.c.attempts == bindparam("b_attempt")
)


async def mark_done(session: AsyncSession, job: ClaimedJob, worker_id: str) -> bool:
    """Done, if this worker still owns the job (see ``_owned``)."""
    result = await session.execute(
        _MARK_DONE,
        {"b_id": job.id, "b_worker": worker_id, "b_attempt": job.attempt, "b_at": now()},
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


_MARK_DONE_UNRUN = _mark_done_statement(_jobs.c.id.in_(bindparam("b_ids", expanding=True)))


async def mark_done_unrun(session: AsyncSession, jobs: list[ClaimedJob], worker_id: str) -> int:
    """Mark jobs this worker has just claimed done without running them (interchangeable runs
    whose work another claimed run does); how many it still owned."""
    result = await session.execute(
        _MARK_DONE_UNRUN, {"b_ids": [j.id for j in jobs], "b_worker": worker_id, "b_at": now()}
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def mark_failed(session: AsyncSession, job: ClaimedJob, worker_id: str, error: str) -> str:
    """Requeue with backoff, or dead after the last attempt; returns the new state."""
    at = now()
    dead = job.attempt >= job.max_attempts
    values: dict[str, Any] = {
        "state": "dead" if dead else "queued",
        "last_error": error[:8000],
        "locked_by": None,
        "lease_expires_at": None,
        "updated_at": at,
    }
    if dead:
        values["finished_at"] = at
    else:
        values["run_at"] = at + backoff(job.attempt)
    result = await session.execute(
        update(Job)
        .where(_owned(job.id, worker_id, job.attempt))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return "lost_lease"
    return "dead" if dead else "failed"


async def reschedule(
    session: AsyncSession, job: ClaimedJob, worker_id: str, run_at: datetime, *, refund: bool
) -> bool:
    """Put a claimed job back in the queue; ``refund`` gives back the attempt it used."""
    result = await session.execute(
        update(Job)
        .where(_owned(job.id, worker_id, job.attempt))
        .values(
            state="queued",
            run_at=run_at,
            locked_by=None,
            lease_expires_at=None,
            attempts=Job.attempts - 1 if refund else Job.attempts,
            updated_at=now(),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def extend_leases(
    session: AsyncSession, worker_id: str, job_ids: Sequence[str], lease: timedelta
) -> None:
    if not job_ids:
        return
    await session.execute(
        update(Job)
        .where(Job.id.in_(list(job_ids)), Job.state == "running", Job.locked_by == worker_id)
        .values(lease_expires_at=now() + lease)
        .execution_options(synchronize_session=False)
    )


async def reap_expired_leases(session: AsyncSession) -> int:
    """Jobs whose worker vanished: back to the queue, or dead if that was their last attempt."""
    at = now()
    expired = and_(Job.state == "running", Job.lease_expires_at < at)
    dead = await session.execute(
        update(Job)
        .where(expired, Job.attempts >= Job.max_attempts)
        .values(
            state="dead",
            finished_at=at,
            updated_at=at,
            locked_by=None,
            lease_expires_at=None,
            last_error="lease expired: the worker running the last attempt stopped",
        )
        .execution_options(synchronize_session=False)
    )
    requeued = await session.execute(
        update(Job)
        .where(expired)
        .values(state="queued", run_at=at, locked_by=None, lease_expires_at=None, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(dead.rowcount + requeued.rowcount)  # type: ignore[attr-defined]


async def prune_finished(session: AsyncSession, older_than: datetime) -> int:
    result = await session.execute(
        delete(Job)
        .where(Job.state.in_(("done", "dead")), Job.finished_at < older_than)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def stats(session: AsyncSession) -> tuple[list[tuple[str, str, int]], int, float | None]:
    """(name, state, count) rows, the number of due queued jobs, and the oldest due one's age."""
    at = now()
    rows = (
        await session.execute(
            select(Job.name, Job.state, func.count()).group_by(Job.name, Job.state)
        )
    ).all()
    due = (
        await session.execute(
            select(func.count(), func.min(Job.run_at)).where(
                Job.state == "queued", Job.run_at <= at
            )
        )
    ).one()
    oldest = due[1]
    age = None
    if oldest is not None:
        if isinstance(oldest, str):
            oldest = datetime.fromisoformat(oldest)
        if oldest.tzinfo is None:
            from datetime import UTC

            oldest = oldest.replace(tzinfo=UTC)
        age = max(0.0, (at - oldest).total_seconds())
    return [(r[0], r[1], int(r[2])) for r in rows], int(due[0]), age


def _absorb_statement() -> Any:
    j = _jobs.c
    due = (
        select(j.id)
        .where(j.name == bindparam("b_name"), j.state == "queued", j.run_at <= bindparam("b_at"))
        .with_for_update(skip_locked=True)
    )
    return (
        update(_jobs)
        .where(j.id.in_(due.scalar_subquery()))
        .values(state="done", finished_at=bindparam("b_at"), updated_at=bindparam("b_at"))
    )


_ABSORB = _absorb_statement()


async def absorb(session: AsyncSession, name: str, at: datetime) -> int:
    """Mark the queued, due jobs named ``name`` done without running them: for wake-up jobs
    (no arguments, interchangeable) whose work a run already in progress is about to do. Call it
    before reading the work, in the same transaction, so that whatever a wake-up announced is
    visible to that read.

    A job locked by another transaction is left queued (on PostgreSQL; SQLite has no row locks
    and renders no ``FOR UPDATE``): a publish sharing it holds it until its commit, and the
    work it announces may not be visible to this read yet."""
    result = await session.execute(_ABSORB, {"b_name": name, "b_at": at})
    return int(result.rowcount)  # type: ignore[attr-defined]
