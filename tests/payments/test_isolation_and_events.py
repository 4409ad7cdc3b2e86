from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from interlink.db.engine import Database
from interlink.kit import clock
from interlink.models import Event, PaymentIntent
from interlink.providers.payments import ProviderRefund
from interlink.providers.sandbox_payments import SANDBOX
from tests.fixtures.factories import tenant_with_key
from tests.fixtures.payments import add_integration, authorize, captured, quote, shop


async def test_another_tenant_sees_and_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner = await shop(client, db, "Owner")
    intruder = await shop(client, db, "Intruder")
    intent = await captured(client, owner)
    snap = await quote(client, owner, order_id="ord_9")
    run = await client.post("/v1/reconciliation/runs", json={}, headers=owner.write())
    assert run.status_code == 201, run.text

    for path in (f"/v1/payments/{intent['id']}", f"/v1/reconciliation/runs/{run.json()['id']}"):
        assert (await client.get(path, headers=intruder.headers)).status_code == 404
    for action in ("capture", "void", "refund"):
        response = await client.post(
            f"/v1/payments/{intent['id']}/{action}", json={}, headers=intruder.write()
        )
        assert response.status_code == 404, (action, response.text)
    ledger = await client.get("/v1/orders/ord_1/payments", headers=intruder.headers)
    assert ledger.status_code == 200
    assert ledger.json()["data"] == []
    history = await client.get("/v1/orders/ord_1/history", headers=intruder.headers)
    assert history.json()["data"] == []
    stolen = await authorize(client, intruder, order_id="ord_9", snapshot=snap, expect=404)
    assert stolen["error"]["code"] == "snapshot_missing"
    foreign = await authorize(
        client, intruder, order_id="ord_7", integration_id=owner.integration_id, expect=404
    )
    assert foreign["error"]["param"] == "integration_id"
    quoted = await client.post(
        "/v1/checkout/quote",
        json={
            "currency": "usd",
            "items": [{"variant_id": "v", "quantity": 1, "unit_amount": 100}],
            "payment_integration_id": owner.integration_id,
        },
        headers=intruder.headers,
    )
    assert quoted.status_code == 404
    setup = await client.post(
        "/v1/payments/setup-intents",
        json={"payment_method": "pm_card_visa", "integration_id": owner.integration_id},
        headers=intruder.write(),
    )
    assert setup.status_code == 404
    submitted = await client.post(
        "/v1/checkout/orders/ord_9/submit-payment",
        json={
            "snapshot_id": snap["snapshot_id"],
            "payment_method": "pm_card_visa",
            "amount": 5000,
            "currency": "usd",
        },
        headers=intruder.write(),
    )
    assert submitted.status_code == 404


async def test_read_only_key_cannot_move_money(client: httpx.AsyncClient, db: Database) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s)
    reader = await tenant_with_key(db, ["payments:read"], tenant_id=s.key.tenant_id)

    assert (
        await client.get(f"/v1/payments/{intent['id']}", headers=reader.headers)
    ).status_code == 200
    refused = await client.post(
        f"/v1/payments/{intent['id']}/capture",
        json={},
        headers={**reader.headers, "Idempotency-Key": "k1"},
    )
    assert refused.status_code == 403


async def test_lifecycle_publishes_payment_events(client: httpx.AsyncClient, db: Database) -> None:
    s = await shop(client, db)
    intent = await captured(client, s)
    await client.post(f"/v1/payments/{intent['id']}/refund", json={"amount": 10}, headers=s.write())
    other = await authorize(client, s, order_id="ord_2")
    await client.post(f"/v1/payments/{other['id']}/void", json={}, headers=s.write())
    await authorize(client, s, order_id="ord_3", payment_method="pm_card_declined", expect=402)

    async with db.read_session() as session:
        events = (
            await session.scalars(
                select(Event).where(Event.tenant_id == s.key.tenant_id).order_by(Event.id)
            )
        ).all()
    types = [e.type for e in events]
    assert types == [
        "payment.authorized",
        "payment.captured",
        "payment.completed",
        "payment.refunded",
        "payment.authorized",
        "payment.voided",
        "payment.failed",
    ]
    assert events[1].data["object"]["amount_captured"] == 5000
    assert events[3].data["operation"]["amount"] == 10


async def test_switching_the_default_integration_leaves_existing_intents_alone(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s)
    unlinked = await client.delete(
        f"/v1/entities/tenant/{s.key.tenant_id}/integrations/{s.integration_id}",
        headers=s.headers,
    )
    assert unlinked.status_code in (200, 204), unlinked.text
    second = await add_integration(client, s.key, name="Second sandbox")

    capture = await client.post(f"/v1/payments/{intent['id']}/capture", json={}, headers=s.write())
    new = await authorize(client, s, order_id="ord_2")

    assert capture.status_code == 200
    assert capture.json()["integration_id"] == s.integration_id
    assert new["integration_id"] == second


async def test_database_refuses_broken_money_rules_whatever_the_code_does(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    intent = await captured(client, s)

    for values in (
        {"captured_amount": 5001},
        {"refunded_amount": 4000, "refund_pending_amount": 1001},
        {"status": "voided"},
        {"amount": 0},
    ):
        async with db.session() as session:
            with pytest.raises(IntegrityError):
                await session.execute(
                    update(PaymentIntent).where(PaymentIntent.id == intent["id"]).values(**values)
                )
    async with db.session() as session:
        with pytest.raises(IntegrityError):
            await session.execute(
                text(
                    "INSERT INTO payment_intents (id, tenant_id, order_id, snapshot_id, "
                    "integration_id, connection_code, environment, status, amount, currency, "
                    "authorized_amount, captured_amount, refunded_amount, refund_pending_amount, "
                    "payment_method, metadata, version, created_at, updated_at) "
                    "SELECT 'pi_dup', tenant_id, order_id, snapshot_id, integration_id, "
                    "connection_code, environment, 'authorized', amount, currency, amount, 0, 0, "
                    "0, payment_method, metadata, 1, created_at, updated_at "
                    "FROM payment_intents WHERE id = :id"
                ),
                {"id": intent["id"]},
            )


async def test_reconciliation_reports_drift_and_publishes_an_event(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    intent = await captured(client, s)
    clean = await captured(client, s, order_id="ord_2")
    SANDBOX.get(intent["provider_reference"]).refunds.append(
        ProviderRefund(reference="sbx_re_outside", amount=500, status="succeeded")
    )

    run = await client.post("/v1/reconciliation/runs", json={}, headers=s.write())

    assert run.status_code == 201, run.text
    body = run.json()
    assert body["status"] == "completed"
    assert body["checked"] == 2
    assert [(f["intent_id"], f["kind"]) for f in body["findings"]] == [
        (intent["id"], "refunded_mismatch")
    ]
    assert clean["id"] not in {f["intent_id"] for f in body["findings"]}
    fetched = await client.get(f"/v1/reconciliation/runs/{body['id']}", headers=s.headers)
    assert fetched.json() == body
    async with db.read_session() as session:
        types = (
            await session.scalars(select(Event.type).where(Event.tenant_id == s.key.tenant_id))
        ).all()
    assert "reconciliation.drift_detected" in types


async def test_reconciliation_expires_authorizations_past_their_validity(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s)
    later = clock.now() + timedelta(days=8)
    clock.set_clock(lambda: later)
    try:
        run = await client.post(
            "/v1/reconciliation/runs",
            json={"window_start": (later - timedelta(days=9)).isoformat()},
            headers=s.write(),
        )
    finally:
        clock.set_clock(None)

    assert run.json()["expired_count"] == 1
    fetched = (await client.get(f"/v1/payments/{intent['id']}", headers=s.headers)).json()
    assert fetched["status"] == "expired"
    capture = await client.post(f"/v1/payments/{intent['id']}/capture", json={}, headers=s.write())
    assert capture.status_code == 409
