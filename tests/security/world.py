"""A tenant with one real object of every kind the API exposes by id, created through the API, and
the secrets it was given (so leak scans know what to look for)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import stripe

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs.worker import Worker
from tests.fixtures.factories import TenantKey
from tests.fixtures.payments import captured, idem, quote, shop

STRIPE_SECRET = "sk_test_isolationMatrixSecret0001"
STRIPE_WHSEC = "whsec_isolationMatrixWebhookSecret01"


@dataclass
class World:
    key: TenantKey
    ids: dict[str, str]
    secrets: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return self.key.headers


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def _post(client: httpx.AsyncClient, key: TenantKey, path: str, body: Any) -> dict[str, Any]:
    return _created(await client.post(path, json=body, headers={**key.headers, **idem()}))


async def build_world(
    client: httpx.AsyncClient, db: Database, settings: Settings, name: str
) -> World:
    owner = await shop(client, db, name)
    key = owner.key
    ids: dict[str, str] = {"tenant": key.tenant_id, "payments_integration": owner.integration_id}
    secrets_given: list[str] = [key.key, STRIPE_SECRET, STRIPE_WHSEC]

    issued = await _post(client, key, "/v1/api-keys", {"scopes": ["events:read"], "name": "x"})
    ids["api_key"] = issued["id"]
    secrets_given.append(issued["key"])

    stripe_int = await _post(
        client,
        key,
        "/v1/integrations",
        {
            "connection_code": "stripe",
            "name": "Stripe",
            "credentials": {"secret_key": STRIPE_SECRET, "webhook_secret": STRIPE_WHSEC},
        },
    )
    ids["stripe_integration"] = stripe_int["id"]
    lab = await _post(
        client, key, "/v1/integrations", {"connection_code": "sandbox_lab", "name": "Lab"}
    )
    ids["lab_integration"] = lab["id"]
    ids["gallery"] = "gal_world_1"
    await _post(
        client,
        key,
        f"/v1/entities/gallery/{ids['gallery']}/integrations",
        {"integration_id": stripe_int["id"], "purpose": "payments"},
    )

    intent = await captured(client, owner)
    ids["payment"] = intent["id"]
    ids["order"] = intent["order_id"]
    snap = await quote(client, owner, order_id="ord_world_2")
    ids["snapshot"] = snap["snapshot_id"]
    ids["run"] = (await _post(client, key, "/v1/reconciliation/runs", {}))["id"]

    endpoint = await _post(client, key, "/v1/webhooks", {"url": "https://hooks.example.com/a"})
    ids["webhook"] = endpoint["id"]
    secret = await client.get(f"/v1/webhooks/{endpoint['id']}/secret", headers=key.headers)
    secrets_given.append(_created(secret)["key"])
    assert endpoint["secret"] == secrets_given[-1]
    ids["event"] = (
        await _post(client, key, "/v1/events", {"type": "order.created", "data": {"object": {}}})
    )["id"]
    ids["delivery"] = await _first_delivery(client, db, settings, key, endpoint["id"])

    body = json.dumps(
        {
            "id": "evt_world_1",
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_x", "amount": 100, "currency": "usd"}},
        }
    ).encode()
    signature = stripe.WebhookSignature.generate_signature_header(
        body.decode(), STRIPE_WHSEC, int(time.time())
    )
    received = await client.post(
        f"/v1/inbound/{stripe_int['id']}",
        content=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": signature},
    )
    assert received.status_code == 200, received.text
    listed = _created(await client.get("/v1/inbound-events", headers=key.headers))
    ids["inbound_event"] = listed["data"][0]["id"]

    order = await _post(
        client,
        key,
        "/v1/fulfillment/orders",
        {
            "order_id": "ord_world_print",
            "integration_id": lab["id"],
            "items": [
                {
                    "quantity": 1,
                    "image_url": "https://img.example.com/a.jpg",
                    "lab_product_id": "sbx_print_4x6",
                }
            ],
            "ship_to": {
                "name": "Ada",
                "line1": "1 Main St",
                "city": "Austin",
                "state": "TX",
                "postal_code": "78701",
                "country": "US",
            },
        },
    )
    ids["fulfillment_order"] = order["id"]
    return World(key, ids, secrets_given)


async def _first_delivery(
    client: httpx.AsyncClient, db: Database, settings: Settings, key: TenantKey, endpoint: str
) -> str:
    worker = Worker(db, settings)
    await worker.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            listed = await client.get(f"/v1/webhooks/{endpoint}/deliveries", headers=key.headers)
            data = _created(listed)["data"]
            if data:
                return str(data[0]["id"])
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
    raise AssertionError("the event was never fanned out to the endpoint")
