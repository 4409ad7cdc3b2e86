from __future__ import annotations

import httpx
import pytest

from interlink.db.engine import Database
from tests.fixtures.payments import authorize, quote, shop


async def test_submit_payment_authorizes_and_captures_in_one_call(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    snap = await quote(client, s, order_id="ord_42")

    response = await client.post(
        "/v1/checkout/orders/ord_42/submit-payment",
        json={
            "snapshot_id": snap["snapshot_id"],
            "payment_method": "pm_card_visa",
            "amount": 5000,
            "currency": "usd",
        },
        headers=s.write(),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "captured"
    assert body["amount_captured"] == 5000
    ledger = (await client.get("/v1/orders/ord_42/payments", headers=s.headers)).json()
    assert [t["operation"] for t in ledger["data"][0]["transactions"]] == ["authorize", "capture"]


async def test_setup_intent_saves_a_payment_method_by_token(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)

    saved = await client.post(
        "/v1/payments/setup-intents",
        json={"payment_method": "pm_card_visa", "customer": "cus_1"},
        headers=s.write(),
    )
    declined = await client.post(
        "/v1/payments/setup-intents",
        json={"payment_method": "pm_card_declined"},
        headers=s.write(),
    )

    assert saved.status_code == 200, saved.text
    assert saved.json()["status"] == "succeeded"
    assert saved.json()["integration_id"] == s.integration_id
    assert declined.status_code == 402


async def test_every_payment_request_logs_correlation_order_and_intent(
    client: httpx.AsyncClient, db: Database, capfd: pytest.CaptureFixture[str]
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s)
    capfd.readouterr()

    response = await client.post(
        f"/v1/payments/{intent['id']}/capture",
        json={},
        headers={**s.write(), "X-Correlation-Id": "corr-checkout-77"},
    )

    assert response.headers["x-request-id"] == "corr-checkout-77"
    out = capfd.readouterr().out
    lines = [line for line in out.splitlines() if "] payment_request " in line]
    assert lines, out
    for line in lines:
        assert "correlation_id=corr-checkout-77" in line
        assert "order_id=ord_1" in line
        assert f"intent_id={intent['id']}" in line


async def test_a_refused_payment_request_is_logged_with_its_ids_too(
    client: httpx.AsyncClient, db: Database, capfd: pytest.CaptureFixture[str]
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s)
    await client.post(f"/v1/payments/{intent['id']}/void", json={}, headers=s.write())
    capfd.readouterr()

    refused = await client.post(
        f"/v1/payments/{intent['id']}/capture",
        json={},
        headers={**s.write(), "X-Request-Id": "corr-refused-1"},
    )

    assert refused.status_code == 409
    lines = [
        line for line in capfd.readouterr().out.splitlines() if "payment_request_received" in line
    ]
    assert len(lines) == 1
    assert "correlation_id=corr-refused-1" in lines[0]
    assert f"intent_id={intent['id']}" in lines[0]
