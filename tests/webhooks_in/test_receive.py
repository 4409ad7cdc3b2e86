from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx
import stripe
from fastapi import FastAPI

from interlink.db.engine import Database
from interlink.observability.metrics import REGISTRY
from tests.fixtures.factories import tenant_with_key
from tests.fixtures.inbound import deliver, events_of, integration_row, process_jobs

WHSEC = "whsec_inboundTestSecret42"


def stripe_event(event_id: str = "evt_1", event_type: str = "payment_intent.succeeded") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "data": {"object": {"id": "pi_1", "amount": 2500, "currency": "eur"}},
        }
    ).encode()


def stripe_headers(body: bytes, secret: str = WHSEC, ts: int | None = None) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, ts or int(time.time())
    )
    return {"Stripe-Signature": header}


async def stripe_integration(client: httpx.AsyncClient, db: Database) -> str:
    admin = await tenant_with_key(db, ["integrations:write"])
    response = await client.post(
        "/v1/integrations",
        json={
            "connection_code": "stripe",
            "name": "Stripe",
            "credentials": {"secret_key": "sk_test_abc123", "webhook_secret": WHSEC},
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_signed_event_is_stored_and_queued_without_an_api_key(
    client: httpx.AsyncClient, db: Database
) -> None:
    integration_id = await stripe_integration(client, db)
    body = stripe_event()

    response = await deliver(client, integration_id, body, stripe_headers(body))

    assert response.status_code == 200, response.text
    assert response.json()["duplicate"] is False
    [event] = await events_of(db, integration_id)
    assert event.id == response.json()["id"]
    assert event.provider_event_id == "evt_1"
    assert event.event_type == "payment_intent.succeeded"
    assert event.signature_valid is True
    assert event.status == "received"
    assert event.body == body
    assert "stripe-signature" in event.headers
    assert await process_jobs(db, event.id) == 1


async def test_redelivery_answers_2xx_and_does_nothing_more(
    client: httpx.AsyncClient, db: Database
) -> None:
    integration_id = await stripe_integration(client, db)
    body = stripe_event()
    first = await deliver(client, integration_id, body, stripe_headers(body))

    again = await deliver(client, integration_id, body, stripe_headers(body))

    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    [event] = await events_of(db, integration_id)
    assert await process_jobs(db, event.id) == 1


async def test_concurrent_duplicate_deliveries_are_stored_and_queued_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    integration_id = await stripe_integration(client, db)
    body = stripe_event("evt_concurrent")
    headers = stripe_headers(body)

    responses = await asyncio.gather(
        *(deliver(client, integration_id, body, headers) for _ in range(20))
    )

    assert [r.status_code for r in responses] == [200] * 20
    assert sorted(r.json()["duplicate"] for r in responses) == [False] + [True] * 19
    assert len({r.json()["id"] for r in responses}) == 1
    [event] = await events_of(db, integration_id)
    assert await process_jobs(db, event.id) == 1


def rejected_count(connection: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "interlink_inbound_webhooks_rejected_total", {"connection": connection, "reason": reason}
    )
    return value or 0.0


async def test_invalid_signature_is_refused_recorded_and_counted_but_never_processed(
    client: httpx.AsyncClient, db: Database
) -> None:
    integration_id = await stripe_integration(client, db)
    body = stripe_event()
    headers = stripe_headers(body)
    before = rejected_count("stripe", "signature_mismatch")

    response = await deliver(client, integration_id, body.replace(b"2500", b"1"), headers)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_signature"
    assert "no v1 signature in Stripe-Signature matches the body" in error["message"]
    assert WHSEC not in response.text
    [event] = await events_of(db, integration_id)
    assert event.status == "rejected"
    assert event.signature_valid is False
    assert event.provider_event_id is None
    assert event.status_reason is not None
    assert event.status_reason.startswith("signature_mismatch:")
    assert WHSEC not in event.status_reason
    assert await process_jobs(db, event.id) == 0
    assert rejected_count("stripe", "signature_mismatch") == before + 1
    # the genuine event with the same id is still accepted afterwards
    genuine = await deliver(client, integration_id, body, headers)
    assert genuine.status_code == 200
    assert genuine.json()["duplicate"] is False


async def test_each_kind_of_bad_signature_is_refused_with_its_reason(
    client: httpx.AsyncClient, db: Database
) -> None:
    integration_id = await stripe_integration(client, db)
    body = stripe_event()
    cases = {
        "more than 300 s old": stripe_headers(body, ts=int(time.time()) - 600),
        "no v1 signature in Stripe-Signature matches": stripe_headers(body, secret="whsec_other"),
        "missing Stripe-Signature header": {},
        "malformed Stripe-Signature header": {"Stripe-Signature": "v1=deadbeef"},
    }
    for says, headers in cases.items():
        response = await deliver(client, integration_id, body, headers)
        assert response.status_code == 400, says
        assert says in response.json()["error"]["message"]
    events = await events_of(db, integration_id)
    assert [e.status for e in events] == ["rejected"] * 4


async def test_unknown_integration_is_404(client: httpx.AsyncClient, db: Database) -> None:
    body = stripe_event()
    response = await deliver(client, "int_doesnotexist", body, stripe_headers(body))
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "integration_id"


async def test_body_over_the_inbound_limit_is_413(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    integration_id = await stripe_integration(client, db)
    body = b'{"pad": "' + b"x" * app.state.settings.inbound_max_body_bytes + b'"}'

    response = await deliver(client, integration_id, body, stripe_headers(body))

    assert response.status_code == 413
    assert await events_of(db, integration_id) == []


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_zid_basic_auth_header_is_not_taken_for_an_api_key(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    tenant = await tenant_with_key(db, ["inbound:read"])
    integration_id = await integration_row(
        app,
        tenant.tenant_id,
        "zid",
        {"webhook_username": "zid-hooks", "webhook_password": "s3cret-pass"},
        kind="commerce",
    )
    body = b'{"event": "order.create", "id": 991, "store_id": 7}'

    accepted = await deliver(client, integration_id, body, basic("zid-hooks", "s3cret-pass"))
    refused = await deliver(client, integration_id, body, basic("zid-hooks", "guess"))

    assert accepted.status_code == 200, accepted.text
    assert refused.status_code == 400
    assert "the Basic credentials do not match" in refused.json()["error"]["message"]
    stored, rejected = await events_of(db, integration_id)
    assert stored.event_type == "order.create"
    assert stored.provider_event_id is not None
    assert stored.provider_event_id.startswith("sha256:")
    for event in (stored, rejected):
        assert event.headers["authorization"] == "Basic [redacted]"


async def test_connection_without_a_verifier_refuses_everything(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    tenant = await tenant_with_key(db, ["inbound:read"])
    integration_id = await integration_row(app, tenant.tenant_id, "sandbox_payment", {})

    response = await deliver(client, integration_id, b"{}", {})

    assert response.status_code == 400
    assert "has no webhook verifier" in response.json()["error"]["message"]


async def test_integration_id_longer_than_64_characters_is_refused_in_the_error_shape(
    client: httpx.AsyncClient, db: Database
) -> None:
    body = stripe_event()
    response = await deliver(client, "int_" + "x" * 70, body, stripe_headers(body))
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "integration_id"


async def test_receipt_carries_the_request_id_header_and_the_event_records_it(
    client: httpx.AsyncClient, db: Database
) -> None:
    integration_id = await stripe_integration(client, db)
    body = stripe_event("evt_with_request_id")

    response = await deliver(
        client, integration_id, body, {**stripe_headers(body), "X-Request-Id": "req_fromprovider1"}
    )

    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req_fromprovider1"
    assert response.json() == {
        "object": "inbound_receipt",
        "id": response.json()["id"],
        "duplicate": False,
    }
    (event,) = await events_of(db, integration_id)
    assert event.request_id == "req_fromprovider1"
