"""Workers as real processes: sharing the queue, and surviving kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs import enqueue
from interlink.models import Job, WorkerHeartbeat
from tests.fixtures.workers import worker_process
from tests.jobs.test_queue import wait_until


async def wait_or_explain(
    db: Database, predicate: Callable[[], Awaitable[bool]], log_dir: Path, timeout: float
) -> None:
    """wait_until, but a timeout reports the jobs' states and what the workers logged."""
    try:
        await wait_until(predicate, timeout=timeout)
    except AssertionError:
        async with db.read_session() as session:
            rows = (
                await session.execute(
                    select(Job.state, Job.attempts, Job.locked_by, Job.last_error)
                )
            ).all()
        logs = {p.name: p.read_text()[-3000:] for p in sorted(log_dir.glob("worker-*.log"))}
        raise AssertionError(f"condition not reached in time; jobs={rows}; logs={logs}") from None


async def count_in_state(db: Database, state: str) -> int:
    """The test's own jobs in ``state``: a schedule coming due meanwhile queues others."""
    async with db.read_session() as session:
        found = await session.scalar(
            select(func.count()).where(Job.state == state, Job.name == "probe.append")
        )
        return int(found or 0)


# several workers sharing one queue is the PostgreSQL deployment
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_two_worker_processes_finish_2000_jobs_and_run_none_twice(
    backend: str, db: Database, settings: Settings, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "runs.txt"
    with (
        worker_process(settings, subprocess_env, tmp_path) as first,
        worker_process(settings, subprocess_env, tmp_path) as second,
    ):
        # both are up and claiming before the work arrives, so both get a share of it
        await wait_or_explain(db, lambda: _workers_alive(db, 2), tmp_path, timeout=120)
        async with db.session() as session:
            for i in range(2000):
                await enqueue(session, "probe.append", path=str(out), value=f"job-{i}")
            await session.commit()
        await wait_or_explain(db, lambda: _all_done(db, 2000), tmp_path, timeout=240)
        pids = {str(first.pid), str(second.pid)}

    lines = out.read_text().splitlines()
    runs = Counter(line.split()[0] for line in lines)
    assert len(runs) == 2000
    assert max(runs.values()) == 1
    assert {line.split()[1] for line in lines} == pids  # both processes took work


async def _all_done(db: Database, expected: int) -> bool:
    return await count_in_state(db, "done") == expected


async def test_jobs_of_a_killed_worker_are_finished_by_another_after_the_lease(
    db: Database, settings: Settings, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "runs.txt"
    hold = tmp_path / "hold"
    hold.touch()
    async with db.session() as session:
        for i in range(5):
            await enqueue(
                session, "probe.append", path=str(out), value=f"job-{i}", hold_while=str(hold)
            )
        await session.commit()

    with worker_process(settings, subprocess_env, tmp_path, lease=3) as doomed:
        await wait_or_explain(db, lambda: _running(db, 5), tmp_path, timeout=60)
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait()
    hold.unlink()
    with worker_process(settings, subprocess_env, tmp_path, lease=3) as survivor:
        await wait_or_explain(db, lambda: _all_done(db, 5), tmp_path, timeout=90)

    lines = out.read_text().splitlines()
    assert sorted(line.split()[0] for line in lines) == [f"job-{i}" for i in range(5)]
    assert {line.split()[1] for line in lines} == {str(survivor.pid)}


async def _workers_alive(db: Database, expected: int) -> bool:
    async with db.read_session() as session:
        alive = await session.scalar(select(func.count()).select_from(WorkerHeartbeat))
        return int(alive or 0) >= expected


async def _worker_alive(db: Database) -> bool:
    return await _workers_alive(db, 1)


async def _running(db: Database, expected: int) -> bool:
    return await count_in_state(db, "running") == expected


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_job_committed_while_workers_idle_starts_without_waiting_for_a_poll(
    backend: str, db: Database, settings: Settings, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    """With a 120 s poll interval, only LISTEN/NOTIFY can start the job within the wait."""
    out = tmp_path / "runs.txt"
    env = {**subprocess_env, "INTERLINK_JOBS_POLL_INTERVAL": "120"}
    with worker_process(settings, env, tmp_path) as _:
        await wait_until(lambda: _worker_alive(db), timeout=60)
        await asyncio.sleep(1)  # past its first claim, into the idle wait
        async with db.session() as session:
            await enqueue(session, "probe.append", path=str(out), value="woken")
            await session.commit()
        await wait_until(lambda: _all_done(db, 1), timeout=60)

    assert out.read_text().split()[0] == "woken"


# PostgreSQL wakes other processes with NOTIFY; SQLite through the workers' wake sockets
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_commit_wakes_a_sqlite_worker_in_another_process_that_would_poll_in_an_hour(
    backend: str, db: Database, settings: Settings, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "runs.txt"
    with worker_process(settings, subprocess_env, tmp_path, poll=3600):
        await wait_or_explain(db, lambda: _workers_alive(db, 1), tmp_path, timeout=120)
        # a first job makes sure the worker's loop has started; once it is done the loop claims
        # again, finds nothing and waits an hour for its next poll
        async with db.session() as session:
            await enqueue(session, "probe.append", path=str(out), value="first")
            await session.commit()
        await wait_or_explain(db, lambda: _all_done(db, 1), tmp_path, timeout=60)
        await asyncio.sleep(0.5)  # lets the loop settle into that wait (ordering, not timing)

        async with db.session() as session:
            await enqueue(session, "probe.append", path=str(out), value="woken")
            await session.commit()
        await wait_or_explain(db, lambda: _all_done(db, 2), tmp_path, timeout=60)

    assert [line.split()[0] for line in out.read_text().splitlines()] == ["first", "woken"]
