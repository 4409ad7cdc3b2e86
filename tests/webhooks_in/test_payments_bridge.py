"""Inbound payment events hand over to the payments sync: they never move a ledger themselves."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs.worker import Worker
from interlink.models import Job
from interlink.webhooks_in.payments_bridge import ProviderPaymentUpdate, apply
from tests.fixtures.payments import authorize, shop, wait_for


def _update(reference: str, event_id: str = "evt_1") -> ProviderPaymentUpdate:
    return ProviderPaymentUpdate(
        provider="sandbox",
        provider_reference=reference,
        status="captured",
        amount=5000,
        currency="usd",
        amount_captured=5000,
        provider_event_id=event_id,
    )


async def test_event_about_a_pending_capture_queues_a_sync_that_settles_it(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s, payment_method="pm_card_capture_timeout")
    pending = await client.post(f"/v1/payments/{intent['id']}/capture", json={}, headers=s.write())
    assert pending.status_code == 202

    async with db.session() as session:
        first = await apply(
            session, s.key.tenant_id, s.integration_id, _update(intent["provider_reference"])
        )
        replay = await apply(
            session, s.key.tenant_id, s.integration_id, _update(intent["provider_reference"])
        )
        await session.commit()
    async with db.read_session() as session:
        due_now = (
            await session.scalars(
                select(Job).where(
                    Job.name == "payments.sync_operation", Job.dedupe_key.like("%:evt_1")
                )
            )
        ).all()
    worker = Worker(db, settings)
    await worker.start()
    try:
        settled = await wait_for(client, f"/v1/payments/{intent['id']}", s.headers, "captured")
    finally:
        await worker.stop()

    assert first.matched
    assert "queued to sync" in first.reason
    assert replay.matched
    assert len(due_now) == 1
    assert settled["amount_captured"] == 5000


async def test_event_about_an_unknown_payment_matches_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)

    async with db.session() as session:
        result = await apply(session, s.key.tenant_id, s.integration_id, _update("pi_unknown"))

    assert not result.matched


async def test_event_for_another_tenants_payment_matches_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner = await shop(client, db, name="Owner")
    other = await shop(client, db, name="Other")
    intent = await authorize(client, owner)

    async with db.session() as session:
        result = await apply(
            session,
            other.key.tenant_id,
            other.integration_id,
            _update(intent["provider_reference"]),
        )

    assert not result.matched
