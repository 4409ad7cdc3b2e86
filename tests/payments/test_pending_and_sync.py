"""Unknown outcomes stay pending and are settled by the sync job from the provider's truth."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs.worker import Worker
from interlink.models import Event
from interlink.providers.sandbox_payments import SANDBOX
from tests.fixtures.payments import authorize, run_sync_jobs, shop, wait_for


async def test_timeout_during_capture_stays_pending_and_sync_settles_without_a_second_capture(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s, payment_method="pm_card_capture_timeout")

    response = await client.post(f"/v1/payments/{intent['id']}/capture", json={}, headers=s.write())

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "authorized"
    [pending] = body["pending_operations"]
    assert pending["operation"] == "capture"
    assert pending["status"] == "pending"
    assert SANDBOX.movements(intent["provider_reference"], "capture") == [5000]
    again = await client.post(f"/v1/payments/{intent['id']}/capture", json={}, headers=s.write())
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "operation_in_progress"

    await run_sync_jobs(db)
    worker = Worker(db, settings)
    await worker.start()
    try:
        settled = await wait_for(client, f"/v1/payments/{intent['id']}", s.headers, "captured")
    finally:
        await worker.stop()

    assert settled["amount_captured"] == 5000
    assert SANDBOX.movements(intent["provider_reference"], "capture") == [5000]
    history = (await client.get("/v1/orders/ord_1/history", headers=s.headers)).json()["data"]
    assert history[-1]["to_status"] == "captured"
    assert history[-1]["source"] == "sync"


async def test_lost_authorization_answer_is_recovered_by_the_sync(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    s = await shop(client, db)

    intent = await authorize(client, s, payment_method="pm_card_timeout", expect=202)

    assert intent["status"] == "processing"
    assert intent["provider_reference"] is None
    await run_sync_jobs(db)
    worker = Worker(db, settings)
    await worker.start()
    try:
        settled = await wait_for(client, f"/v1/payments/{intent['id']}", s.headers, "authorized")
    finally:
        await worker.stop()
    reference = settled["provider_reference"]
    assert SANDBOX.movements(reference, "authorize") == [5000]


async def test_refund_whose_answer_is_lost_is_found_by_its_operation_id(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s, payment_method="pm_card_refund_timeout")
    await client.post(f"/v1/payments/{intent['id']}/capture", json={}, headers=s.write())

    response = await client.post(
        f"/v1/payments/{intent['id']}/refund", json={"amount": 1200}, headers=s.write()
    )

    assert response.status_code == 202
    assert response.json()["amount_refund_pending"] == 1200
    over = await client.post(
        f"/v1/payments/{intent['id']}/refund", json={"amount": 3900}, headers=s.write()
    )
    assert over.status_code == 409  # 1200 is reserved by the pending refund
    await run_sync_jobs(db)
    worker = Worker(db, settings)
    await worker.start()
    try:
        settled = await wait_for(
            client, f"/v1/payments/{intent['id']}", s.headers, "partially_refunded"
        )
    finally:
        await worker.stop()
    assert settled["amount_refunded"] == 1200
    assert settled["amount_refund_pending"] == 0
    assert SANDBOX.movements(intent["provider_reference"], "refund") == [1200]


async def test_delayed_authorization_is_processing_until_the_provider_confirms(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    s = await shop(client, db)

    intent = await authorize(client, s, payment_method="pm_card_delayed", expect=202)

    assert intent["status"] == "processing"
    await run_sync_jobs(db)
    worker = Worker(db, settings)
    await worker.start()
    try:
        await wait_for(client, f"/v1/payments/{intent['id']}", s.headers, "authorized")
    finally:
        await worker.stop()
    async with db.read_session() as session:
        types = (
            await session.scalars(select(Event.type).where(Event.tenant_id == s.key.tenant_id))
        ).all()
    assert "payment.authorized" in types


async def test_card_requiring_action_waits_for_the_customer(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    s = await shop(client, db)

    intent = await authorize(client, s, payment_method="pm_card_requires_action", expect=202)

    assert intent["status"] == "requires_action"
    assert intent["next_action"]["type"] == "redirect_to_url"
    SANDBOX.authenticate(intent["provider_reference"])
    await run_sync_jobs(db)
    worker = Worker(db, settings)
    await worker.start()
    try:
        await wait_for(client, f"/v1/payments/{intent['id']}", s.headers, "authorized")
    finally:
        await worker.stop()


async def test_unreachable_provider_leaves_authorization_pending_then_sync_completes_it(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    s = await shop(client, db)

    intent = await authorize(client, s, payment_method="pm_card_unreachable", expect=202)

    await run_sync_jobs(db)
    worker = Worker(db, settings)
    await worker.start()
    try:
        settled = await wait_for(client, f"/v1/payments/{intent['id']}", s.headers, "authorized")
    finally:
        await worker.stop()
    assert SANDBOX.movements(settled["provider_reference"], "authorize") == [5000]
