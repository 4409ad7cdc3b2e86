"""A money operation's Idempotency-Key is also stored on its operation row, so a retry still
finds the operation after the key's idempotency record lapsed (its first request died with its
process and the 5-minute lock ran out, or the record expired)."""

from __future__ import annotations

import httpx
from sqlalchemy import delete, func, select, update

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs.worker import Worker
from interlink.models import IdempotencyRecord, PaymentIntent, PaymentOperation
from interlink.providers.sandbox_payments import SANDBOX
from tests.fixtures.payments import authorize, quote, run_sync_jobs, shop, wait_for


async def forget_idempotency_records(db: Database) -> None:
    """What a crash before the response was stored, 5 minutes later, leaves: nothing that
    answers for the key."""
    async with db.session() as session:
        await session.execute(delete(IdempotencyRecord))
        await session.commit()


async def refunds_of(db: Database, intent_id: str) -> int:
    async with db.read_session() as session:
        count = await session.scalar(
            select(func.count()).where(
                PaymentOperation.intent_id == intent_id, PaymentOperation.operation == "refund"
            )
        )
    return int(count or 0)


async def test_pending_refund_retried_with_its_key_after_the_record_lapsed_answers_it_again(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s, payment_method="pm_card_refund_timeout")
    await client.post(f"/v1/payments/{intent['id']}/capture", json={}, headers=s.write())
    first = await client.post(
        f"/v1/payments/{intent['id']}/refund", json={"amount": 1200}, headers=s.write("r-1")
    )
    assert first.status_code == 202, first.text
    await forget_idempotency_records(db)

    again = await client.post(
        f"/v1/payments/{intent['id']}/refund", json={"amount": 1200}, headers=s.write("r-1")
    )

    assert again.status_code == 202, again.text
    assert again.json()["amount_refund_pending"] == 1200
    assert [p["id"] for p in again.json()["pending_operations"]] == [
        p["id"] for p in first.json()["pending_operations"]
    ]
    assert await refunds_of(db, intent["id"]) == 1
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
    assert SANDBOX.movements(intent["provider_reference"], "refund") == [1200]


async def test_settled_capture_retried_with_its_key_after_the_record_lapsed_answers_it_again(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s)
    first = await client.post(
        f"/v1/payments/{intent['id']}/capture",
        json={"amount": 2000, "final": False},
        headers=s.write("c-1"),
    )
    assert first.status_code == 200, first.text
    await forget_idempotency_records(db)

    again = await client.post(
        f"/v1/payments/{intent['id']}/capture",
        json={"amount": 2000, "final": False},
        headers=s.write("c-1"),
    )

    assert again.status_code == 200, again.text
    assert again.json()["amount_captured"] == 2000
    assert SANDBOX.movements(intent["provider_reference"], "capture") == [2000]


async def test_key_of_an_operation_reused_for_another_amount_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s)
    await client.post(f"/v1/payments/{intent['id']}/capture", json={}, headers=s.write())
    first = await client.post(
        f"/v1/payments/{intent['id']}/refund", json={"amount": 1000}, headers=s.write("r-2")
    )
    assert first.status_code == 200, first.text
    await forget_idempotency_records(db)

    other = await client.post(
        f"/v1/payments/{intent['id']}/refund", json={"amount": 700}, headers=s.write("r-2")
    )

    assert other.status_code == 422, other.text
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert await refunds_of(db, intent["id"]) == 1


async def test_failed_refund_retried_with_its_key_after_the_record_lapsed_is_told_it_failed(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s, payment_method="pm_card_refund_timeout")
    await client.post(f"/v1/payments/{intent['id']}/capture", json={}, headers=s.write())
    first = await client.post(
        f"/v1/payments/{intent['id']}/refund", json={"amount": 1200}, headers=s.write("r-3")
    )
    assert first.status_code == 202, first.text
    async with db.session() as session:  # what the sync writes when the provider refused it
        await session.execute(
            update(PaymentOperation)
            .where(PaymentOperation.intent_id == intent["id"], PaymentOperation.status == "pending")
            .values(status="failed", error_code="provider_rejected", error_message="refused")
        )
        await session.execute(
            update(PaymentIntent)
            .where(PaymentIntent.id == intent["id"])
            .values(refund_pending_amount=0)
        )
        await session.commit()
    await forget_idempotency_records(db)

    again = await client.post(
        f"/v1/payments/{intent['id']}/refund", json={"amount": 1200}, headers=s.write("r-3")
    )

    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "operation_failed"
    assert again.json()["error"]["param"] == "Idempotency-Key"
    assert await refunds_of(db, intent["id"]) == 1


async def test_void_retried_with_its_key_after_the_record_lapsed_answers_it_again(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s)
    first = await client.post(f"/v1/payments/{intent['id']}/void", json={}, headers=s.write("v-1"))
    assert first.status_code == 200, first.text
    await forget_idempotency_records(db)

    again = await client.post(f"/v1/payments/{intent['id']}/void", json={}, headers=s.write("v-1"))

    assert again.status_code == 200, again.text
    assert again.json()["status"] == "voided"


async def authorizations_of(db: Database, order_id: str) -> int:
    async with db.read_session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(PaymentOperation)
            .join(PaymentIntent, PaymentIntent.id == PaymentOperation.intent_id)
            .where(PaymentIntent.order_id == order_id, PaymentOperation.operation == "authorize")
        )
    return int(count or 0)


async def test_authorization_retried_with_its_key_after_the_record_lapsed_answers_the_payment(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    snap = await quote(client, s, order_id="ord_lapsed")
    body = {
        "order_id": "ord_lapsed",
        "snapshot_id": snap["snapshot_id"],
        "payment_method": "pm_card_visa",
        "amount": snap["totals"]["total"],
        "currency": snap["currency"],
    }
    first = await client.post("/v1/payments/authorize", json=body, headers=s.write("a-1"))
    assert first.status_code == 200, first.text
    await forget_idempotency_records(db)

    again = await client.post("/v1/payments/authorize", json=body, headers=s.write("a-1"))
    other_key = await client.post("/v1/payments/authorize", json=body, headers=s.write("a-2"))

    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "authorized"
    assert await authorizations_of(db, "ord_lapsed") == 1
    # another key is another request: the order is taken
    assert other_key.status_code == 409
    assert SANDBOX.movements(first.json()["provider_reference"], "authorize") == [
        snap["totals"]["total"]
    ]


async def test_authorization_key_reused_for_another_snapshot_after_the_record_lapsed_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    first = await authorize(client, s, order_id="ord_reused")
    async with db.read_session() as session:
        key = await session.scalar(
            select(PaymentOperation.idempotency_key).where(
                PaymentOperation.intent_id == first["id"]
            )
        )
    assert key is not None
    await forget_idempotency_records(db)
    other = await quote(client, s, order_id="ord_reused", unit_amount=999)

    again = await client.post(
        "/v1/payments/authorize",
        json={
            "order_id": "ord_reused",
            "snapshot_id": other["snapshot_id"],
            "payment_method": "pm_card_visa",
            "amount": other["totals"]["total"],
            "currency": other["currency"],
        },
        headers=s.write(key),
    )

    assert again.status_code == 422, again.text
    assert again.json()["error"]["param"] == "Idempotency-Key"
    assert await authorizations_of(db, "ord_reused") == 1
