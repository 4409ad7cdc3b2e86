"""Zid and Lexoffice are in the built-in catalog: an integration created through the API receives
their webhooks, checked by their own verifiers."""

from __future__ import annotations

import base64
import json

import httpx

from interlink.db.engine import Database
from tests.fixtures.factories import tenant_with_key
from tests.fixtures.inbound import deliver, events_of
from tests.fixtures.signers import LexofficeSigner


async def create_integration(
    client: httpx.AsyncClient, headers: dict[str, str], **body: object
) -> str:
    response = await client.post("/v1/integrations", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_lexoffice_integration_created_through_the_api_verifies_rsa_signed_webhooks(
    client: httpx.AsyncClient, db: Database
) -> None:
    signer = LexofficeSigner.create()
    tenant = await tenant_with_key(db, ["integrations:write", "inbound:read"])
    integration_id = await create_integration(
        client,
        tenant.headers,
        connection_code="lexoffice",
        name="Books",
        environment="sandbox",
        credentials={"api_key": "lx-key-0001"},
        settings={"inbound": {"public_key": signer.public_pem}},
    )
    body = json.dumps(
        {"organizationId": "o-1", "eventType": "invoice.created", "resourceId": "r-9"}
    ).encode()

    ok = await deliver(client, integration_id, body, signer.header(body))
    forged = await deliver(client, integration_id, body, LexofficeSigner.create().header(body))

    assert ok.status_code == 200, ok.text
    assert forged.status_code == 400
    [stored, _] = await events_of(db, integration_id)
    assert stored.event_type == "invoice.created"


async def test_lexoffice_settings_refuse_a_public_key_that_is_not_pem(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await tenant_with_key(db, ["integrations:write"])

    response = await client.post(
        "/v1/integrations",
        json={
            "connection_code": "lexoffice",
            "name": "Books",
            "environment": "sandbox",
            "credentials": {"api_key": "lx"},
            "settings": {"inbound": {"public_key": "not a key"}},
        },
        headers=tenant.headers,
    )

    assert response.status_code in (400, 422), response.text
    assert response.json()["error"]["message"]


async def test_zid_integration_created_through_the_api_checks_basic_credentials(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await tenant_with_key(db, ["integrations:write", "inbound:read"])
    integration_id = await create_integration(
        client,
        tenant.headers,
        connection_code="zid",
        name="Store",
        environment="sandbox",
        credentials={
            "authorization": "zid-authorization-token",
            "access_token": "zid-manager-token",
            "webhook_username": "zid-hooks",
            "webhook_password": "s3cret-pass",
        },
    )
    body = b'{"event": "order.status.update", "id": 77}'

    def basic(password: str) -> dict[str, str]:
        token = base64.b64encode(f"zid-hooks:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    accepted = await deliver(client, integration_id, body, basic("s3cret-pass"))
    refused = await deliver(client, integration_id, body, basic("guess"))

    assert accepted.status_code == 200, accepted.text
    assert refused.status_code == 400
    stored = [e for e in await events_of(db, integration_id) if e.signature_valid]
    assert [e.event_type for e in stored] == ["order.status.update"]
