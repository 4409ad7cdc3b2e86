"""The dispatcher: leased rows of a dead dispatcher come back, slow endpoints do not hold back the
recording of fast ones, and wake-ups are absorbed by a run in progress."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs import notify, queue
from interlink.jobs.worker import Worker
from interlink.kit.clock import now
from interlink.models import Job, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from interlink.webhooks_out.client import AttemptResult
from interlink.webhooks_out.delivery import Gates
from interlink.webhooks_out.dispatch import _DUE, Claimed, Dispatcher, Outcome, dispatcher_for
from interlink.webhooks_out.secrets import keyring_for
from interlink.webhooks_out.tasks import _gates_for, _limiter_for
from interlink.webhooks_out.wakeup import DISPATCH_JOB, SHARE_WINDOW
from tests.fixtures.factories import TenantKey
from tests.fixtures.plans import sqlite_plan
from tests.webhooks_out.conftest import FakeClock, Receiver, run_due_jobs
from tests.webhooks_out.helpers import (
    create_endpoint,
    deliveries,
    only_delivery,
    publish,
    tenant,
)


def dispatcher_with_share(db: Database, settings: Settings, per_endpoint: int) -> Dispatcher:
    """A dispatcher of its own whose endpoints may each have ``per_endpoint`` sends in flight."""
    return Dispatcher(
        db, settings, Gates(per_endpoint, 256), keyring_for(settings), _limiter_for(settings)
    )


def make_dispatcher(db: Database, settings: Settings) -> Dispatcher:
    return dispatcher_for(
        db,
        settings,
        _gates_for(settings),
        keyring_for(settings),
        _limiter_for(settings),
    )


async def test_rows_claimed_by_a_dispatcher_that_died_are_sent_again_with_the_same_webhook_id(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    fake_clock: FakeClock,
    unique: str,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"))
    await publish(wh_client, key)

    # a worker takes the wake-up, its run claims the delivery, and the process dies before
    # sending (nothing below finishes the job or the send)
    doomed = Worker(db, wh_settings)
    assert DISPATCH_JOB in {j.name for j in await doomed._claim(64)}
    dispatcher = make_dispatcher(db, wh_settings)
    claimed_at = now()
    [(claimed, _target, _body)] = await dispatcher.claim(64, claimed_at)
    dispatcher.gates.leave(claimed.endpoint_id)

    assert await run_due_jobs(db, wh_settings) == 0  # the row is leased, the job still running
    assert await receiver.log(f"/ok/{unique}") == []

    # the job's lease ends: it is reclaimed and its run queues a timer at the row's lease end
    fake_clock.advance(timedelta(seconds=wh_settings.jobs_lease_seconds + 1))
    async with db.session() as session:
        assert await queue.reap_expired_leases(session) >= 1
        await session.commit()
    await run_due_jobs(db, wh_settings)
    assert await receiver.log(f"/ok/{unique}") == []
    leased = await only_delivery(wh_client, key, endpoint["id"])
    lease_ends = datetime.fromisoformat(leased["next_attempt_at"].replace("Z", "+00:00"))
    # the lease covers the endpoint's timeout
    assert lease_ends - claimed_at >= timedelta(seconds=endpoint["timeout_seconds"])
    fake_clock.set(lease_ends)
    await run_due_jobs(db, wh_settings)

    delivery = await only_delivery(wh_client, key, endpoint["id"])
    assert delivery["id"] == claimed.id
    assert delivery["status"] == "succeeded"
    assert len(delivery["attempt_history"]) == 1
    [request] = await receiver.log(f"/ok/{unique}")
    assert request["headers"]["webhook-id"] == claimed.id


async def test_a_slow_endpoint_does_not_hold_back_recording_the_fast_ones(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    unique: str,
) -> None:
    key = await tenant(db)
    slow = await create_endpoint(wh_client, key, receiver.url(f"/slow/{unique}"))
    fast = await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"))
    for _ in range(3):
        await publish(wh_client, key)
    dispatcher = make_dispatcher(db, wh_settings)
    started = time.monotonic()
    run = asyncio.create_task(dispatcher.run())
    try:
        deadline = started + 10
        while True:
            async with db.read_session() as session:
                fast_done = await session.scalar(
                    select(func.count())
                    .select_from(WebhookAttempt)
                    .where(WebhookAttempt.endpoint_id == fast["id"], WebhookAttempt.succeeded)
                )
                slow_done = await session.scalar(
                    select(func.count())
                    .select_from(WebhookAttempt)
                    .where(WebhookAttempt.endpoint_id == slow["id"])
                )
            if fast_done == 3:
                break
            assert time.monotonic() < deadline, "the fast deliveries were not recorded"
            await asyncio.sleep(0.02)
        # recorded while every slow request (2 s each) was still in flight
        assert slow_done == 0
        assert time.monotonic() - started < 1.5
    finally:
        await run
    async with db.read_session() as session:
        statuses = (
            await session.scalars(
                select(WebhookDelivery.status).where(WebhookDelivery.tenant_id == key.tenant_id)
            )
        ).all()
    assert statuses == ["succeeded"] * 6


async def test_wake_ups_queued_during_a_run_are_absorbed_by_its_claims(
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
        await publish(wh_client, key)
        fake_clock.advance(SHARE_WINDOW * 2)  # the next publish shares none of them
    async with db.read_session() as session:
        queued = await session.scalar(
            select(func.count()).where(Job.name == DISPATCH_JOB, Job.state == "queued")
        )
    assert queued == 5  # one per publish, committed with its deliveries

    sent = await make_dispatcher(db, wh_settings).run()

    assert sent == 5
    async with db.read_session() as session:
        left = await session.scalar(
            select(func.count()).where(Job.name == DISPATCH_JOB, Job.state == "queued")
        )
    assert left == 0
    assert len(await receiver.log(f"/ok/{unique}")) == 5


async def test_a_changed_endpoint_is_read_again_by_the_next_claim_not_taken_from_the_cache(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    unique: str,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}/before"))
    dispatcher = make_dispatcher(db, wh_settings)
    await publish(wh_client, key)
    assert await dispatcher.run() == 1
    assert endpoint["id"] in dispatcher._targets  # the target is cached after the first send

    changed = await wh_client.put(
        f"/v1/webhooks/{endpoint['id']}",
        json={"url": receiver.url(f"/ok/{unique}/after"), "headers": {"X-Tenant": "t1"}},
        headers=key.headers,
    )
    assert changed.status_code == 200, changed.text
    await publish(wh_client, key)
    assert await dispatcher.run() == 1

    assert len(await receiver.log(f"/ok/{unique}/before")) == 1
    [request] = await receiver.log(f"/ok/{unique}/after")
    assert {k.lower(): v for k, v in request["headers"].items()}["x-tenant"] == "t1"


@dataclass
class Subscribed:
    """A tenant with one endpoint on the receiver's ``/ok/…`` route."""

    key: TenantKey
    path: str


@pytest.fixture
async def subscribed(
    db: Database, wh_client: httpx.AsyncClient, receiver: Receiver, unique: str
) -> Subscribed:
    key = await tenant(db)
    path = f"/ok/{unique}"
    await create_endpoint(wh_client, key, receiver.url(path))
    return Subscribed(key, path)


def lingering_dispatcher(db: Database, settings: Settings) -> Dispatcher:
    return make_dispatcher(
        db, settings.model_copy(update={"webhook_dispatch_linger_seconds": 60.0})
    )


@asynccontextmanager
async def running(dispatcher: Dispatcher) -> AsyncIterator[asyncio.Task[int]]:
    """A run of ``dispatcher`` in the background, idle (nothing due) when the block starts."""
    stopping = asyncio.Event()
    run = asyncio.create_task(dispatcher.run(stopping))
    try:
        await asyncio.sleep(0.2)
        assert dispatcher.active
        yield run
    finally:
        stopping.set()
        await asyncio.wait_for(run, timeout=5)


async def received(receiver: Receiver, path: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(await receiver.log(path)) < count:
        assert time.monotonic() < deadline, f"{path} did not receive {count} deliveries"
        await asyncio.sleep(0.02)


async def test_a_drained_run_lingers_and_sends_an_event_published_meanwhile_at_once(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    subscribed: Subscribed,
) -> None:
    key, path = subscribed.key, subscribed.path
    dispatcher = lingering_dispatcher(db, wh_settings)
    async with running(dispatcher) as run:
        # the publishing commit pokes the run in progress: no worker runs the wake-up job
        await publish(wh_client, key)
        await received(receiver, path, 1)
        assert not run.done()
    assert run.result() == 1
    assert not dispatcher.active


async def test_a_run_takes_its_own_wake_ups_and_wakes_the_job_loop_when_it_ends(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    subscribed: Subscribed,
) -> None:
    key, path = subscribed.key, subscribed.path
    job_loop = asyncio.Event()  # what a worker's job loop waits on
    notify.add_waiter(job_loop)
    try:
        async with running(lingering_dispatcher(db, wh_settings)):
            # only a wake-up job queued: the run absorbs it, the job loop sleeps on
            await publish(wh_client, key, event_type="gallery.delivered")
            await received(receiver, path, 1)
            assert not job_loop.is_set()
            # a publish that also queues another job (order.created has a subscriber) wakes it
            await publish(wh_client, key, event_type="order.created")
            assert job_loop.is_set()
            job_loop.clear()
        # whatever wake-up the run took on itself and left queued is claimed by the job loop now
        assert job_loop.is_set()
    finally:
        notify.remove_waiter(job_loop)


async def test_publishes_soon_after_a_claim_that_took_the_last_due_rows_are_claimed_together(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    subscribed: Subscribed,
) -> None:
    key, path = subscribed.key, subscribed.path
    dispatcher = lingering_dispatcher(db, wh_settings)
    dispatcher.claim_gap = 1.0  # wide, so that the publishes below all fall inside it
    claims: list[int] = []
    claim = dispatcher.claim

    async def counted(limit: int, at: datetime) -> list[Any]:
        taken = await claim(limit, at)
        if taken:
            claims.append(len(taken))
        return taken

    dispatcher.claim = counted  # type: ignore[method-assign]
    async with running(dispatcher):
        # the first publish in a quiet moment is claimed at once, alone
        await publish(wh_client, key, event_type="gallery.delivered")
        await received(receiver, path, 1)
        # those that follow it within the gap wait for it to end and go in one claim
        for _ in range(4):
            await publish(wh_client, key, event_type="gallery.delivered")
        await received(receiver, path, 5)
    assert claims == [1, 4]


@pytest.mark.parametrize("excluding", [False, True], ids=["all", "some-endpoints-excluded"])
async def test_the_sqlite_claim_reads_pending_rows_in_index_order_without_sorting_them(
    db: Database, excluding: bool
) -> None:
    """Left to choose, SQLite read every pending row by (status, created_at) and sorted them
    all for the first 64."""
    if not db.is_sqlite:
        pytest.skip("SQLite's plan of the claim")
    params: dict[str, Any] = {"b_at": now(), "b_limit": 64}
    if excluding:
        params["b_excluded"] = ["we_one", "we_two"]
    plan = await sqlite_plan(db, _DUE[(True, excluding)], params)
    assert "USING INDEX ix_webhook_deliveries_pending (next_attempt_at<?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


async def test_a_claim_takes_the_free_share_of_each_endpoint_and_leaves_the_rest_due(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    unique: str,
) -> None:
    key = await tenant(db)
    endpoint = await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"))
    for _ in range(3):
        await publish(wh_client, key)
    dispatcher = dispatcher_with_share(db, wh_settings, 2)
    at = now()

    first = await dispatcher.claim(64, at)
    assert len(first) == 2  # the endpoint's share
    assert dispatcher.batch_was_full is False  # three due rows: none beyond the batch
    rows = await deliveries(wh_client, key, endpoint["id"])
    due = [r for r in rows if r["id"] not in {c.id for c, _t, _b in first}]
    [left] = due
    # the third row was not leased: it is due as it was
    assert datetime.fromisoformat(left["next_attempt_at"].replace("Z", "+00:00")) <= at

    # the share is in flight: a claim leaves the endpoint out
    assert await dispatcher.claim(64, at) == []
    for claimed, _target, _body in first:
        dispatcher.gates.leave(claimed.endpoint_id)
    # a claim that finds as many due rows as it asks for says more may be due
    [(third, _target, _body)] = await dispatcher.claim(1, at)
    assert third.id == left["id"]
    assert dispatcher.batch_was_full is True


async def test_a_claim_sends_a_plain_endpoint_s_rows_and_decides_a_rate_limited_one_s(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    unique: str,
) -> None:
    """On PostgreSQL the one-statement claim leases the plain endpoint's rows and leaves the
    rate-limited endpoint's to the claim with decisions, in the same call."""
    key = await tenant(db)
    plain = await create_endpoint(wh_client, key, receiver.url(f"/ok/{unique}"))
    limited = await create_endpoint(
        wh_client, key, receiver.url(f"/ok/{unique}/limited"), rate_limit=1
    )
    for _ in range(3):
        await publish(wh_client, key)
    dispatcher = dispatcher_with_share(db, wh_settings, 8)
    at = now()

    taken = await dispatcher.claim(64, at)
    by_endpoint: dict[str, int] = {}
    for claimed, _target, _body in taken:
        by_endpoint[claimed.endpoint_id] = by_endpoint.get(claimed.endpoint_id, 0) + 1
    assert by_endpoint == {plain["id"]: 3, limited["id"]: 1}  # one a second
    waiting = [
        r
        for r in await deliveries(wh_client, key, limited["id"])
        if r["id"] not in {c.id for c, _t, _b in taken}
    ]
    assert len(waiting) == 2
    for row in waiting:  # deferred to the next slot, without an attempt
        assert datetime.fromisoformat(row["next_attempt_at"].replace("Z", "+00:00")) > at
        assert row["attempts"] == 0


@dataclass
class OneClaimed:
    key: TenantKey
    endpoint: dict[str, Any]
    dispatcher: Dispatcher
    row: Claimed
    at: datetime


async def claim_one(
    db: Database, client: httpx.AsyncClient, settings: Settings, url: str
) -> OneClaimed:
    """One event to one new endpoint, its delivery claimed (and its gate left: no send)."""
    key = await tenant(db)
    endpoint = await create_endpoint(client, key, url)
    await publish(client, key)
    dispatcher = make_dispatcher(db, settings)
    at = now()
    [(claimed, _target, _body)] = await dispatcher.claim(64, at)
    dispatcher.gates.leave(claimed.endpoint_id)
    return OneClaimed(key, endpoint, dispatcher, claimed, at)


async def test_a_late_duplicate_outcome_adds_its_attempt_and_changes_nothing_else(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    unique: str,
) -> None:
    one = await claim_one(db, wh_client, wh_settings, receiver.url(f"/ok/{unique}"))
    answer = AttemptResult(200, 12, "ok", None, None)

    await one.dispatcher.record_batch([Outcome(one.row, answer, one.at)])
    # the same send's outcome again (a lease that ended, a resent row answering late)
    await one.dispatcher.record_batch([Outcome(one.row, answer, one.at + timedelta(seconds=1))])

    delivery = await only_delivery(wh_client, one.key, one.endpoint["id"])
    assert delivery["status"] == "succeeded"
    assert delivery["attempts"] == 1
    assert [a["status_code"] for a in delivery["attempt_history"]] == [200, 200]


async def test_a_success_ends_its_endpoint_s_run_of_failures(
    db: Database,
    wh_client: httpx.AsyncClient,
    wh_settings: Settings,
    receiver: Receiver,
    unique: str,
) -> None:
    one = await claim_one(db, wh_client, wh_settings, receiver.url(f"/ok/{unique}"))
    async with db.session() as session:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == one.endpoint["id"])
            .values(failing_since=now() - timedelta(days=1))
        )
        await session.commit()

    answer = AttemptResult(204, 5, "", None, None)
    await one.dispatcher.record_batch([Outcome(one.row, answer, one.at)])

    async with db.read_session() as session:
        row = await session.get(WebhookEndpoint, one.endpoint["id"])
        assert row is not None
        assert row.failing_since is None
    delivery = await only_delivery(wh_client, one.key, one.endpoint["id"])
    assert delivery["status"] == "succeeded"
