"""The payment jobs called directly with a JobContext."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import delete, select, update

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs.registry import JobContext, Retry
from interlink.kit.clock import set_clock
from interlink.models import Job, PaymentOperation, ReconciliationRun
from interlink.payments.reconciliation import reconcile_all
from interlink.payments.sync import STALLED_AFTER, sync_operation
from interlink.providers.sandbox_payments import SANDBOX
from tests.fixtures.payments import authorize, captured, shop


async def run_job(db: Database, settings: Settings, fn: Any, **args: Any) -> Retry | None:
    async with db.session() as session:
        ctx = JobContext(
            job_id="job_test",
            name=fn.__name__,
            attempt=1,
            max_attempts=3,
            db=db,
            settings=settings,
            session=session,
            log=structlog.get_logger("test"),
        )
        result: Retry | None = await fn(ctx, **args)
        await session.commit()
    return result


async def test_sync_never_guesses_while_the_provider_stays_unreachable(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s, payment_method="pm_provider_down", expect=202)
    [pending] = intent["pending_operations"]

    for expected_attempts in (2, 3):
        result = await run_job(
            db,
            settings,
            sync_operation,
            tenant_id=s.key.tenant_id,
            intent_id=intent["id"],
            operation_id=pending["id"],
        )
        assert isinstance(result, Retry)
        async with db.read_session() as session:
            op = await session.scalar(
                select(PaymentOperation).where(PaymentOperation.id == pending["id"])
            )
        assert op is not None
        assert op.status == "pending"
        assert op.attempts == expected_attempts

    still = (await client.get(f"/v1/payments/{intent['id']}", headers=s.headers)).json()
    assert still["status"] == "processing"
    assert still["failure_code"] is None


async def test_periodic_reconciliation_runs_for_each_tenant_with_recent_payments(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    first = await shop(client, db, "First")
    second = await shop(client, db, "Second")
    await captured(client, first)
    await captured(client, second)

    await run_job(db, settings, reconcile_all)

    async with db.read_session() as session:
        runs = (await session.scalars(select(ReconciliationRun))).all()
    assert sorted(r.tenant_id for r in runs) == sorted([first.key.tenant_id, second.key.tenant_id])
    assert all(r.status == "completed" and r.checked == 1 and r.drift_count == 0 for r in runs)


async def test_sync_that_cannot_read_the_providers_record_does_not_fail_the_capture(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s, payment_method="pm_card_capture_timeout")
    response = await client.post(f"/v1/payments/{intent['id']}/capture", json={}, headers=s.write())
    [pending] = response.json()["pending_operations"]
    hidden = SANDBOX.payments.pop(intent["provider_reference"])
    try:
        result = await run_job(
            db,
            settings,
            sync_operation,
            tenant_id=s.key.tenant_id,
            intent_id=intent["id"],
            operation_id=pending["id"],
        )
    finally:
        SANDBOX.payments[hidden.reference] = hidden

    assert isinstance(result, Retry)
    still = (await client.get(f"/v1/payments/{intent['id']}", headers=s.headers)).json()
    assert still["pending_operations"][0]["status"] == "pending"
    assert still["status"] == "authorized"


async def _pending_operation_with_dead_sync(
    client: httpx.AsyncClient, db: Database
) -> tuple[str, str]:
    """A capture whose outcome stayed unknown and whose sync job died (its attempts spent on
    errors, as when the job itself kept failing)."""
    s = await shop(client, db)
    intent = await authorize(client, s, payment_method="pm_provider_down", expect=202)
    [pending] = intent["pending_operations"]
    async with db.session() as session:
        await session.execute(
            update(Job)
            .where(Job.dedupe_key == f"paysync:{pending['id']}")
            .values(state="dead", attempts=10, last_error="RuntimeError: boom")
        )
        await session.commit()
    return intent["id"], pending["id"]


async def _reconcile_once_stalled(db: Database, settings: Settings) -> None:
    """The hourly reconciliation, run when the pending operation has waited long enough."""
    later = datetime.now(UTC) + STALLED_AFTER + timedelta(minutes=1)
    set_clock(lambda: later)
    try:
        await run_job(db, settings, reconcile_all)
    finally:
        set_clock(None)


async def _sync_job(db: Database, operation_id: str) -> Job | None:
    async with db.read_session() as session:
        return await session.scalar(select(Job).where(Job.dedupe_key == f"paysync:{operation_id}"))


async def test_hourly_reconciliation_queues_again_the_dead_sync_of_a_pending_operation(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    _intent_id, operation_id = await _pending_operation_with_dead_sync(client, db)

    await run_job(db, settings, reconcile_all)
    dead = await _sync_job(db, operation_id)
    assert dead is not None
    assert dead.state == "dead"  # too recent: left alone

    await _reconcile_once_stalled(db, settings)
    revived = await _sync_job(db, operation_id)
    assert revived is not None
    assert (revived.state, revived.attempts) == ("queued", 0)
    assert revived.last_error == "RuntimeError: boom"  # why it died stays readable


async def test_hourly_reconciliation_queues_a_new_sync_when_the_dead_one_was_pruned(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    intent_id, operation_id = await _pending_operation_with_dead_sync(client, db)
    async with db.session() as session:
        await session.execute(delete(Job).where(Job.dedupe_key == f"paysync:{operation_id}"))
        await session.commit()

    await _reconcile_once_stalled(db, settings)
    fresh = await _sync_job(db, operation_id)
    assert fresh is not None
    assert fresh.state == "queued"
    assert fresh.args["operation_id"] == operation_id
    assert fresh.args["intent_id"] == intent_id
