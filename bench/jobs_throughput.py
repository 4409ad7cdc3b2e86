"""J1: the durable job queue end to end — jobs committed, claimed, run and acknowledged per second
by one worker process, compared with the raw commit rate (each job costs at least one commit)."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs import JobContext, enqueue, job
from interlink.jobs.worker import Worker
from interlink.models import Job


@job("bench.noop", max_attempts=1)
async def noop(ctx: JobContext, n: int) -> None:
    return None


async def jobs_per_second(settings: Settings, n: int) -> dict[str, float]:
    db = Database(settings)
    try:
        started = time.perf_counter()
        for offset in range(0, n, 100):
            async with db.session() as session:
                for i in range(offset, min(n, offset + 100)):
                    await enqueue(session, "bench.noop", n=i)
                await session.commit()
        enqueue_elapsed = time.perf_counter() - started

        worker = Worker(db, settings, concurrency=32)
        started = time.perf_counter()
        await worker.start()
        try:
            while True:
                async with db.read_session() as session:
                    done = await session.scalar(
                        select(func.count()).where(Job.state == "done", Job.name == "bench.noop")
                    )
                if done == n:
                    break
                await asyncio.sleep(0.05)
            run_elapsed = time.perf_counter() - started
        finally:
            await worker.stop()
    finally:
        await db.dispose()
    return {"enqueued_per_s": n / enqueue_elapsed, "run_per_s": n / run_elapsed}
