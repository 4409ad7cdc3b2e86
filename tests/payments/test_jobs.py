"""The payment jobs called directly with a JobContext."""

from __future__ import annotations

from typing import Any

import httpx
import structlog
from sqlalchemy import select

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs.registry import JobContext, Retry
from interlink.models import PaymentOperation, ReconciliationRun
from interlink.payments.reconciliation import reconcile_all
from interlink.payments.sync import sync_operation
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
