from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from interlink.db.engine import Database
from interlink.kit.clock import now, rfc3339
from interlink.models import InboundEvent
from tests.fixtures.factories import TenantKey, tenant_with_key
from tests.fixtures.inbound import deliver, integration_row, process_jobs
from tests.webhooks_in.test_receive import WHSEC, stripe_event, stripe_headers


async def tenant_with_events(
    app: FastAPI, db: Database, client: httpx.AsyncClient
) -> tuple[TenantKey, str, list[str]]:
    admin = await tenant_with_key(db, ["inbound:write"])
    integration_id = await integration_row(
        app, admin.tenant_id, "stripe", {"secret_key": "sk_test_x", "webhook_secret": WHSEC}
    )
    ids = []
    for n, event_type in enumerate(
        ("payment_intent.succeeded", "charge.refunded", "customer.created")
    ):
        body = stripe_event(f"evt_{n}", event_type)
        response = await deliver(client, integration_id, body, stripe_headers(body))
        ids.append(response.json()["id"])
    await deliver(client, integration_id, b"{}", {"Stripe-Signature": "t=1,v1=00"})
    return admin, integration_id, ids


async def mark_dead(db: Database, event_ids: list[str], error: str = "Boom: down") -> None:
    async with db.session() as session:
        await session.execute(
            update(InboundEvent)
            .where(InboundEvent.id.in_(event_ids))
            .values(
                status="dead", attempts=8, last_error=error, status_reason="dead after 8 attempts"
            )
        )
        await session.commit()


async def test_list_filters_by_integration_type_status_and_time(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    admin, integration_id, ids = await tenant_with_events(app, db, client)

    everything = await client.get("/v1/inbound-events", headers=admin.headers)
    by_type = await client.get(
        "/v1/inbound-events", params={"type": "charge.refunded"}, headers=admin.headers
    )
    rejected = await client.get(
        "/v1/inbound-events",
        params={"status": "rejected", "integration_id": integration_id},
        headers=admin.headers,
    )
    later = await client.get(
        "/v1/inbound-events",
        params={"since": rfc3339(now() + timedelta(minutes=1))},
        headers=admin.headers,
    )

    assert everything.status_code == 200
    assert len(everything.json()["data"]) == 4
    assert [e["id"] for e in by_type.json()["data"]] == [ids[1]]
    [refused] = rejected.json()["data"]
    assert refused["signature_valid"] is False
    assert refused["status_reason"].startswith("timestamp_out_of_tolerance")
    assert later.json()["data"] == []
    bad = await client.get("/v1/inbound-events", params={"status": "lost"}, headers=admin.headers)
    assert bad.status_code == 422


async def test_detail_shows_attempts_last_error_headers_and_payload(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    admin, _, ids = await tenant_with_events(app, db, client)
    await mark_dead(db, [ids[0]])

    response = await client.get(f"/v1/inbound-events/{ids[0]}", headers=admin.headers)

    assert response.status_code == 200
    detail = response.json()
    assert detail["attempts"] == 8
    assert detail["last_error"] == "Boom: down"
    assert detail["status"] == "dead"
    assert detail["type"] == "payment_intent.succeeded"
    assert detail["payload"]["id"] == "evt_0"
    assert "stripe-signature" in detail["headers"]


async def test_replay_requeues_the_event_with_a_fresh_budget(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    admin, _, ids = await tenant_with_events(app, db, client)
    await mark_dead(db, [ids[0]])

    response = await client.post(f"/v1/inbound-events/{ids[0]}/replay", headers=admin.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["attempts"], body["replays"]) == ("received", 0, 1)
    assert await process_jobs(db, ids[0]) == 2


async def test_rejected_delivery_cannot_be_replayed(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    admin, _, _ = await tenant_with_events(app, db, client)
    listed = await client.get(
        "/v1/inbound-events", params={"status": "rejected"}, headers=admin.headers
    )
    rejected_id = listed.json()["data"][0]["id"]

    response = await client.post(f"/v1/inbound-events/{rejected_id}/replay", headers=admin.headers)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "inbound_event_not_replayable"


async def test_bulk_replay_requeues_dead_events_since_a_time(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    admin, integration_id, ids = await tenant_with_events(app, db, client)
    await mark_dead(db, ids[:2])

    response = await client.post(
        "/v1/inbound-events/replay",
        json={"since": rfc3339(now() - timedelta(hours=1)), "integration_id": integration_id},
        headers=admin.headers,
    )
    none_later = await client.post(
        "/v1/inbound-events/replay",
        json={"since": rfc3339(now() + timedelta(hours=1))},
        headers=admin.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["replayed"] == 2
    assert sorted(response.json()["ids"]) == sorted(ids[:2])
    assert none_later.json()["replayed"] == 0
    listed = await client.get(
        "/v1/inbound-events", params={"status": "dead"}, headers=admin.headers
    )
    assert listed.json()["data"] == []


async def test_another_tenant_sees_none_of_the_events(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    _, integration_id, ids = await tenant_with_events(app, db, client)
    await mark_dead(db, ids)
    other = await tenant_with_key(db, ["inbound:write"], name="Other")

    listed = await client.get(
        "/v1/inbound-events", params={"integration_id": integration_id}, headers=other.headers
    )
    detail = await client.get(f"/v1/inbound-events/{ids[0]}", headers=other.headers)
    replay = await client.post(f"/v1/inbound-events/{ids[0]}/replay", headers=other.headers)
    bulk = await client.post(
        "/v1/inbound-events/replay",
        json={"since": rfc3339(now() - timedelta(days=1))},
        headers=other.headers,
    )

    assert listed.json()["data"] == []
    assert detail.status_code == 404
    assert replay.status_code == 404
    assert bulk.json()["replayed"] == 0


@pytest.mark.parametrize(
    ("scopes", "method", "path", "status"),
    [
        (["integrations:read"], "GET", "/v1/inbound-events", 403),
        (["inbound:read"], "GET", "/v1/inbound-events", 200),
        (["inbound:read"], "POST", "/v1/inbound-events/inev_x/replay", 403),
        (["inbound:write"], "POST", "/v1/inbound-events/inev_x/replay", 404),
    ],
)
async def test_admin_routes_need_the_inbound_scopes(
    client: httpx.AsyncClient, db: Database, scopes: list[str], method: str, path: str, status: int
) -> None:
    key = await tenant_with_key(db, scopes)
    response = await client.request(method, path, headers=key.headers)
    assert response.status_code == status
    anonymous = await client.request(method, path)
    assert anonymous.status_code == 401
