"""Another tenant's objects are invisible on every route of the integrations domain."""

from __future__ import annotations

import httpx

from interlink.db.engine import Database
from tests.fixtures.factories import tenant_with_key


async def test_another_tenants_integration_is_a_404_on_every_route(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner = await tenant_with_key(db, ["admin"])
    intruder = await tenant_with_key(db, ["admin"], name="Intruder")
    created = await client.post(
        "/v1/integrations",
        json={"connection_code": "sandbox_payment", "name": "Owner's"},
        headers=owner.headers,
    )
    iid = created.json()["id"]
    await client.post(
        "/v1/entities/customer/cus_1/integrations",
        json={"integration_id": iid, "purpose": "payments", "is_default": True},
        headers=owner.headers,
    )
    await client.post(f"/v1/integrations/{iid}/test", headers=owner.headers)

    routes = [
        ("GET", f"/v1/integrations/{iid}", None),
        ("PUT", f"/v1/integrations/{iid}", {"name": "stolen"}),
        ("DELETE", f"/v1/integrations/{iid}", None),
        ("POST", f"/v1/integrations/{iid}/test", None),
        ("GET", f"/v1/integrations/{iid}/capabilities", None),
        ("GET", f"/v1/integrations/{iid}/health", None),
        (
            "POST",
            f"/v1/integrations/{iid}/execute",
            {"capability_code": "PROCESS_PAYMENT", "parameters": {"amount": 1, "currency": "usd"}},
        ),
        ("DELETE", f"/v1/entities/customer/cus_1/integrations/{iid}", None),
    ]
    for method, path, body in routes:
        response = await client.request(method, path, json=body, headers=intruder.headers)
        assert response.status_code == 404, (method, path, response.text)

    lists = [
        "/v1/integrations",
        "/v1/entities/customer/cus_1/integrations",
        "/v1/integration-logs",
        f"/v1/integration-logs?integration={iid}",
    ]
    for path in lists:
        response = await client.get(path, headers=intruder.headers)
        assert response.status_code == 200
        assert response.json()["data"] == [], path
    overview = await client.get("/v1/integrations/status", headers=intruder.headers)
    assert overview.json()["data"] == []

    still = await client.get(f"/v1/integrations/{iid}", headers=owner.headers)
    assert still.status_code == 200
    assert still.json()["name"] == "Owner's"
    links = await client.get("/v1/entities/customer/cus_1/integrations", headers=owner.headers)
    assert len(links.json()["data"]) == 1


async def test_keys_without_the_scope_are_refused(client: httpx.AsyncClient, db: Database) -> None:
    reader = await tenant_with_key(db, ["integrations:read"])

    created = await client.post(
        "/v1/integrations",
        json={"connection_code": "sandbox_tax", "name": "x"},
        headers=reader.headers,
    )
    logs = await client.get("/v1/integration-logs", headers=reader.headers)

    assert created.status_code == 403
    assert logs.status_code == 403
