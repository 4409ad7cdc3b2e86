from __future__ import annotations

import httpx

from interlink.db.engine import Database
from tests.fixtures.factories import tenant_with_key

SALESFORCE = {
    "connection_code": "salesforce",
    "display_name": "Salesforce",
    "kind": "commerce",
    "auth_type": "api_key",
    "credentials_schema": {
        "type": "object",
        "properties": {"api_key": {"type": "string", "minLength": 8}},
        "required": ["api_key"],
    },
}


async def test_platform_admin_adds_a_custom_connection_with_capabilities(
    client: httpx.AsyncClient, db: Database
) -> None:
    operator = await tenant_with_key(db, ["platform"])
    tenant = await tenant_with_key(db, ["integrations:write"], name="Tenant")

    created = await client.post("/v1/connections", json=SALESFORCE, headers=operator.headers)
    cap = await client.post(
        "/v1/connections/salesforce/capabilities",
        json={
            "capability_code": "SYNC_CONTACTS",
            "description": "Contacts",
            "parameters_schema": {"type": "object", "properties": {"since": {"type": "string"}}},
        },
        headers=operator.headers,
    )
    listed = await client.get("/v1/connections", headers=tenant.headers)
    integration = await client.post(
        "/v1/integrations",
        json={"connection_code": "salesforce", "name": "SF", "credentials": {"api_key": "short"}},
        headers=tenant.headers,
    )

    assert created.status_code == 201, created.text
    assert created.json()["source"] == "custom"
    assert cap.status_code == 201
    codes = {c["code"]: c for c in listed.json()["data"]}
    assert [c["code"] for c in codes["salesforce"]["capabilities"]] == ["SYNC_CONTACTS"]
    assert "sandbox_payment" in codes
    assert integration.status_code == 422
    assert integration.json()["error"]["param"] == "credentials.api_key"


async def test_custom_connection_update_and_soft_delete(
    client: httpx.AsyncClient, db: Database
) -> None:
    operator = await tenant_with_key(db, ["platform"])
    await client.post("/v1/connections", json=SALESFORCE, headers=operator.headers)

    updated = await client.put(
        "/v1/connections/salesforce", json={"status": "beta"}, headers=operator.headers
    )
    deleted = await client.delete("/v1/connections/salesforce", headers=operator.headers)
    gone = await client.get("/v1/connections/salesforce", headers=operator.headers)
    restored = await client.post("/v1/connections", json=SALESFORCE, headers=operator.headers)

    assert updated.json()["status"] == "beta"
    assert deleted.status_code == 200
    assert gone.status_code == 404
    assert restored.status_code == 201


async def test_capability_crud(client: httpx.AsyncClient, db: Database) -> None:
    operator = await tenant_with_key(db, ["platform"])
    await client.post("/v1/connections", json=SALESFORCE, headers=operator.headers)
    base = "/v1/connections/salesforce/capabilities"
    await client.post(base, json={"capability_code": "SYNC_CONTACTS"}, headers=operator.headers)

    duplicate = await client.post(
        base, json={"capability_code": "SYNC_CONTACTS"}, headers=operator.headers
    )
    updated = await client.put(
        f"{base}/SYNC_CONTACTS", json={"description": "All contacts"}, headers=operator.headers
    )
    fetched = await client.get(f"{base}/SYNC_CONTACTS", headers=operator.headers)
    removed = await client.delete(f"{base}/SYNC_CONTACTS", headers=operator.headers)
    missing = await client.get(f"{base}/SYNC_CONTACTS", headers=operator.headers)

    assert duplicate.status_code == 409
    assert updated.json()["description"] == "All contacts"
    assert fetched.status_code == 200
    assert removed.status_code == 200
    assert missing.status_code == 404


async def test_catalog_changes_need_the_platform_scope(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant_admin = await tenant_with_key(db, ["admin"])

    response = await client.post("/v1/connections", json=SALESFORCE, headers=tenant_admin.headers)

    assert response.status_code == 403
    assert response.json()["error"]["param"] == "platform"


async def test_builtins_cannot_be_changed_and_bad_schemas_are_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    operator = await tenant_with_key(db, ["platform"])

    builtin = await client.put(
        "/v1/connections/stripe", json={"status": "deprecated"}, headers=operator.headers
    )
    shadow = await client.post(
        "/v1/connections",
        json={**SALESFORCE, "connection_code": "stripe"},
        headers=operator.headers,
    )
    bad_schema = await client.post(
        "/v1/connections",
        json={**SALESFORCE, "credentials_schema": {"type": "object", "required": "api_key"}},
        headers=operator.headers,
    )
    bad_code = await client.post(
        "/v1/connections",
        json={**SALESFORCE, "connection_code": "Bad Code"},
        headers=operator.headers,
    )

    assert builtin.status_code == 409
    assert shadow.status_code == 409
    assert bad_schema.status_code == 422
    assert bad_schema.json()["error"]["param"] == "credentials_schema"
    assert bad_code.status_code == 422
    assert bad_code.json()["error"]["param"] == "connection_code"


async def test_custom_connection_integration_can_be_tested_and_says_what_is_missing(
    client: httpx.AsyncClient, db: Database
) -> None:
    operator = await tenant_with_key(db, ["platform"])
    await client.post("/v1/connections", json=SALESFORCE, headers=operator.headers)
    created = await client.post(
        "/v1/integrations",
        json={
            "connection_code": "salesforce",
            "name": "SF",
            "credentials": {"api_key": "12345678"},
        },
        headers=operator.headers,
    )

    tested = await client.post(
        f"/v1/integrations/{created.json()['id']}/test", headers=operator.headers
    )

    assert tested.status_code == 200
    assert tested.json()["ok"] is False
    assert "settings.base_url" in tested.json()["message"]
