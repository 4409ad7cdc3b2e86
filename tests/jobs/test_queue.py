from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs import enqueue, queue, registry, schedules
from interlink.jobs.registry import schedule
from interlink.jobs.worker import Worker
from interlink.kit import clock
from interlink.models import Job, Schedule, SystemState
from interlink.webhooks_out.wakeup import DISPATCH_JOB
from tests.fixtures.plans import sqlite_plan


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def job_row(db: Database, job_id: str) -> Job:
    async with db.read_session() as session:
        row = await session.get(Job, job_id)
        assert row is not None
        return row


async def state_is(db: Database, job_id: str, state: str) -> bool:
    return (await job_row(db, job_id)).state == state


@pytest.fixture
async def worker(db: Database, settings: Settings) -> AsyncIterator[Worker]:
    running = Worker(db, settings, concurrency=8)
    await running.start()
    yield running
    await running.stop()


async def test_a_job_enqueued_in_a_rolled_back_transaction_never_exists(db: Database) -> None:
    async with db.session() as session:
        job_id = await enqueue(session, "probe.always_fails")
        await session.rollback()

    async with db.read_session() as session:
        assert await session.get(Job, job_id) is None


async def test_enqueue_with_a_dedupe_key_is_idempotent(db: Database) -> None:
    async with db.session() as session:
        first = await enqueue(session, "probe.always_fails", key="once")
        second = await enqueue(session, "probe.always_fails", key="once")
        await session.commit()

    async with db.read_session() as session:
        rows = (await session.scalars(select(Job).where(Job.dedupe_key == "once"))).all()
    assert first == second
    assert len(rows) == 1


async def test_enqueue_of_an_unregistered_job_fails_loudly(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(LookupError):
            await enqueue(session, "no.such.job")


async def test_worker_runs_a_job_and_commits_its_effects_with_completion(
    db: Database, worker: Worker
) -> None:
    async with db.session() as session:
        job_id = await enqueue(session, "probe.write_row", row="w1-row", value="v")
        await session.commit()

    await wait_until(lambda: state_is(db, job_id, "done"))
    async with db.read_session() as session:
        row = await session.get(SystemState, "w1-row")
    assert row is not None
    assert row.value == "v"


async def test_interchangeable_jobs_claimed_together_run_once_per_arguments(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    woken, other, appended = tmp_path / "woken", tmp_path / "other", tmp_path / "appended"
    async with db.session() as session:
        ids = [await enqueue(session, "probe.wake", path=str(woken)) for _ in range(5)]
        ids += [await enqueue(session, "probe.wake", path=str(other)) for _ in range(2)]
        # the same arguments, but a job that is not interchangeable: each one runs
        ids += [
            await enqueue(session, "probe.append", path=str(appended), value="v") for _ in range(2)
        ]
        await session.commit()

    # one claim takes them all, beside any scheduled job that is due (MAX_BATCH is 64)
    running = Worker(db, settings, concurrency=64)
    await running.start()
    try:
        for job_id in ids:
            await wait_until(lambda job_id=job_id: state_is(db, job_id, "done"))
    finally:
        await running.stop()

    assert len(woken.read_text().splitlines()) == 1
    assert len(other.read_text().splitlines()) == 1
    assert len(appended.read_text().splitlines()) == 2
    rows = [await job_row(db, job_id) for job_id in ids]
    assert all(row.locked_by is None and row.finished_at is not None for row in rows)


def test_the_dispatch_wake_up_is_interchangeable() -> None:
    spec = registry.get(DISPATCH_JOB)
    assert spec is not None
    assert spec.interchangeable


async def test_failing_job_is_retried_with_backoff_then_succeeds(
    db: Database, worker: Worker, unique: str
) -> None:
    async with db.session() as session:
        job_id = await enqueue(session, "probe.fail_then_succeed", token=unique, failures=1)
        await session.commit()

    await wait_until(lambda: _has_error(db, job_id))
    failed_once = await job_row(db, job_id)
    assert failed_once.state == "queued"
    assert failed_once.attempts == 1
    assert "planned failure 1 of 1" in (failed_once.last_error or "")
    assert failed_once.run_at > datetime.now(UTC)  # backed off, not retried at once
    async with db.session() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(run_at=clock.now()))
        await session.commit()

    await wait_until(lambda: state_is(db, job_id, "done"))
    assert (await job_row(db, job_id)).attempts == 2


async def _has_error(db: Database, job_id: str) -> bool:
    return (await job_row(db, job_id)).last_error is not None


async def test_job_is_dead_after_its_last_attempt_with_the_error_kept(
    db: Database, worker: Worker
) -> None:
    async with db.session() as session:
        job_id = await enqueue(session, "probe.always_fails", max_attempts=2)
        await session.commit()
    await wait_until(lambda: _has_error(db, job_id))
    async with db.session() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(run_at=clock.now()))
        await session.commit()

    await wait_until(lambda: state_is(db, job_id, "dead"))
    dead = await job_row(db, job_id)
    assert dead.attempts == 2
    assert dead.last_error is not None
    assert "this job never works" in dead.last_error
    assert dead.finished_at is not None


def test_backoff_grows_exponentially_with_jitter() -> None:
    delays = [queue.backoff(attempt).total_seconds() for attempt in (1, 2, 3, 4, 10, 30)]

    assert 1 <= delays[0] <= 2
    assert 2 <= delays[1] <= 4
    assert 4 <= delays[2] <= 8
    assert 8 <= delays[3] <= 16
    assert delays[5] <= 3600
    spread = {queue.backoff(5).total_seconds() for _ in range(20)}
    assert len(spread) > 1


async def test_returning_retry_reschedules_without_using_an_attempt(
    db: Database, worker: Worker
) -> None:
    async with db.session() as session:
        job_id = await enqueue(session, "probe.retry_later", seconds=3600)
        await session.commit()

    await wait_until(lambda: _run_at_moved(db, job_id))
    row = await job_row(db, job_id)
    assert row.state == "queued"
    assert row.attempts == 0
    assert row.last_error is None


async def _run_at_moved(db: Database, job_id: str) -> bool:
    row = await job_row(db, job_id)
    return row.state == "queued" and row.run_at > datetime.now(UTC) + timedelta(minutes=30)


async def test_late_completion_after_losing_the_lease_is_rolled_back(db: Database) -> None:
    async with db.session() as session:
        await enqueue(session, "probe.write_row", row="lost", value="first")
        await session.commit()
    async with db.session() as session:
        [claimed] = await queue.claim(
            session, "worker-a", 1, timedelta(seconds=30), skip_locked=not db.is_sqlite
        )
        await session.commit()
    async with db.session() as session:  # worker-a vanished; its lease is reclaimed
        await session.execute(
            update(Job)
            .where(Job.id == claimed.id)
            .values(lease_expires_at=clock.now() - timedelta(seconds=1))
        )
        assert await queue.reap_expired_leases(session) == 1
        await session.commit()
    async with db.session() as session:
        [reclaimed] = await queue.claim(
            session, "worker-b", 1, timedelta(seconds=30), skip_locked=not db.is_sqlite
        )
        await session.commit()

    async with db.session() as session:
        assert not await queue.mark_done(session, claimed, "worker-a")
        await session.rollback()
    async with db.session() as session:
        assert await queue.mark_done(session, reclaimed, "worker-b")
        await session.commit()

    assert reclaimed.id == claimed.id
    assert reclaimed.attempt == 2
    assert (await job_row(db, claimed.id)).state == "done"


async def test_expired_lease_on_the_last_attempt_makes_the_job_dead(db: Database) -> None:
    async with db.session() as session:
        job_id = await enqueue(session, "probe.always_fails", max_attempts=1)
        await session.commit()
    async with db.session() as session:
        await queue.claim(session, "gone", 1, timedelta(seconds=30), skip_locked=not db.is_sqlite)
        await session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(lease_expires_at=clock.now() - timedelta(seconds=1))
        )
        await queue.reap_expired_leases(session)
        await session.commit()

    row = await job_row(db, job_id)
    assert row.state == "dead"
    assert "lease expired" in (row.last_error or "")


async def test_stopping_a_worker_releases_jobs_it_could_not_finish(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    draining = Worker(db, settings, concurrency=2, drain_timeout=0.2)
    await draining.start()
    async with db.session() as session:
        job_id = await enqueue(
            session, "probe.append", path=str(tmp_path / "out"), value="x", sleep=60
        )
        await session.commit()
    await wait_until(lambda: state_is(db, job_id, "running"))

    await draining.stop()

    row = await job_row(db, job_id)
    assert row.state == "queued"
    assert row.attempts == 0
    assert row.locked_by is None


async def test_schedule_enqueues_each_run_once_across_workers(db: Database) -> None:
    schedule("test.every_minute", "* * * * *", "probe.always_fails")
    start = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
    clock.set_clock(lambda: start)
    try:
        async with db.session() as session:
            await schedules.sync(session)
            await session.commit()
        clock.set_clock(lambda: start + timedelta(minutes=1))

        async def tick() -> int:
            async with db.session() as session:
                fired = await schedules.tick(session)
                await session.commit()
                return fired

        results = await asyncio.gather(tick(), tick(), tick())
    finally:
        clock.set_clock(None)
        from interlink.jobs import registry

        registry._schedules.pop("test.every_minute", None)

    async with db.read_session() as session:
        jobs = (await session.scalars(select(Job).where(Job.name == "probe.always_fails"))).all()
        row = await session.get(Schedule, "test.every_minute")
    assert sum(results) == 1
    assert len(jobs) == 1
    assert row is not None
    assert row.next_run_at == datetime(2026, 1, 1, 12, 2, tzinfo=UTC)


async def test_the_sqlite_claim_reads_ready_jobs_in_index_order_without_sorting_them(
    db: Database,
) -> None:
    """Left to choose, SQLite read every queued job by (state, finished_at) and sorted them all
    for the first few."""
    if not db.is_sqlite:
        pytest.skip("SQLite's plan of the claim")
    at = clock.now()
    params = {"b_at": at, "b_limit": 64, "b_worker": "w", "b_lease": at + timedelta(seconds=5)}
    plan = await sqlite_plan(db, queue._CLAIM[False], params)
    assert "USING INDEX ix_jobs_ready" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
