"""The PayPal adapter through the client layer against our HTTP fake of Orders v2."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from interlink.app import create_app
from interlink.db.engine import Database
from tests.conftest import make_settings
from tests.fixtures.factories import tenant_with_key
from tests.fixtures.payments import Shop, add_integration, authorize, quote
from tests.fixtures.paypal_fake import CLIENT_ID, CLIENT_SECRET, PayPalFake, running_paypal_fake


@pytest.fixture(scope="module")
async def loopback_app(
    backend: str, database_urls: dict[str, str | None]
) -> AsyncIterator[FastAPI]:
    """An app whose provider calls may reach 127.0.0.1, where the fake listens."""
    url = database_urls[backend]
    assert url is not None
    application = create_app(make_settings(url, provider_allowed_networks=["127.0.0.1/32"]))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def pp(loopback_app: FastAPI, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=loopback_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://interlink.test") as c:
        yield c


@pytest.fixture
async def fake() -> AsyncIterator[PayPalFake]:
    async with running_paypal_fake() as server:
        yield server


async def paypal_shop(client: httpx.AsyncClient, db: Database, fake: PayPalFake) -> Shop:
    key = await tenant_with_key(db, ["admin"])
    integration_id = await add_integration(
        client,
        key,
        "paypal",
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        settings={"api_base": fake.base_url},
        name="PayPal (fake)",
    )
    return Shop(key, integration_id)


async def test_paypal_authorize_partial_captures_refunds_and_void(
    pp: httpx.AsyncClient, db: Database, fake: PayPalFake
) -> None:
    s = await paypal_shop(pp, db, fake)
    snap = await quote(pp, s)
    order = fake.create_order(snap["totals"]["total"])

    intent = await authorize(pp, s, snapshot=snap, payment_method=order)

    assert intent["status"] == "authorized", intent
    assert intent["provider_reference"] == order
    first = await pp.post(
        f"/v1/payments/{intent['id']}/capture",
        json={"amount": 2000, "final": False},
        headers=s.write(),
    )
    assert first.json()["status"] == "partially_captured", first.text
    second = await pp.post(
        f"/v1/payments/{intent['id']}/capture", json={"amount": 1000}, headers=s.write()
    )
    assert second.json()["status"] == "captured", second.text
    assert second.json()["amount_captured"] == 3000
    for amount in (500, 700):
        refund = await pp.post(
            f"/v1/payments/{intent['id']}/refund", json={"amount": amount}, headers=s.write()
        )
        assert refund.status_code == 200, refund.text
    assert refund.json()["amount_refunded"] == 1200
    assert fake.applied == [
        ("authorize", 5000),
        ("capture", 2000),
        ("capture", 1000),
        ("refund", 500),
        ("refund", 700),
    ]

    snap2 = await quote(pp, s, order_id="ord_2")
    other = await authorize(
        pp, s, order_id="ord_2", snapshot=snap2, payment_method=fake.create_order(5000)
    )
    void = await pp.post(f"/v1/payments/{other['id']}/void", json={}, headers=s.write())
    assert void.json()["status"] == "voided", void.text

    run = await pp.post("/v1/reconciliation/runs", json={}, headers=s.write())
    assert run.json()["findings"] == [], run.text


async def test_paypal_lost_capture_answer_is_repeated_with_the_same_request_id(
    pp: httpx.AsyncClient, db: Database, fake: PayPalFake
) -> None:
    s = await paypal_shop(pp, db, fake)
    snap = await quote(pp, s)
    intent = await authorize(pp, s, snapshot=snap, payment_method=fake.create_order(5000))
    fake.lose_answers["capture"] = 1

    capture = await pp.post(f"/v1/payments/{intent['id']}/capture", json={}, headers=s.write())

    assert capture.status_code == 200, capture.text
    assert capture.json()["amount_captured"] == 5000
    assert [a for a in fake.applied if a[0] == "capture"] == [("capture", 5000)]


async def test_paypal_order_for_another_amount_or_declined_is_refused(
    pp: httpx.AsyncClient, db: Database, fake: PayPalFake
) -> None:
    s = await paypal_shop(pp, db, fake)
    snap = await quote(pp, s)
    wrong = fake.create_order(4000)

    refused = await authorize(pp, s, snapshot=snap, payment_method=wrong, expect=400)
    assert "not the checkout's total" in refused["error"]["message"]

    snap2 = await quote(pp, s, order_id="ord_2")
    declined_order = fake.create_order(5000)
    fake.declined.add(declined_order)
    declined = await authorize(
        pp, s, order_id="ord_2", snapshot=snap2, payment_method=declined_order, expect=402
    )
    assert declined["error"]["code"] == "card_declined"
