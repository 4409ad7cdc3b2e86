"""The per-process copy of an integration's verifier and secrets that receiving uses."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from interlink.db.engine import Database
from interlink.integrations import credentials as sealed
from interlink.models import Integration
from interlink.webhooks_in.cache import IntegrationCache
from tests.fixtures.factories import tenant_with_key
from tests.fixtures.inbound import deliver, integration_row
from tests.webhooks_in.test_receive import WHSEC, stripe_event, stripe_headers

NEW_WHSEC = "whsec_rotatedSecret77"


async def test_rotating_the_webhook_secret_applies_to_the_next_delivery(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    created = await client.post(
        "/v1/integrations",
        json={
            "connection_code": "stripe",
            "name": "Stripe",
            "credentials": {"secret_key": "sk_test_abc123", "webhook_secret": WHSEC},
        },
        headers=admin.headers,
    )
    integration_id = created.json()["id"]
    first = stripe_event("evt_before")
    assert (await deliver(client, integration_id, first, stripe_headers(first))).status_code == 200

    rotated = await client.put(
        f"/v1/integrations/{integration_id}",
        json={"credentials": {"secret_key": "sk_test_abc123", "webhook_secret": NEW_WHSEC}},
        headers=admin.headers,
    )
    assert rotated.status_code == 200, rotated.text

    body = stripe_event("evt_after")
    with_new = await deliver(client, integration_id, body, stripe_headers(body, NEW_WHSEC))
    other = stripe_event("evt_old_secret")
    with_old = await deliver(client, integration_id, other, stripe_headers(other, WHSEC))
    assert with_new.status_code == 200
    assert with_old.status_code == 400
    assert with_old.json()["error"]["code"] == "invalid_signature"


async def _seal_directly(app: FastAPI, integration_id: str, tenant_id: str, secret: str) -> None:
    """A write that bypasses this process's ORM, as another API process's would look here."""
    db: Database = app.state.db
    token = sealed.seal(app.state.keyring, tenant_id, integration_id, {"webhook_secret": secret})
    async with db.session() as session:
        await session.execute(
            update(Integration)
            .where(Integration.id == integration_id)
            .values(credentials_sealed=token)
        )
        await session.commit()


async def test_another_process_change_is_read_once_the_entry_is_older_than_the_ttl(
    app: FastAPI, db: Database
) -> None:
    tenant = await tenant_with_key(db)
    integration_id = await integration_row(
        app, tenant.tenant_id, "stripe", {"webhook_secret": WHSEC}
    )
    fresh = IntegrationCache(ttl_seconds=0)
    held = IntegrationCache(ttl_seconds=3600)
    for cache in (fresh, held):
        entry = await cache.get(db, app.state.keyring, integration_id)
        assert entry is not None
        assert entry.credentials["webhook_secret"] == WHSEC

    await _seal_directly(app, integration_id, tenant.tenant_id, NEW_WHSEC)

    now_fresh = await fresh.get(db, app.state.keyring, integration_id)
    still_held = await held.get(db, app.state.keyring, integration_id)
    assert now_fresh is not None
    assert now_fresh.credentials["webhook_secret"] == NEW_WHSEC
    assert still_held is not None
    assert still_held.credentials["webhook_secret"] == WHSEC


async def test_unchanged_credentials_are_not_opened_again_when_the_row_is_read_again(
    app: FastAPI, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await tenant_with_key(db)
    integration_id = await integration_row(
        app, tenant.tenant_id, "stripe", {"webhook_secret": WHSEC}
    )
    opened: list[str] = []
    real_unseal = sealed.unseal

    def counting_unseal(*args: object) -> dict[str, object]:
        opened.append(str(args[2]))
        return real_unseal(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(sealed, "unseal", counting_unseal)
    cache = IntegrationCache(ttl_seconds=0)

    for _ in range(3):
        assert await cache.get(db, app.state.keyring, integration_id) is not None

    assert opened == [integration_id]


async def test_deleting_the_integration_through_the_orm_drops_the_cached_copy(
    app: FastAPI, db: Database
) -> None:
    tenant = await tenant_with_key(db)
    integration_id = await integration_row(
        app, tenant.tenant_id, "stripe", {"webhook_secret": WHSEC}
    )
    cache = IntegrationCache(ttl_seconds=3600)
    assert await cache.get(db, app.state.keyring, integration_id) is not None

    async with db.session() as session:
        row = await session.get(Integration, integration_id)
        await session.delete(row)
        await session.commit()

    assert await cache.get(db, app.state.keyring, integration_id) is None
