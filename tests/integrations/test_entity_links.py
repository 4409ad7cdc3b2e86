from __future__ import annotations

import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from interlink.db.engine import Database
from interlink.integrations.exceptions import NoIntegrationConfigured
from interlink.integrations.links import resolve
from interlink.kit.ids import new_id
from interlink.models import EntityIntegrationLink
from tests.fixtures.factories import TenantKey, tenant_with_key


async def integration(
    client: httpx.AsyncClient, key: TenantKey, code: str = "sandbox_payment"
) -> str:
    r = await client.post(
        "/v1/integrations", json={"connection_code": code, "name": code}, headers=key.headers
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def link(
    client: httpx.AsyncClient,
    key: TenantKey,
    entity: str,
    integration_id: str,
    purpose: str = "payment_processing",
    is_default: bool = True,
) -> httpx.Response:
    return await client.post(
        f"/v1/entities/{entity}/integrations",
        json={"integration_id": integration_id, "purpose": purpose, "is_default": is_default},
        headers=key.headers,
    )


async def test_link_list_and_unlink(client: httpx.AsyncClient, db: Database) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    first = await integration(client, admin)

    created = await link(client, admin, "customer/cus_1", first)
    listed = await client.get("/v1/entities/customer/cus_1/integrations", headers=admin.headers)
    removed = await client.delete(
        f"/v1/entities/customer/cus_1/integrations/{first}", headers=admin.headers
    )
    after = await client.get("/v1/entities/customer/cus_1/integrations", headers=admin.headers)

    assert created.status_code == 201
    assert created.json()["is_default"] is True
    assert [x["integration_id"] for x in listed.json()["data"]] == [first]
    assert removed.status_code == 200
    assert after.json()["data"] == []
    again = await client.delete(
        f"/v1/entities/customer/cus_1/integrations/{first}", headers=admin.headers
    )
    assert again.status_code == 404


async def test_second_default_for_same_purpose_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    first, second = await integration(client, admin), await integration(client, admin)
    assert (await link(client, admin, "customer/cus_1", first)).status_code == 201

    response = await link(client, admin, "customer/cus_1", second)

    assert response.status_code == 409
    assert response.json()["error"]["param"] == "is_default"
    assert first in response.json()["error"]["message"]
    as_other = await link(client, admin, "customer/cus_1", second, is_default=False)
    assert as_other.status_code == 201


async def test_database_refuses_a_second_default_even_without_the_check(db: Database) -> None:
    admin = await tenant_with_key(db)

    def row(integration_id: str) -> EntityIntegrationLink:
        return EntityIntegrationLink(
            id=new_id("eil"),
            tenant_id=admin.tenant_id,
            integration_id=integration_id,
            entity_type="customer",
            entity_id="c",
            purpose="p",
            environment="sandbox",
            is_default=True,
        )

    from interlink.models import Integration

    async with db.session() as session:
        for iid in ("int_a", "int_b"):
            session.add(
                Integration(
                    id=iid,
                    tenant_id=admin.tenant_id,
                    connection_code="sandbox_tax",
                    kind="tax",
                    name=iid,
                    environment="sandbox",
                    status="active",
                    credential_hints={},
                    settings={},
                    metadata_={},
                    consecutive_failures=0,
                )
            )
        await session.flush()
        session.add(row("int_a"))
        await session.flush()
        session.add(row("int_b"))
        with pytest.raises(IntegrityError):
            await session.flush()
        await session.rollback()


async def test_resolver_prefers_entity_default_then_tenant_default(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    tenant_default, customer_default = (
        await integration(client, admin),
        await integration(client, admin),
    )
    assert (
        await link(client, admin, f"tenant/{admin.tenant_id}", tenant_default)
    ).status_code == 201
    assert (await link(client, admin, "customer/cus_vip", customer_default)).status_code == 201

    async with db.read_session() as session:
        vip = await resolve(
            session, admin.tenant_id, "payment_processing", ("customer", "cus_vip"), "test"
        )
        other = await resolve(
            session, admin.tenant_id, "payment_processing", ("customer", "cus_other"), "test"
        )
        anyone = await resolve(session, admin.tenant_id, "payment_processing", None, "test")
        with pytest.raises(NoIntegrationConfigured, match="Link one with POST"):
            await resolve(session, admin.tenant_id, "payment_processing", None, "live")
        with pytest.raises(NoIntegrationConfigured, match="'fulfillment'"):
            await resolve(session, admin.tenant_id, "fulfillment", ("customer", "cus_vip"), "test")

    assert vip.id == customer_default
    assert other.id == tenant_default
    assert anyone.id == tenant_default


async def test_tenant_entity_must_be_the_keys_own_tenant(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    iid = await integration(client, admin)

    response = await link(client, admin, "tenant/ten_someone_else", iid)

    assert response.status_code == 422
    assert response.json()["error"]["param"] == "entity_id"


async def test_linking_another_tenants_integration_is_not_found(
    client: httpx.AsyncClient, db: Database
) -> None:
    mine = await tenant_with_key(db, ["integrations:write"])
    theirs = await tenant_with_key(db, ["integrations:write"], name="Other")
    their_integration = await integration(client, theirs)

    response = await link(client, mine, "customer/cus_1", their_integration)

    assert response.status_code == 404
    assert response.json()["error"]["param"] == "integration_id"
