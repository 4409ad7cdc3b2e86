from __future__ import annotations

import httpx

from interlink.db.engine import Database
from tests.fixtures.payments import authorize, captured, quote, shop


async def test_quote_freezes_totals_with_discounts_shipping_and_tax(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)

    snap = await quote(
        client,
        s,
        discounts=[{"code": "SPRING", "amount": 500}],
        shipping={"amount": 700, "service": "ground"},
        tax={"rate_bps": 1000},
    )

    assert snap["totals"] == {
        "subtotal": 5000,
        "discount": 500,
        "shipping": 700,
        "tax": 520,
        "total": 5720,
    }
    assert snap["snapshot_id"].startswith("cs_")
    assert snap["providers"]["payments"]["integration_id"] == s.integration_id
    assert snap["items"][0]["variant_id"] == "var_print_8x10"


async def test_authorize_capture_and_refund_keep_an_exact_ledger(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)

    intent = await authorize(client, s)
    assert intent["status"] == "authorized"
    assert intent["amount_authorized"] == 5000
    assert intent["amount_capturable"] == 5000

    part = await client.post(
        f"/v1/payments/{intent['id']}/capture", json={"amount": 3000}, headers=s.write()
    )
    assert part.status_code == 200, part.text
    assert part.json()["status"] == "captured"
    assert part.json()["amount_captured"] == 3000

    first = await client.post(
        f"/v1/payments/{intent['id']}/refund",
        json={"amount": 1000, "reason": "damaged print"},
        headers=s.write(),
    )
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "partially_refunded"
    second = await client.post(f"/v1/payments/{intent['id']}/refund", json={}, headers=s.write())
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "refunded"
    assert second.json()["amount_refunded"] == 3000

    ledger = await client.get("/v1/orders/ord_1/payments", headers=s.headers)
    assert ledger.status_code == 200
    [row] = ledger.json()["data"]
    ops = [(t["operation"], t["amount"], t["status"]) for t in row["transactions"]]
    assert ops == [
        ("authorize", 5000, "succeeded"),
        ("capture", 3000, "succeeded"),
        ("refund", 1000, "succeeded"),
        ("refund", 2000, "succeeded"),
    ]
    assert all(t["provider_reference"] for t in row["transactions"])

    history = await client.get("/v1/orders/ord_1/history", headers=s.headers)
    steps = [(h["from_status"], h["to_status"], h["source"]) for h in history.json()["data"]]
    assert steps == [
        (None, "processing", "api"),
        ("processing", "authorized", "api"),
        ("authorized", "captured", "api"),
        ("captured", "partially_refunded", "api"),
        ("partially_refunded", "refunded", "api"),
    ]
    assert all(h["actor"] == s.key.key_id and h["correlation_id"] for h in history.json()["data"])
    logs = await client.get(
        "/v1/integration-logs", params={"integration": s.integration_id}, headers=s.headers
    )
    operations = sorted(entry["operation"] for entry in logs.json()["data"])
    assert operations == ["authorize", "capture", "refund", "refund"]


async def test_partial_captures_until_final(client: httpx.AsyncClient, db: Database) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s)

    one = await client.post(
        f"/v1/payments/{intent['id']}/capture",
        json={"amount": 2000, "final": False},
        headers=s.write(),
    )
    assert one.json()["status"] == "partially_captured"
    two = await client.post(
        f"/v1/payments/{intent['id']}/capture", json={"amount": 3000}, headers=s.write()
    )
    assert two.status_code == 200, two.text
    assert two.json()["status"] == "captured"
    assert two.json()["amount_captured"] == 5000


async def test_void_releases_an_uncaptured_authorization(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    intent = await authorize(client, s)

    voided = await client.post(
        f"/v1/payments/{intent['id']}/void",
        json={"reason": "customer cancelled"},
        headers=s.write(),
    )

    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "voided"
    again = await client.post(f"/v1/payments/{intent['id']}/capture", json={}, headers=s.write())
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "payment_not_capturable"


async def test_declined_card_fails_the_intent_with_402_and_frees_the_order(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)

    declined = await authorize(client, s, payment_method="pm_card_declined", expect=402)

    assert declined["error"]["code"] == "card_declined"
    ledger = (await client.get("/v1/orders/ord_1/payments", headers=s.headers)).json()
    assert ledger["data"][0]["status"] == "failed"
    assert ledger["data"][0]["failure_code"] == "card_declined"
    retry = await authorize(client, s)
    assert retry["status"] == "authorized"


async def test_captured_payment_cannot_be_voided_and_voided_cannot_be_refunded(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    intent = await captured(client, s)

    void = await client.post(f"/v1/payments/{intent['id']}/void", json={}, headers=s.write())
    assert void.status_code == 409
    assert void.json()["error"]["code"] == "payment_not_voidable"


async def test_amounts_beyond_32_bits_are_kept_exactly(
    client: httpx.AsyncClient, db: Database
) -> None:
    s = await shop(client, db)
    snap = await quote(client, s, unit_amount=2_500_000_000, quantity=2)

    intent = await authorize(client, s, snapshot=snap)

    assert intent["amount"] == 5_000_000_000
    assert intent["amount_authorized"] == 5_000_000_000
