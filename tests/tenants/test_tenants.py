from __future__ import annotations

import httpx

from interlink.db.engine import Database
from tests.fixtures.factories import tenant_with_key


async def test_platform_key_creates_lists_and_reads_tenants(
    client: httpx.AsyncClient, db: Database
) -> None:
    operator = await tenant_with_key(db, ["platform"], name="Operator")

    created = await client.post(
        "/v1/tenants",
        json={"name": "Studio Aurora", "metadata": {"plan": "pro"}},
        headers=operator.headers,
    )
    fetched = await client.get(f"/v1/tenants/{created.json()['id']}", headers=operator.headers)
    listed = await client.get("/v1/tenants", headers=operator.headers)

    assert created.status_code == 201
    assert created.json()["id"].startswith("ten_")
    assert fetched.json() == created.json()
    assert {t["name"] for t in listed.json()["data"]} == {"Operator", "Studio Aurora"}


async def test_tenant_admin_key_cannot_manage_tenants(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["admin"])

    created = await client.post("/v1/tenants", json={"name": "Mine"}, headers=admin.headers)
    listed = await client.get("/v1/tenants", headers=admin.headers)
    own = await client.get(f"/v1/tenants/{admin.tenant_id}", headers=admin.headers)

    assert created.status_code == listed.status_code == own.status_code == 403


async def test_unknown_tenant_is_a_404_and_a_blank_name_a_422(
    client: httpx.AsyncClient, db: Database
) -> None:
    operator = await tenant_with_key(db, ["platform"])

    missing = await client.get("/v1/tenants/ten_nope", headers=operator.headers)
    blank = await client.post("/v1/tenants", json={"name": ""}, headers=operator.headers)

    assert missing.status_code == 404
    assert blank.status_code == 422
    assert blank.json()["error"]["param"] == "name"


async def test_platform_key_issues_a_key_inside_another_tenant(
    client: httpx.AsyncClient, db: Database
) -> None:
    operator = await tenant_with_key(db, ["platform"])
    customer = await tenant_with_key(db, name="Customer")

    issued = await client.post(
        "/v1/api-keys",
        json={"scopes": ["payments:write"], "tenant_id": customer.tenant_id},
        headers=operator.headers,
    )
    refused = await client.post(
        "/v1/api-keys",
        json={"scopes": ["payments:write"], "tenant_id": operator.tenant_id},
        headers=customer.headers,
    )

    assert issued.status_code == 201
    assert issued.json()["tenant"] == customer.tenant_id
    assert refused.status_code == 403
