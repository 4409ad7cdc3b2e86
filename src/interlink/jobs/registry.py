"""The job and schedule registries, filled by ``@job`` and ``schedule`` at import time.

A built-in job whose module is not imported yet is still known: ``manifest`` names its module,
which ``get`` imports on first use, and lists its schedules."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs import manifest


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
    # two claimed runs with the same arguments do the same work (a wake-up): a worker that claims
    # several at once runs one and marks the others done
    interchangeable: bool = False


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
    interchangeable: bool = False,
) -> Callable[[JobFn], JobFn]:
    """Register ``async def fn(ctx: JobContext, **args) -> Retry | None`` under ``name``.
    ``interchangeable``: any one run of the job does what several queued with the same arguments
    would (a wake-up whose run takes all the work there is)."""

    def register(fn: JobFn) -> JobFn:
        if name in _jobs and _jobs[name].fn is not fn:
            raise ValueError(f"job {name!r} is registered twice")
        _jobs[name] = JobSpec(name, fn, max_attempts, timeout, priority, interchangeable)
        return fn

    return register


def schedule(name: str, cron: str, job_name: str) -> None:
    """Run ``job_name`` on the cron expression ``cron`` (UTC), once across all workers."""
    from croniter import croniter

    if not croniter.is_valid(cron):
        raise ValueError(f"schedule {name!r}: {cron!r} is not a cron expression")
    _schedules[name] = ScheduleSpec(name, cron, job_name)


def get(name: str) -> JobSpec | None:
    """The job's spec, importing its module first if it is a built-in job not loaded yet."""
    spec = _jobs.get(name)
    if spec is None and name in manifest.JOBS:
        importlib.import_module(manifest.JOBS[name])
        spec = _jobs.get(name)
    return spec


def known(name: str) -> bool:
    """Whether ``name`` is a job this process can run, without importing anything."""
    return name in _jobs or name in manifest.JOBS


def names() -> list[str]:
    """The jobs registered so far (imported modules only)."""
    return sorted(_jobs)


def schedules() -> list[ScheduleSpec]:
    """Every built-in schedule, whether its module is imported or not, and those registered."""
    found = {name: ScheduleSpec(name, cron, job) for name, cron, job in manifest.SCHEDULES}
    found.update(_schedules)
    return list(found.values())


def bind_log(ctx: JobContext) -> Any:
    return structlog.get_logger("interlink.jobs").bind(
        job_id=ctx.job_id, job=ctx.name, attempt=ctx.attempt, request_id=ctx.request_id
    )
