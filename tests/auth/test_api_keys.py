from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from interlink.db.engine import Database
from interlink.models import ApiKey
from tests.fixtures.factories import tenant_with_key


async def test_new_key_is_shown_once_and_stored_only_as_a_hash(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db)

    created = await client.post(
        "/v1/api-keys", json={"scopes": ["payments:write"], "name": "shop"}, headers=admin.headers
    )
    fetched = await client.get(f"/v1/api-keys/{created.json()['id']}", headers=admin.headers)

    assert created.status_code == 201
    plaintext = created.json()["key"]
    assert plaintext.startswith("ik_test_")
    assert "key" not in fetched.json()
    assert fetched.json()["masked_key"].endswith(plaintext[-4:])
    async with db.session() as session:
        row = await session.get(ApiKey, created.json()["id"])
        assert row is not None
        stored = " ".join(str(v) for v in vars(row).values())
    assert plaintext not in stored
    assert plaintext[len(row.lookup_prefix) :] not in stored


async def test_created_key_authenticates_with_its_scopes(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db)
    created = await client.post(
        "/v1/api-keys", json={"scopes": ["api_keys:read"]}, headers=admin.headers
    )
    reader = {"Authorization": f"Bearer {created.json()['key']}"}

    listed = await client.get("/v1/api-keys", headers=reader)
    refused = await client.post("/v1/api-keys", json={"scopes": ["api_keys:read"]}, headers=reader)

    assert listed.status_code == 200
    assert {k["id"] for k in listed.json()["data"]} == {admin.key_id, created.json()["id"]}
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "permission"
    assert refused.json()["error"]["param"] == "api_keys:write"


async def test_key_cannot_grant_scopes_it_does_not_hold(
    client: httpx.AsyncClient, db: Database
) -> None:
    limited = await tenant_with_key(db, ["api_keys:write"])

    response = await client.post(
        "/v1/api-keys", json={"scopes": ["payments:write"]}, headers=limited.headers
    )

    assert response.status_code == 403
    assert "payments:write" in response.json()["error"]["message"]


async def test_unknown_scope_is_rejected_naming_the_field(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db)

    response = await client.post(
        "/v1/api-keys", json={"scopes": ["payments:fly"]}, headers=admin.headers
    )

    assert response.status_code == 422
    assert response.json()["error"]["param"] == "scopes"
    assert "payments:fly" in response.json()["error"]["message"]


async def test_revoked_key_is_refused(client: httpx.AsyncClient, db: Database) -> None:
    admin = await tenant_with_key(db)
    other = await client.post("/v1/api-keys", json={"scopes": ["admin"]}, headers=admin.headers)
    other_headers = {"Authorization": f"Bearer {other.json()['key']}"}

    revoked = await client.delete(f"/v1/api-keys/{other.json()['id']}", headers=admin.headers)
    refused = await client.get("/v1/api-keys", headers=other_headers)

    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "api_key_revoked"


async def test_expired_key_is_refused(client: httpx.AsyncClient, db: Database) -> None:
    admin = await tenant_with_key(db)
    async with db.session() as session:
        row = await session.get(ApiKey, admin.key_id)
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        await session.commit()

    response = await client.get("/v1/api-keys", headers=admin.headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_expired"


async def test_expiry_in_the_past_is_rejected(client: httpx.AsyncClient, db: Database) -> None:
    admin = await tenant_with_key(db)

    response = await client.post(
        "/v1/api-keys",
        json={"scopes": ["admin"], "expires_at": "2020-01-01T00:00:00Z"},
        headers=admin.headers,
    )

    assert response.status_code == 409
    assert response.json()["error"]["param"] == "expires_at"


async def test_rotation_returns_a_new_key_and_keeps_the_old_one_for_the_grace_period(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db)

    rotated = await client.post(f"/v1/api-keys/{admin.key_id}/rotate", headers=admin.headers)
    new_headers = {"Authorization": f"Bearer {rotated.json()['key']}"}
    old_still_works = await client.get("/v1/api-keys", headers=admin.headers)
    old = await client.get(f"/v1/api-keys/{admin.key_id}", headers=new_headers)

    assert rotated.status_code == 200
    assert rotated.json()["id"] != admin.key_id
    assert rotated.json()["scopes"] == ["admin"]
    assert old_still_works.status_code == 200
    expires = datetime.fromisoformat(old.json()["expires_at"])
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)
    assert old.json()["rotated_to"] == rotated.json()["id"]


async def test_rotation_with_no_grace_period_ends_the_old_key_at_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db)

    rotated = await client.post(
        f"/v1/api-keys/{admin.key_id}/rotate",
        json={"grace_period_hours": 0},
        headers=admin.headers,
    )
    old = await client.get("/v1/api-keys", headers=admin.headers)
    new = await client.get(
        "/v1/api-keys", headers={"Authorization": f"Bearer {rotated.json()['key']}"}
    )
    again = await client.post(
        f"/v1/api-keys/{admin.key_id}/rotate",
        headers={"Authorization": f"Bearer {rotated.json()['key']}"},
    )

    assert old.status_code == 401
    assert old.json()["error"]["code"] == "api_key_expired"
    assert new.status_code == 200
    assert again.status_code == 409


async def test_usage_counts_requests_per_day_and_last_use(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db)
    for _ in range(3):
        await client.get("/v1/api-keys", headers=admin.headers)
    await client.get("/v1/api-keys/key_missing", headers=admin.headers)

    usage = await client.get(f"/v1/api-keys/{admin.key_id}/usage", headers=admin.headers)

    body = usage.json()
    assert usage.status_code == 200
    assert body["total_requests"] == 4
    assert body["days"][0]["errors"] == 1
    assert body["last_used_at"] is not None


async def test_another_tenants_key_is_not_found(client: httpx.AsyncClient, db: Database) -> None:
    tenant_a = await tenant_with_key(db, name="A")
    tenant_b = await tenant_with_key(db, name="B")

    for method, path in [
        ("GET", f"/v1/api-keys/{tenant_a.key_id}"),
        ("DELETE", f"/v1/api-keys/{tenant_a.key_id}"),
        ("POST", f"/v1/api-keys/{tenant_a.key_id}/rotate"),
        ("GET", f"/v1/api-keys/{tenant_a.key_id}/usage"),
    ]:
        response = await client.request(method, path, headers=tenant_b.headers)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["type"] == "not_found"
    listed = await client.get("/v1/api-keys", headers=tenant_b.headers)
    assert [k["id"] for k in listed.json()["data"]] == [tenant_b.key_id]
    still_valid = await client.get("/v1/api-keys", headers=tenant_a.headers)
    assert still_valid.status_code == 200


async def test_platform_key_may_act_for_another_tenant(
    client: httpx.AsyncClient, db: Database
) -> None:
    operator = await tenant_with_key(db, ["platform"], name="Operator")
    customer = await tenant_with_key(db, name="Customer")

    as_customer = await client.get(
        "/v1/api-keys", headers={**operator.headers, "Interlink-Tenant": customer.tenant_id}
    )
    refused = await client.get(
        "/v1/api-keys", headers={**customer.headers, "Interlink-Tenant": operator.tenant_id}
    )

    assert [k["id"] for k in as_customer.json()["data"]] == [customer.key_id]
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "missing_api_key"),
        ("Basic abc", "malformed_api_key"),
        ("Bearer sk_test_123", "malformed_api_key"),
        ("Bearer ik_test_" + "A" * 44, "invalid_api_key"),
    ],
)
async def test_missing_malformed_or_unknown_keys_get_401(
    client: httpx.AsyncClient, db: Database, authorization: str | None, code: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = await client.get("/v1/api-keys", headers=headers)

    assert response.status_code == 401
    assert response.json()["error"] == {
        "type": "authentication",
        "code": code,
        "message": response.json()["error"]["message"],
        "request_id": response.headers["x-request-id"],
    }


async def test_list_is_cursor_paginated_newest_first(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db)
    for _ in range(4):
        await client.post("/v1/api-keys", json={"scopes": ["admin"]}, headers=admin.headers)

    first = await client.get("/v1/api-keys?limit=2", headers=admin.headers)
    second = await client.get(
        f"/v1/api-keys?limit=2&starting_after={first.json()['data'][-1]['id']}",
        headers=admin.headers,
    )
    third = await client.get(
        f"/v1/api-keys?limit=2&starting_after={second.json()['data'][-1]['id']}",
        headers=admin.headers,
    )

    ids = [k["id"] for page in (first, second, third) for k in page.json()["data"]]
    assert first.json()["has_more"]
    assert second.json()["has_more"]
    assert not third.json()["has_more"]
    assert len(ids) == 5
    assert len(set(ids)) == 5
    assert ids == sorted(ids, reverse=True)
    async with db.session() as session:
        assert len((await session.scalars(select(ApiKey))).all()) == 5
