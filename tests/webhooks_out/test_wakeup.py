"""Shared wake-ups: a burst of publishes queues one dispatcher job, and no publish that commits
is left without a dispatcher run that sees its deliveries."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.events import publish
from interlink.jobs import queue
from interlink.jobs.worker import Worker
from interlink.kit.clock import now
from interlink.models import Job, WebhookDelivery, WorkerHeartbeat
from interlink.webhooks_out.wakeup import DISPATCH_JOB, SHARE_WINDOW
from tests.fixtures.workers import worker_process
from tests.jobs.test_queue import wait_until
from tests.webhooks_out.conftest import FakeClock, Receiver, run_due_jobs
from tests.webhooks_out.helpers import create_endpoint, tenant

DATA = {"object": {"id": "gal_1"}}


async def queued_wake_ups(db: Database) -> list[str]:
    async with db.read_session() as session:
        rows = await session.scalars(
            select(Job.id).where(Job.name == DISPATCH_JOB, Job.state == "queued")
        )
        return list(rows)


async def publish_one(db: Database, tenant_id: str) -> str:
    async with db.session() as session:
        event = await publish(session, tenant_id, "gallery.delivered", DATA)
        await session.commit()
    return event.id


async def statuses(db: Database, tenant_id: str) -> list[str]:
    async with db.read_session() as session:
        rows = await session.scalars(
            select(WebhookDelivery.status).where(WebhookDelivery.tenant_id == tenant_id)
        )
        return sorted(rows)


async def test_a_burst_of_publishes_shares_one_queued_wake_up(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    key = await tenant(db)
    await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"))
    for _ in range(5):
        await publish_one(db, key.tenant_id)
    assert len(await queued_wake_ups(db)) == 1

    # past the window a publish queues its own
    fake_clock.advance(SHARE_WINDOW * 2)
    await publish_one(db, key.tenant_id)
    assert len(await queued_wake_ups(db)) == 2

    await run_due_jobs(db, wh_settings)
    assert len(await receiver.log(f"/ok/{unique}")) == 6
    assert await statuses(db, key.tenant_id) == ["succeeded"] * 6


async def test_a_publish_after_the_wake_up_was_claimed_queues_another_and_is_delivered(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    key = await tenant(db)
    await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"))
    await publish_one(db, key.tenant_id)
    [first] = await queued_wake_ups(db)
    worker = Worker(db, wh_settings)
    [claimed] = await worker._claim(64)
    assert claimed.id == first

    # within the window, but the job is claimed: its run may have read the due rows already
    await publish_one(db, key.tenant_id)
    [second] = await queued_wake_ups(db)
    assert second != first

    await worker._execute(claimed)
    await run_due_jobs(db, wh_settings)
    assert len(await receiver.log(f"/ok/{unique}")) == 2
    assert await statuses(db, key.tenant_id) == ["succeeded", "succeeded"]


# SQLite has no row locks: the open publish holds the database's write lock, which a claim waits for
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_wake_up_shared_by_an_open_publish_is_claimed_only_after_its_commit(
    backend: str,
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    key = await tenant(db)
    await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"))
    await publish_one(db, key.tenant_id)
    [shared] = await queued_wake_ups(db)

    worker = Worker(db, wh_settings)
    async with db.session() as open_publish:
        await publish(open_publish, key.tenant_id, "gallery.delivered", DATA)
        queued = await open_publish.scalar(
            select(func.count()).where(Job.name == DISPATCH_JOB, Job.state == "queued")
        )
        assert queued == 1  # it shares the committed job rather than queueing its own

        # neither a worker's claim nor a run's absorb takes the job while the publish is open:
        # a run now would not see the delivery it announces
        assert await worker._claim(64) == []
        async with db.session() as session:
            # waiting for the open publish would never end here: fail instead
            await session.execute(text("SET LOCAL lock_timeout = '5s'"))
            assert await queue.absorb(session, DISPATCH_JOB, now()) == 0
            await session.commit()
        await open_publish.commit()

    [claimed] = await worker._claim(64)
    assert claimed.id == shared
    await worker._execute(claimed)
    assert len(await receiver.log(f"/ok/{unique}")) == 2
    assert await statuses(db, key.tenant_id) == ["succeeded", "succeeded"]


# PostgreSQL wakes other processes with NOTIFY; SQLite through the workers' wake sockets
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_publish_wakes_a_sqlite_worker_in_another_process_that_would_poll_in_an_hour(
    backend: str,
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    subprocess_env: dict[str, str],
    tmp_path: Path,
    unique: str,
) -> None:
    key = await tenant(db)
    await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"))

    async def worker_alive() -> bool:
        async with db.read_session() as session:
            return bool(await session.scalar(select(func.count()).select_from(WorkerHeartbeat)))

    async def delivered(count: int) -> Any:
        return len(await receiver.log(f"/ok/{unique}")) >= count

    settled = {
        "INTERLINK_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        # the run ends once drained, so the next delivery needs a wake-up of the worker itself
        "INTERLINK_WEBHOOK_DISPATCH_LINGER_SECONDS": "0",
    }
    with worker_process(
        wh_settings, subprocess_env, tmp_path, poll=3600, extra_env=settled
    ) as process:
        await wait_until(worker_alive, timeout=120)
        # the first delivery makes sure the worker's loop has started; then its run ends, the
        # loop claims again, finds nothing and waits an hour for its next poll
        await publish_one(db, key.tenant_id)
        await wait_until(lambda: delivered(1), timeout=60)
        await asyncio.sleep(0.5)  # lets the loop settle into that wait (ordering, not timing)

        await publish_one(db, key.tenant_id)
        try:
            await wait_until(lambda: delivered(2), timeout=60)
        except AssertionError:
            logs = [p.read_text()[-3000:] for p in tmp_path.glob("worker-*.log")]
            raise AssertionError(f"not woken; exit={process.poll()} {logs}") from None
    assert await statuses(db, key.tenant_id) == ["succeeded", "succeeded"]
