"""The job and schedule registries, filled by ``@job`` and ``schedule`` at import time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.config import Settings
from interlink.db.engine import Database


@dataclass(frozen=True)
class Retry:
    """Returned by a job to run again later without counting as a failure."""

    after: timedelta
    reason: str = ""


@dataclass
class JobContext:
    """What a running job gets. ``session`` is the job's transaction: it commits together with the
    job being marked done, so a job's database effects happen exactly once. A job that talks to
    the outside world should read with ``db.read_session()`` first, make its call, then write."""

    job_id: str
    name: str
    attempt: int
    max_attempts: int
    db: Database
    settings: Settings
    session: AsyncSession
    request_id: str | None = None
    log: Any = field(default=None)
    # set when the worker begins to shut down: a long-running job should wrap up and return
    stopping: asyncio.Event | None = None


JobFn = Callable[..., Awaitable[Retry | None]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    fn: JobFn
    max_attempts: int | None
    timeout: float
    priority: int


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    cron: str
    job_name: str


_jobs: dict[str, JobSpec] = {}
_schedules: dict[str, ScheduleSpec] = {}


def job(
    name: str,
    *,
    max_attempts: int | None = None,
    timeout: float = 300.0,
    priority: int = 100,
) -> Callable[[JobFn], JobFn]:
    """Register ``async def fn(ctx: JobContext, **args) -> Retry | None`` under ``name``."""

    def register(fn: JobFn) -> JobFn:
        if name in _jobs and _jobs[name].fn is not fn:
            raise ValueError(f"job {name!r} is registered twice")
        _jobs[name] = JobSpec(name, fn, max_attempts, timeout, priority)
        return fn

    return register


def schedule(name: str, cron: str, job_name: str) -> None:
    """Run ``job_name`` on the cron expression ``cron`` (UTC), once across all workers."""
    from croniter import croniter

    if not croniter.is_valid(cron):
        raise ValueError(f"schedule {name!r}: {cron!r} is not a cron expression")
    _schedules[name] = ScheduleSpec(name, cron, job_name)


def get(name: str) -> JobSpec | None:
    return _jobs.get(name)


def names() -> list[str]:
    return sorted(_jobs)


def schedules() -> list[ScheduleSpec]:
    return list(_schedules.values())


def bind_log(ctx: JobContext) -> Any:
    return structlog.get_logger("interlink.jobs").bind(
        job_id=ctx.job_id, job=ctx.name, attempt=ctx.attempt, request_id=ctx.request_id
    )
