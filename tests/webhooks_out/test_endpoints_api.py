"""The webhook endpoint, event type and event routes: CRUD, bad input and tenant isolation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from interlink.db.engine import Database
from tests.fixtures.factories import tenant_with_key
from tests.webhooks_out.helpers import create_endpoint, publish, tenant

URL = "https://hooks.example.com/interlink"


async def test_endpoint_lifecycle_create_read_update_and_delete(
    db: Database, wh_client: httpx.AsyncClient
) -> None:
    key = await tenant(db)
    created = await create_endpoint(
        wh_client,
        key,
        URL,
        description="orders",
        event_types=["order.*", "payment.captured"],
        headers={"X-Team": "shop"},
        rate_limit=50,
        timeout_seconds=5,
    )
    assert created["id"].startswith("whep_")
    assert created["secret"].startswith("whsec_")
    assert created["secret_hint"].endswith(created["secret"][-4:])
    assert created["timeout_seconds"] == 5
    wid = created["id"]

    got = (await wh_client.get(f"/v1/webhooks/{wid}", headers=key.headers)).json()
    assert "secret" not in got
    assert got["event_types"] == ["order.*", "payment.captured"]
    listed = (await wh_client.get("/v1/webhooks", headers=key.headers)).json()
    assert [w["id"] for w in listed["data"]] == [wid]
    assert "secret" not in listed["data"][0]

    updated = await wh_client.put(
        f"/v1/webhooks/{wid}",
        json={"description": "all orders", "enabled": False, "rate_limit": None},
        headers=key.headers,
    )
    assert updated.status_code == 200
    assert updated.json()["enabled"] is False
    assert updated.json()["rate_limit"] is None
    events = await wh_client.put(
        f"/v1/webhooks/{wid}/events",
        json={"event_types": ["gallery.delivered"]},
        headers=key.headers,
    )
    assert events.json()["event_types"] == ["gallery.delivered"]

    secret = await wh_client.get(f"/v1/webhooks/{wid}/secret", headers=key.headers)
    assert secret.json()["key"] == created["secret"]

    deleted = await wh_client.delete(f"/v1/webhooks/{wid}", headers=key.headers)
    assert deleted.status_code == 200
    missing = await wh_client.get(f"/v1/webhooks/{wid}", headers=key.headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "webhook_missing"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"url": "not a url"}, "url", "invalid_url"),
        ({"url": "ftp://example.com/hook"}, "url", "invalid_url"),
        ({"url": "https://user:pw@example.com/hook"}, "url", "invalid_url"),
        ({"url": "https:///nohost"}, "url", "invalid_url"),
        ({"url": URL, "event_types": ["order.exploded"]}, "event_types.0", "unknown_event_type"),
        ({"url": URL, "event_types": ["nothing.*"]}, "event_types.0", "unknown_event_type"),
        ({"url": URL, "headers": {"webhook-id": "x"}}, "headers.webhook-id", "invalid_header"),
        ({"url": URL, "headers": {"bad name": "x"}}, "headers.bad name", "invalid_header"),
        ({"url": URL, "timeout_seconds": 0}, "timeout_seconds", "validation_error"),
        ({"url": URL, "colour": "red"}, "colour", "validation_error"),
    ],
)
async def test_bad_endpoint_input_is_refused_with_the_reason(
    db: Database, wh_client: httpx.AsyncClient, body: dict[str, Any], param: str, code: str
) -> None:
    key = await tenant(db)
    response = await wh_client.post("/v1/webhooks", json=body, headers=key.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert error["code"] == code
    assert error["message"]


async def test_live_keys_need_https_and_test_keys_may_use_http(
    db: Database, wh_client: httpx.AsyncClient
) -> None:
    live = await tenant(db, mode="live")
    refused = await wh_client.post(
        "/v1/webhooks", json={"url": "http://hooks.example.com/x"}, headers=live.headers
    )
    assert refused.status_code == 422
    assert "https" in refused.json()["error"]["message"]
    test = await tenant(db)
    await create_endpoint(wh_client, test, "http://hooks.example.com/x")


async def test_another_tenants_webhook_is_not_found_on_every_route(
    db: Database, wh_client: httpx.AsyncClient
) -> None:
    owner = await tenant(db)
    other = await tenant(db)
    wid = (await create_endpoint(wh_client, owner, URL))["id"]
    await publish(wh_client, owner)
    routes = [
        ("GET", f"/v1/webhooks/{wid}", None),
        ("PUT", f"/v1/webhooks/{wid}", {"description": "mine"}),
        ("DELETE", f"/v1/webhooks/{wid}", None),
        ("PUT", f"/v1/webhooks/{wid}/events", {"event_types": []}),
        ("POST", f"/v1/webhooks/{wid}/rotate-secret", None),
        ("GET", f"/v1/webhooks/{wid}/secret", None),
        ("GET", f"/v1/webhooks/{wid}/deliveries", None),
        ("GET", f"/v1/webhooks/{wid}/deliveries/msg_x", None),
        ("POST", f"/v1/webhooks/{wid}/deliveries/msg_x/retry", None),
        ("POST", f"/v1/webhooks/{wid}/recover", {"since": "2026-01-01T00:00:00Z"}),
        ("POST", f"/v1/webhooks/{wid}/test", None),
    ]
    for method, path, body in routes:
        response = await wh_client.request(method, path, json=body, headers=other.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "webhook_missing"
    assert (await wh_client.get("/v1/webhooks", headers=other.headers)).json()["data"] == []
    assert (await wh_client.get("/v1/events", headers=other.headers)).json()["data"] == []
    assert (await wh_client.get(f"/v1/webhooks/{wid}", headers=owner.headers)).status_code == 200


async def test_another_tenants_event_is_not_found(
    db: Database, wh_client: httpx.AsyncClient
) -> None:
    owner = await tenant(db)
    other = await tenant(db)
    event = await publish(wh_client, owner)
    response = await wh_client.get(f"/v1/events/{event['id']}", headers=other.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "event_missing"


async def test_reading_keys_cannot_change_webhooks(
    db: Database, wh_client: httpx.AsyncClient
) -> None:
    reader = await tenant_with_key(db, ["webhooks:read"])
    listed = await wh_client.get("/v1/webhooks", headers=reader.headers)
    assert listed.status_code == 200
    refused = await wh_client.post("/v1/webhooks", json={"url": URL}, headers=reader.headers)
    assert refused.status_code == 403


async def test_event_types_list_built_ins_and_tenant_types_with_schema(
    db: Database, wh_client: httpx.AsyncClient
) -> None:
    key = await tenant(db)
    schema = {
        "type": "object",
        "required": ["invoice"],
        "properties": {"invoice": {"type": "string"}},
    }
    created = await wh_client.post(
        "/v1/event-types",
        json={"name": "invoice.paid", "description": "An invoice was paid.", "schema": schema},
        headers=key.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["schema"] == schema
    listed = (await wh_client.get("/v1/event-types", headers=key.headers)).json()["data"]
    names = {t["name"]: t for t in listed}
    assert names["order.created"]["built_in"] is True
    assert names["invoice.paid"]["built_in"] is False
    duplicate = await wh_client.post(
        "/v1/event-types", json={"name": "order.created"}, headers=key.headers
    )
    assert duplicate.status_code == 409
    bad_schema = await wh_client.post(
        "/v1/event-types",
        json={"name": "invoice.voided", "schema": {"type": "nonsense"}},
        headers=key.headers,
    )
    assert bad_schema.status_code == 422
    assert bad_schema.json()["error"]["param"] == "schema"
    bad_name = await wh_client.post(
        "/v1/event-types", json={"name": "Invoice Paid"}, headers=key.headers
    )
    assert bad_name.status_code == 422

    other = await tenant(db)
    theirs = (await wh_client.get("/v1/event-types", headers=other.headers)).json()["data"]
    assert "invoice.paid" not in {t["name"] for t in theirs}

    ok = await wh_client.post(
        "/v1/events",
        json={"type": "invoice.paid", "data": {"invoice": "in_1"}},
        headers=key.headers,
    )
    assert ok.status_code == 201
    invalid = await wh_client.post(
        "/v1/events",
        json={"type": "invoice.paid", "data": {"invoice": 7}},
        headers=key.headers,
    )
    assert invalid.status_code == 422
    assert invalid.json()["error"]["code"] == "invalid_event_data"
    assert invalid.json()["error"]["param"] == "data.invoice"
    subscribed = await create_endpoint(wh_client, key, URL, event_types=["invoice.paid"])
    assert subscribed["event_types"] == ["invoice.paid"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "order.exploded", "data": {}}, "unknown_event_type"),
        ({"type": "webhook_endpoint.disabled", "data": {}}, "unknown_event_type"),
        ({"type": "Order Created", "data": {}}, "invalid_event_type"),
        ({"type": "order.created", "data": "text"}, "validation_error"),
    ],
)
async def test_bad_events_are_refused_with_the_reason(
    db: Database, wh_client: httpx.AsyncClient, body: dict[str, Any], code: str
) -> None:
    key = await tenant(db)
    response = await wh_client.post("/v1/events", json=body, headers=key.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code


async def test_publishing_the_same_event_id_twice_returns_the_first_event(
    db: Database, wh_client: httpx.AsyncClient
) -> None:
    key = await tenant(db)
    await create_endpoint(wh_client, key, URL)
    first = await publish(wh_client, key, id="order-789-created")
    second = await publish(wh_client, key, id="order-789-created")
    assert first["id"] == second["id"]
    listed = (await wh_client.get("/v1/events", headers=key.headers)).json()["data"]
    assert len(listed) == 1
    detail = (await wh_client.get(f"/v1/events/{first['id']}", headers=key.headers)).json()
    assert detail["external_id"] == "order-789-created"
    # the deliveries are written with the event: one for the endpoint, not one per publish
    assert [d["status"] for d in detail["deliveries"]] == ["pending"]


async def test_idempotency_key_replays_the_publish(
    db: Database, wh_client: httpx.AsyncClient
) -> None:
    key = await tenant(db)
    headers = {**key.headers, "Idempotency-Key": "publish-1"}
    body = {"type": "order.created", "data": {"object": {"id": "ord_1"}}}
    first = await wh_client.post("/v1/events", json=body, headers=headers)
    second = await wh_client.post("/v1/events", json=body, headers=headers)
    assert first.json()["id"] == second.json()["id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
