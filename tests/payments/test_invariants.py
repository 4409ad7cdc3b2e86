"""Seed 001 P0/P1 done criteria: idempotent replays, snapshot binding, and the money rules under
50 concurrent requests, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import httpx
from sqlalchemy import select

from interlink.db.engine import Database
from interlink.kit import clock
from interlink.models import PaymentIntent, PaymentOperation
from interlink.providers.sandbox_payments import SANDBOX
from tests.fixtures.payments import authorize, captured, quote, shop

CONCURRENCY = 50


async def test_duplicate_idempotency_key_replays_the_same_status_and_body(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s)
    headers = s.write("capture-once")

    first = await client.post(f"/v1/payments/{intent['id']}/capture", json={}, headers=headers)
    second = await client.post(f"/v1/payments/{intent['id']}/capture", json={}, headers=headers)

    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert SANDBOX.movements(intent["provider_reference"], "capture") == [5000]


async def test_duplicate_idempotency_key_replays_a_refusal_too(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    snap = await quote(client, s)
    body = {
        "order_id": "ord_1",
        "snapshot_id": snap["snapshot_id"],
        "payment_method": "pm_card_declined",
        "amount": 5000,
        "currency": "usd",
    }
    headers = s.write("declined-once")

    first = await client.post("/v1/payments/authorize", json=body, headers=headers)
    second = await client.post("/v1/payments/authorize", json=body, headers=headers)

    assert first.status_code == second.status_code == 402
    assert second.content == first.content


async def test_payment_mutations_require_an_idempotency_key(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s)

    for path in (
        f"/v1/payments/{intent['id']}/capture",
        f"/v1/payments/{intent['id']}/void",
        f"/v1/payments/{intent['id']}/refund",
        "/v1/payments/authorize",
        "/v1/payments/setup-intents",
        "/v1/checkout/orders/ord_1/submit-payment",
    ):
        response = await client.post(path, json={}, headers=s.headers)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["code"] == "idempotency_key_required"
        assert response.json()["error"]["param"] == "Idempotency-Key"


async def test_expired_snapshot_is_rejected(client: httpx.AsyncClient, db: Database) -> None:
    s = await shop(client, db)
    snap = await quote(client, s)
    later = clock.now() + timedelta(minutes=31)
    clock.set_clock(lambda: later)
    try:
        refused = await authorize(client, s, snapshot=snap, expect=400)
    finally:
        clock.set_clock(None)

    assert refused["error"]["code"] == "snapshot_expired"
    assert refused["error"]["param"] == "snapshot_id"


async def test_snapshot_expiry_is_configurable_per_quote(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    snap = await quote(client, s, expires_in_seconds=120)
    later = clock.now() + timedelta(seconds=121)
    clock.set_clock(lambda: later)
    try:
        refused = await authorize(client, s, snapshot=snap, expect=400)
    finally:
        clock.set_clock(None)
    assert refused["error"]["code"] == "snapshot_expired"


async def test_changed_order_total_is_rejected(client: httpx.AsyncClient, db: Database) -> None:
    s = await shop(client, db)
    snap = await quote(client, s)

    refused = await authorize(client, s, snapshot=snap, amount=5200, expect=400)

    assert refused["error"]["code"] == "amount_mismatch"
    assert refused["error"]["param"] == "amount"


async def test_bad_input_gets_a_clear_4xx_naming_the_field(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    snap = await quote(client, s)
    intent = await authorize(client, s, snapshot=snap)

    cases = [
        (
            "/v1/checkout/quote",
            {"currency": "usd", "items": [{"variant_id": "v", "quantity": 0, "unit_amount": 1}]},
            422,
        ),
        (
            "/v1/checkout/quote",
            {"currency": "usd", "items": [{"variant_id": "v", "quantity": 1, "unit_amount": -5}]},
            422,
        ),
        ("/v1/checkout/quote", {"currency": "dollars", "items": []}, 422),
        (f"/v1/payments/{intent['id']}/capture", {"amount": 0}, 422),
        (f"/v1/payments/{intent['id']}/capture", {"amount": -100}, 422),
        (f"/v1/payments/{intent['id']}/capture", {"amount": 5001}, 409),
        (f"/v1/payments/{intent['id']}/refund", {"amount": -1}, 422),
        (f"/v1/payments/{intent['id']}/refund", {"amount": 100}, 409),
    ]
    for path, body, expected in cases:
        response = await client.post(path, json=body, headers=s.write())
        assert response.status_code == expected, (path, body, response.text)
        assert response.json()["error"]["param"], response.text

    other = await quote(client, s, order_id="ord_2")
    mismatch = await authorize(
        client, s, order_id="ord_2", snapshot=other, currency="eur", expect=400
    )
    assert mismatch["error"]["code"] == "currency_mismatch"
    unknown = await authorize(
        client, s, order_id="ord_2", snapshot={**other, "snapshot_id": "cs_nope"}, expect=404
    )
    assert unknown["error"]["code"] == "snapshot_missing"
    missing = await client.post("/v1/payments/pi_nope/capture", json={}, headers=s.write())
    assert missing.status_code == 404


async def test_used_snapshot_and_second_active_intent_are_rejected(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    snap = await quote(client, s)
    await authorize(client, s, snapshot=snap)

    again = await authorize(client, s, snapshot=snap, expect=409)
    assert again["error"]["code"] == "snapshot_used"
    fresh = await quote(client, s)
    second = await authorize(client, s, snapshot=fresh, expect=409)
    assert second["error"]["code"] == "active_payment_exists"


async def _ledger(db: Database, intent_id: str) -> tuple[PaymentIntent, list[PaymentOperation]]:
    async with db.read_session() as session:
        intent = await session.scalar(select(PaymentIntent).where(PaymentIntent.id == intent_id))
        ops = (
            await session.scalars(
                select(PaymentOperation).where(PaymentOperation.intent_id == intent_id)
            )
        ).all()
    assert intent is not None
    return intent, list(ops)


async def test_fifty_concurrent_captures_capture_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s)

    responses = await asyncio.gather(
        *(
            client.post(f"/v1/payments/{intent['id']}/capture", json={}, headers=s.write())
            for _ in range(CONCURRENCY)
        )
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] == 1, statuses
    assert statuses[409] == CONCURRENCY - 1, statuses
    row, ops = await _ledger(db, intent["id"])
    assert row.captured_amount == 5000
    assert row.status == "captured"
    captures = [op for op in ops if op.operation == "capture" and op.status == "succeeded"]
    assert len(captures) == 1
    assert SANDBOX.movements(intent["provider_reference"], "capture") == [5000]


async def test_fifty_concurrent_full_refunds_refund_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    intent = await captured(client, s)

    responses = await asyncio.gather(
        *(
            client.post(f"/v1/payments/{intent['id']}/refund", json={}, headers=s.write())
            for _ in range(CONCURRENCY)
        )
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] == 1, statuses
    assert statuses[409] == CONCURRENCY - 1, statuses
    row, ops = await _ledger(db, intent["id"])
    assert row.refunded_amount == 5000
    assert row.refund_pending_amount == 0
    assert row.status == "refunded"
    assert sum(op.amount for op in ops if op.operation == "refund") == 5000
    assert SANDBOX.movements(intent["provider_reference"], "refund") == [5000]


async def test_concurrent_partial_refunds_never_exceed_the_capture(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    intent = await captured(client, s)  # 5000 captured

    responses = await asyncio.gather(
        *(
            client.post(
                f"/v1/payments/{intent['id']}/refund", json={"amount": 700}, headers=s.write()
            )
            for _ in range(CONCURRENCY)
        )
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] == 7, statuses  # 7 * 700 = 4900 <= 5000 < 8 * 700
    assert statuses[409] == CONCURRENCY - 7, statuses
    row, ops = await _ledger(db, intent["id"])
    assert row.refunded_amount == 4900
    assert row.refund_pending_amount == 0
    assert (
        sum(op.amount for op in ops if op.operation == "refund" and op.status == "succeeded")
        == 4900
    )
    assert sum(SANDBOX.movements(intent["provider_reference"], "refund")) == 4900


async def test_replayed_concurrent_requests_with_one_key_move_money_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    intent = await captured(client, s)
    headers = s.write("refund-one")

    responses = await asyncio.gather(
        *(
            client.post(
                f"/v1/payments/{intent['id']}/refund", json={"amount": 100}, headers=headers
            )
            for _ in range(20)
        )
    )

    assert {r.status_code for r in responses} <= {200, 409}
    row, _ops = await _ledger(db, intent["id"])
    assert row.refunded_amount == 100
    assert SANDBOX.movements(intent["provider_reference"], "refund") == [100]


async def test_concurrent_authorizations_of_one_order_leave_one_active_intent(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    snaps = [await quote(client, s) for _ in range(10)]

    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/payments/authorize",
                json={
                    "order_id": "ord_1",
                    "snapshot_id": snap["snapshot_id"],
                    "payment_method": "pm_card_visa",
                    "amount": 5000,
                    "currency": "usd",
                },
                headers=s.write(),
            )
            for snap in snaps
        )
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] == 1, statuses
    assert statuses[409] == 9, statuses
    codes = {r.json()["error"]["code"] for r in responses if r.status_code == 409}
    assert codes == {"active_payment_exists"}
