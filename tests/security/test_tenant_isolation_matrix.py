"""Every /v1 route that takes an id in its path, called by another tenant's admin key with the ids
of real objects of the first tenant: 404 (or, for ids the platform chooses such as order ids, an
empty answer), never a byte of the first tenant's data, and nothing of it changed."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from fastapi import FastAPI

from interlink.config import Settings
from interlink.db.engine import Database
from tests.fixtures.factories import tenant_with_key
from tests.security.routes import PUBLIC, Route, api_routes
from tests.security.world import World, build_world

# routes whose path ids are not tenant-owned objects, with the reason
NOT_TENANT_OWNED = {
    "/v1/tenants/{tenant_id}": "platform keys only (the scope matrix covers it)",
    "/v1/connections/{code}": "the connection catalog is shared by every tenant",
    "/v1/connections/{code}/capabilities": "the connection catalog is shared by every tenant",
    "/v1/connections/{code}/capabilities/{capability_code}": "the shared connection catalog",
}
# ids the platform chooses (its own order and entity ids): another tenant may use the same
# value for its own objects, so the answer is an empty list, never the first tenant's rows
PLATFORM_CHOSEN = {"entity_id", "entity_type"}


def path_values(route: Route, world: World) -> dict[str, str]:
    ids = world.ids
    values: dict[str, str] = {}
    for param in route.path_params:
        if param == "integration_id":
            values[param] = (
                ids["lab_integration"]
                if "products" in route.path or "lab-callback" in route.path
                else ids["stripe_integration"]
            )
        elif param == "order_id":
            values[param] = (
                ids["fulfillment_order"]
                if route.path.startswith("/v1/fulfillment")
                else ids["order"]
            )
        elif param == "event_id":
            values[param] = (
                ids["inbound_event"]
                if route.path.startswith("/v1/inbound-events")
                else ids["event"]
            )
        else:
            values[param] = {
                "key_id": ids["api_key"],
                "webhook_id": ids["webhook"],
                "delivery_id": ids["delivery"],
                "payment_id": ids["payment"],
                "run_id": ids["run"],
                "entity_type": "gallery",
                "entity_id": ids["gallery"],
            }[param]
    return values


def body_for(route: Route, world: World) -> dict[str, Any] | None:
    if route.method not in {"POST", "PUT", "PATCH"}:
        return None
    bodies: dict[str, dict[str, Any]] = {
        "/v1/integrations/{integration_id}": {"name": "taken over"},
        "/v1/integrations/{integration_id}/execute": {"capability_code": "payments"},
        "/v1/entities/{entity_type}/{entity_id}/integrations": {
            "integration_id": world.ids["payments_integration"],
            "purpose": "payments",
        },
        "/v1/webhooks/{webhook_id}": {"description": "taken over"},
        "/v1/webhooks/{webhook_id}/events": {"event_types": ["order.created"]},
        "/v1/webhooks/{webhook_id}/recover": {"since": "2020-01-01T00:00:00Z"},
        "/v1/checkout/orders/{order_id}/submit-payment": {
            "snapshot_id": world.ids["snapshot"],
            "payment_method": "pm_card_visa",
            "amount": 5000,
            "currency": "usd",
        },
        "/v1/payments/{payment_id}/refund": {"amount": 100},
        "/v1/integrations/{integration_id}/lab-callback": {"url": "https://cb.example.com/x"},
    }
    return bodies.get(route.path, {})


def leaked(text: str, world: World, sent: str) -> list[str]:
    """The owner's ids in an answer, apart from those the request itself carried."""
    return [v for k, v in world.ids.items() if v not in sent and v in text and k != "order"]


async def test_another_tenant_reaches_no_object_by_id(
    app: FastAPI, client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    owner = await build_world(client, db, settings, "Owner")
    intruder = await tenant_with_key(db, ["admin"], name="Intruder")
    routes = [
        r
        for r in api_routes(app)
        if r.path_params and (r.method, r.path) not in PUBLIC and r.path not in NOT_TENANT_OWNED
    ]
    assert len(routes) >= 35, [r.label for r in routes]
    before = await snapshot(client, owner)
    failures: list[str] = []
    for route in routes:
        values = path_values(route, owner)
        response = await client.request(
            route.method,
            route.url(values),
            json=body_for(route, owner),
            headers={**intruder.headers, "Idempotency-Key": secrets.token_hex(8)},
        )
        platform_chosen = bool(PLATFORM_CHOSEN & set(route.path_params)) or (
            route.path.startswith("/v1/orders/")
        )
        ok = (
            response.status_code == 404
            or (
                platform_chosen
                and response.status_code in (200, 201)
                and response.json().get("data", []) == []
            )
            or (platform_chosen and response.status_code == 404)
        )
        if route.path == "/v1/checkout/orders/{order_id}/submit-payment":
            ok = response.status_code == 404  # the snapshot belongs to the owner
        if route.path == "/v1/entities/{entity_type}/{entity_id}/integrations" and (
            route.method == "POST"
        ):
            ok = response.status_code == 404  # the integration belongs to the owner
        if not ok:
            failures.append(f"{route.label}: {response.status_code} {response.text[:300]}")
        found = leaked(response.text, owner, f"{values} {body_for(route, owner)}")
        if found:
            failures.append(f"{route.label} returned the owner's ids {found}")
        if owner.key.tenant_id in response.text:
            failures.append(f"{route.label} named the owner's tenant")
    assert not failures, "\n".join(failures)
    assert await snapshot(client, owner) == before, "the intruder changed the owner's objects"


async def snapshot(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    ids = world.ids
    paths = [
        f"/v1/api-keys/{ids['api_key']}",
        f"/v1/integrations/{ids['stripe_integration']}",
        f"/v1/integrations/{ids['lab_integration']}",
        f"/v1/payments/{ids['payment']}",
        f"/v1/webhooks/{ids['webhook']}",
        f"/v1/events/{ids['event']}",
        f"/v1/inbound-events/{ids['inbound_event']}",
        f"/v1/entities/tenant/{ids['tenant']}/integrations",
        f"/v1/entities/gallery/{ids['gallery']}/integrations",
        f"/v1/orders/{ids['order']}/payments",
    ]
    state: dict[str, Any] = {}
    for path in paths:
        response = await client.get(path, headers=world.headers)
        assert response.status_code == 200, (path, response.text)
        body = response.json()
        for volatile in ("last_used_at", "updated_at", "health", "status_checked_at"):
            if isinstance(body, dict):
                body.pop(volatile, None)
        state[path] = body
    return state
