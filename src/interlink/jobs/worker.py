"""The worker: claims jobs in batches, runs them with bounded concurrency under a lease, retries
with backoff, and drains on shutdown.

Claiming uses ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of workers on any number of
machines share the queue; on SQLite the claim runs under the database's single write lock. Idle
workers wait on LISTEN/NOTIFY (PostgreSQL) or an in-process event, and poll as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import traceback
from datetime import timedelta
from typing import Any

import orjson
import structlog
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from interlink.config import Settings
from interlink.db import statistics
from interlink.db.engine import Database
from interlink.jobs import notify, queue, registry, schedules
from interlink.jobs.queue import ClaimedJob
from interlink.kit import heap
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import WorkerHeartbeat
from interlink.observability import metrics
from interlink.observability.context import bind_request_id

log = structlog.get_logger("interlink.worker")

MAX_BATCH = 64
SCHEDULE_TICK_SECONDS = 5.0
REAP_SECONDS = 5.0
WAKE_GAP_SECONDS = 0.01


def coalesce(jobs: list[ClaimedJob]) -> tuple[list[ClaimedJob], list[ClaimedJob]]:
    """(the jobs to run, those left unrun): of the interchangeable jobs claimed together with the
    same arguments, the first runs and does the others' work. A worker back after a pause (or a
    frozen one) may find a wake-up queued for every moment publishes went on without it; run
    side by side, each took a database connection of its own only to find the work taken."""
    run: list[ClaimedJob] = []
    unrun: list[ClaimedJob] = []
    seen: set[tuple[str, str]] = set()
    for job in jobs:
        try:
            spec = registry.get(job.name)
        except Exception:  # its module fails to import: _execute records that on the job
            spec = None
        if spec is None or not spec.interchangeable:
            run.append(job)
            continue
        key = (job.name, orjson.dumps(job.args, option=orjson.OPT_SORT_KEYS).decode())
        if key in seen:
            unrun.append(job)
        else:
            seen.add(key)
            run.append(job)
    return run, unrun


class Worker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        concurrency: int | None = None,
        drain_timeout: float = 25.0,
    ) -> None:
        self.db = db
        self.settings = settings
        self.concurrency = concurrency or settings.worker_concurrency
        self.lease = timedelta(seconds=settings.jobs_lease_seconds)
        self.drain_timeout = drain_timeout
        self.id = f"{socket.gethostname()}:{os.getpid()}:{new_id('wrk')[-8:]}"
        self._running: dict[str, tuple[ClaimedJob, asyncio.Task[None]]] = {}
        self._refill_at = max(1, self.concurrency // 4)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: Any = None
        self._wake_socket: Any = None
        self._started_at = now()

    async def start(self) -> None:
        notify.add_waiter(self._wake)
        async with self.db.session() as session:
            await schedules.sync(session)
            await session.commit()
        await self._beat()
        if not self.db.is_sqlite:
            await self._listen()
        else:
            database = self.db.engine.url.database
            if database and database != ":memory:":
                from interlink.jobs import wake_socket

                listener = wake_socket.Listener(database, notify.wake_local)
                if listener.start():
                    self._wake_socket = listener
        self._tasks = [
            asyncio.create_task(self._loop(), name="worker-loop"),
            asyncio.create_task(self._housekeeping(), name="worker-housekeeping"),
        ]
        heap.freeze_if_modules_loaded()
        log.info("worker_started", worker=self.id, concurrency=self.concurrency)

    async def run_until_stopped(self) -> None:
        await self.start()
        await self._stopping.wait()
        await self.stop()

    def request_stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def stop(self) -> None:
        """Stop claiming, let running jobs finish within the drain timeout, release the rest."""
        self.request_stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        pending = [task for _, task in self._running.values()]
        if pending:
            log.info("worker_draining", jobs=len(pending))
            _done, still = await asyncio.wait(pending, timeout=self.drain_timeout)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still)
        notify.remove_waiter(self._wake)
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
        if self._wake_socket is not None:
            self._wake_socket.close()
            self._wake_socket = None
        with contextlib.suppress(Exception):
            async with self.db.session() as session:
                await session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.id == self.id))
                await session.commit()
        log.info("worker_stopped", worker=self.id)

    async def _listen(self) -> None:
        import asyncpg

        dsn = self.settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        try:
            self._listener = await asyncpg.connect(dsn, timeout=self.settings.db_connect_timeout)
            # wakes this worker and whatever else in the process waits on new jobs
            await self._listener.add_listener(
                notify.CHANNEL, lambda _conn, _pid, _channel, payload: notify.wake_local(payload)
            )
        except Exception as exc:
            # polling still finds every job; only the wake-up latency suffers
            log.warning("worker_listen_failed", error=str(exc))
            self._listener = None

    async def _loop(self) -> None:
        empty_at = float("-inf")  # when the last claim found nothing
        while not self._stopping.is_set():
            # a wake-up soon after a claim that found nothing waits out the gap: under a stream
            # of notifications (one per publishing commit) the loop claims at most once a gap
            # instead of once a commit; a wake-up in a quiet moment is claimed at once
            gap = empty_at + WAKE_GAP_SECONDS - time.monotonic()
            if gap > 0:
                await asyncio.sleep(gap)
            self._wake.clear()
            free = self.concurrency - len(self._running)
            claimed: list[ClaimedJob] = []
            if free > 0:
                try:
                    claimed = await self._claim(min(free, MAX_BATCH))
                except Exception as exc:
                    log.warning("worker_claim_failed", error=str(exc))
                    await self._sleep(self.settings.jobs_poll_interval)
                    continue
                for job in claimed:
                    task = asyncio.create_task(self._execute(job), name=f"job-{job.id}")
                    self._running[job.id] = (job, task)
            if free > 0 and not claimed:
                empty_at = time.monotonic()
            if claimed and len(self._running) < self.concurrency:
                continue  # the queue may hold more: claim again right away
            await self._sleep(self.settings.jobs_poll_interval)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _claim(self, limit: int) -> list[ClaimedJob]:
        async with self.db.session() as session:
            jobs = await queue.claim(
                session, self.id, limit, self.lease, skip_locked=not self.db.is_sqlite
            )
            jobs, unrun = coalesce(jobs)
            if unrun:
                # in the claim's transaction: they go from queued to done with the one that runs
                await queue.mark_done_unrun(session, unrun, self.id)
            await session.commit()
        for job in unrun:
            metrics.JOB_RUNS.labels(job.name, "coalesced").inc()
        return jobs

    async def _execute(self, job: ClaimedJob) -> None:
        bind_request_id(job.request_id)
        started = time.perf_counter()
        outcome = "done"
        try:
            try:
                spec = registry.get(job.name)  # imports a built-in job's module on first use
            except Exception as exc:
                outcome = await self._fail(job, f"the module of job {job.name!r} failed: {exc}")
                return
            if spec is None:
                outcome = await self._fail(job, f"no job named {job.name!r} is registered here")
                return
            async with self.db.session() as session:
                ctx = registry.JobContext(
                    job_id=job.id,
                    name=job.name,
                    attempt=job.attempt,
                    max_attempts=job.max_attempts,
                    db=self.db,
                    settings=self.settings,
                    session=session,
                    request_id=job.request_id,
                    stopping=self._stopping,
                )
                ctx.log = registry.bind_log(ctx)
                try:
                    result = await asyncio.wait_for(spec.fn(ctx, **job.args), spec.timeout)
                except asyncio.CancelledError:
                    await session.rollback()
                    outcome = "released"
                    await self._release(job)
                    raise
                except Exception as exc:
                    await session.rollback()
                    error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                    if isinstance(exc, TimeoutError):
                        error = f"timed out after {spec.timeout:g} s"
                    ctx.log.warning("job_failed", error=error)
                    outcome = await self._fail(job, error)
                    return
                if isinstance(result, registry.Retry):
                    ok = await queue.reschedule(
                        session, job, self.id, now() + result.after, refund=True
                    )
                    outcome = "retry" if ok else "lost_lease"
                elif await queue.mark_done(session, job, self.id):
                    outcome = "done"
                else:
                    outcome = "lost_lease"
                if outcome == "lost_lease":
                    # another worker owns the job now: its run will make the effects, not ours
                    await session.rollback()
                    log.warning("job_lost_lease", job_id=job.id, job=job.name)
                else:
                    await session.commit()
        except asyncio.CancelledError:
            pass
        except Exception:
            outcome = "error"
            log.exception("job_runner_error", job_id=job.id, job=job.name)
        finally:
            metrics.JOB_RUNS.labels(job.name, outcome).inc()
            metrics.JOB_DURATION.labels(job.name).observe(time.perf_counter() - started)
            self._running.pop(job.id, None)
            bind_request_id(None)
            # claim again once a quarter of the slots are free, not after every single job:
            # one claim statement per batch instead of one per job
            if self.concurrency - len(self._running) >= self._refill_at or not self._running:
                self._wake.set()

    async def _fail(self, job: ClaimedJob, error: str) -> str:
        async with self.db.session() as session:
            state = await queue.mark_failed(session, job, self.id, error)
            await session.commit()
        if state == "dead":
            log.error("job_dead", job_id=job.id, job=job.name, attempts=job.attempt, error=error)
        return state

    async def _release(self, job: ClaimedJob) -> None:
        with contextlib.suppress(Exception):
            async with self.db.session() as session:
                await queue.reschedule(session, job, self.id, now(), refund=True)
                await session.commit()

    async def _beat(self) -> None:
        dialect = sqlite if self.db.is_sqlite else postgresql
        at = now()
        async with self.db.session() as session:
            stmt = dialect.insert(WorkerHeartbeat).values(
                id=self.id,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                started_at=self._started_at,
                heartbeat_at=at,
                running_jobs=len(self._running),
            )
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["id"],
                    set_={"heartbeat_at": at, "running_jobs": len(self._running)},
                )
            )
            await queue.extend_leases(session, self.id, list(self._running), self.lease)
            await session.commit()

    async def tick(self) -> None:
        """The periodic part of housekeeping: due schedules are enqueued, stale planner
        statistics refreshed, and the heap kept small."""
        async with self.db.session() as session:
            await schedules.tick(session)
            await session.commit()
        analyzed = await statistics.refresh(self.db)
        if analyzed:
            log.debug("planner_statistics_refreshed", tables=analyzed)
        # what jobs loaded on first use (their modules, clients, SDKs) stays
        heap.freeze_if_modules_loaded()
        heap.trim()

    async def _housekeeping(self) -> None:
        """Heartbeat and lease renewal, reaping of dead workers' jobs, and the periodic tick."""
        beat_every = min(self.lease.total_seconds() / 3, 10.0)
        last_reap = last_tick = 0.0
        while not self._stopping.is_set():
            await asyncio.sleep(min(beat_every, REAP_SECONDS))
            try:
                await self._beat()
                mono = time.monotonic()
                if mono - last_reap >= REAP_SECONDS:
                    last_reap = mono
                    async with self.db.session() as session:
                        reaped = await queue.reap_expired_leases(session)
                        await session.commit()
                    if reaped:
                        log.warning("jobs_reclaimed_from_expired_leases", count=reaped)
                        self._wake.set()
                if mono - last_tick >= SCHEDULE_TICK_SECONDS:
                    last_tick = mono
                    await self.tick()
            except Exception as exc:
                log.warning("worker_housekeeping_failed", error=str(exc))
