from __future__ import annotations

from typing import Any

import httpx

from interlink.db.engine import Database
from tests.fixtures.factories import TenantKey, tenant_with_key


async def tenant(db: Database, mode: str = "test") -> TenantKey:
    return await tenant_with_key(db, ["webhooks:write", "events:write"], mode=mode)


async def create_endpoint(
    client: httpx.AsyncClient, key: TenantKey, url: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post("/v1/webhooks", json={"url": url, **fields}, headers=key.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def publish(
    client: httpx.AsyncClient, key: TenantKey, event_type: str = "order.created", **fields: Any
) -> dict[str, Any]:
    body = {"type": event_type, "data": {"object": {"id": "ord_1", "total": 1500}}, **fields}
    response = await client.post("/v1/events", json=body, headers=key.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def deliveries(
    client: httpx.AsyncClient, key: TenantKey, endpoint_id: str, **params: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/v1/webhooks/{endpoint_id}/deliveries",
        params={"limit": "100", **params},
        headers=key.headers,
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def only_delivery(
    client: httpx.AsyncClient, key: TenantKey, endpoint_id: str
) -> dict[str, Any]:
    [summary] = await deliveries(client, key, endpoint_id)
    response = await client.get(
        f"/v1/webhooks/{endpoint_id}/deliveries/{summary['id']}", headers=key.headers
    )
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = response.json()
    return detail
