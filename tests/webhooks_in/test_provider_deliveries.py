"""End-to-end deliveries for the providers other than Stripe: PayPal (certificate fetched from a
local server allow-listed by configuration), WHCC, Lexoffice, Standard Webhooks and the generic
HMAC verifier."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook as StandardWebhook

from interlink.app import create_app
from interlink.config import Settings
from interlink.db.engine import Database
from interlink.providers.paypal_certs import CACHE
from tests.fixtures.factories import tenant_with_key
from tests.fixtures.inbound import deliver, events_of, integration_row
from tests.fixtures.signers import LexofficeSigner, PayPalSigner, t_v1_header

PAYPAL_BODY = json.dumps(
    {
        "id": "WH-2WR32451HC0233532-67976317FL4543714",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "resource": {"id": "CAP-1", "amount": {"currency_code": "USD", "value": "12.34"}},
    }
).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CertServer:
    def __init__(self, pem: bytes) -> None:
        self.pem = pem
        self.hits = 0
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    async def serve(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(body=self.pem, content_type="application/x-pem-file")

    async def __aenter__(self) -> CertServer:
        app = web.Application()
        app.router.add_get("/certs/{name}", self.serve)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    def url(self, name: str = "chain.pem") -> str:
        return f"http://127.0.0.1:{self.port}/certs/{name}"


@pytest.fixture
async def paypal_client(
    settings: Settings, db: Database
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    # the "PayPal hosts only" rule, opened to the local test server through configuration
    local = settings.model_copy(
        update={
            "inbound_paypal_cert_hosts": ["127.0.0.1"],
            "inbound_paypal_cert_https_only": False,
            "provider_allowed_networks": ["127.0.0.1/32"],
        }
    )
    application = create_app(local)
    CACHE.clear()
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://interlink.test") as c:
            yield application, c
    CACHE.clear()


async def test_paypal_delivery_verified_with_the_fetched_and_cached_certificate(
    paypal_client: tuple[FastAPI, httpx.AsyncClient], db: Database
) -> None:
    app, client = paypal_client
    tenant = await tenant_with_key(db, ["inbound:read"])
    integration_id = await integration_row(
        app,
        tenant.tenant_id,
        "paypal",
        {"client_id": "c", "client_secret": "s", "webhook_id": "WH-HOOK"},
    )
    signer = PayPalSigner.create()
    async with CertServer(signer.chain_pem) as server:
        headers = signer.headers(PAYPAL_BODY, "WH-HOOK", server.url())
        first = await deliver(client, integration_id, PAYPAL_BODY, headers)
        tampered = await deliver(client, integration_id, PAYPAL_BODY + b" ", headers)
        other_hook = signer.headers(PAYPAL_BODY, "WH-ELSEWHERE", server.url())
        wrong_hook = await deliver(client, integration_id, PAYPAL_BODY, other_hook)

    assert first.status_code == 200, first.text
    assert server.hits == 1
    assert tampered.status_code == 400
    assert "PAYPAL-TRANSMISSION-SIG does not match" in tampered.json()["error"]["message"]
    assert wrong_hook.status_code == 400
    stored = [e for e in await events_of(db, integration_id) if e.signature_valid]
    assert [(e.provider_event_id, e.event_type) for e in stored] == [
        ("WH-2WR32451HC0233532-67976317FL4543714", "PAYMENT.CAPTURE.COMPLETED")
    ]


async def test_paypal_certificate_outside_the_allowed_hosts_is_never_fetched(
    paypal_client: tuple[FastAPI, httpx.AsyncClient], db: Database
) -> None:
    app, client = paypal_client
    tenant = await tenant_with_key(db, ["inbound:read"])
    integration_id = await integration_row(
        app,
        tenant.tenant_id,
        "paypal",
        {"client_id": "c", "client_secret": "s", "webhook_id": "WH-HOOK"},
    )
    signer = PayPalSigner.create()
    async with CertServer(signer.chain_pem) as server:
        url = server.url().replace("127.0.0.1", "localhost")
        response = await deliver(
            client, integration_id, PAYPAL_BODY, signer.headers(PAYPAL_BODY, "WH-HOOK", url)
        )
    assert response.status_code == 400
    assert "not on an allowed PayPal host" in response.json()["error"]["message"]
    assert server.hits == 0


async def test_default_configuration_allows_only_paypal_hosts(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    tenant = await tenant_with_key(db, ["inbound:read"])
    integration_id = await integration_row(
        app,
        tenant.tenant_id,
        "paypal",
        {"client_id": "c", "client_secret": "s", "webhook_id": "WH-HOOK"},
    )
    signer = PayPalSigner.create()
    for url in (
        "http://127.0.0.1:9/c.pem",
        "https://paypal.com.evil.test/c.pem",
        "http://api.paypal.com/c.pem",
    ):
        response = await deliver(
            client, integration_id, PAYPAL_BODY, signer.headers(PAYPAL_BODY, "WH-HOOK", url)
        )
        assert response.status_code == 400, url
        assert "not on an allowed PayPal host" in response.json()["error"]["message"]


async def test_whcc_delivery_signed_with_the_consumer_secret(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    tenant = await tenant_with_key(db, ["inbound:read"])
    integration_id = await integration_row(
        app,
        tenant.tenant_id,
        "whcc",
        {"consumer_key": "k", "consumer_secret": "whcc-secret"},
        kind="lab",
    )
    body = json.dumps({"Event": "Shipped", "ConfirmationId": "C-1", "ShippingInfo": []}).encode()

    ok = await deliver(
        client,
        integration_id,
        body,
        {"WHCC-Signature": t_v1_header("whcc-secret", body, int(time.time()))},
    )
    old = await deliver(
        client,
        integration_id,
        body,
        {"WHCC-Signature": t_v1_header("whcc-secret", body, int(time.time()) - 900)},
    )

    assert ok.status_code == 200, ok.text
    assert old.status_code == 400
    [stored, _] = await events_of(db, integration_id)
    assert stored.event_type == "Shipped"


async def test_lexoffice_delivery_checked_with_the_configured_public_key(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    signer = LexofficeSigner.create()
    tenant = await tenant_with_key(db, ["inbound:read"])
    integration_id = await integration_row(
        app,
        tenant.tenant_id,
        "lexoffice",
        {"api_key": "lx"},
        settings={"inbound": {"public_key": signer.public_pem}},
        kind="bookkeeping",
    )
    body = json.dumps(
        {
            "organizationId": "o-1",
            "eventType": "invoice.status.changed",
            "resourceId": "r-1",
            "eventDate": "2026-11-22T03:00:00.000+01:00",
        }
    ).encode()

    ok = await deliver(client, integration_id, body, signer.header(body))
    forged = await deliver(client, integration_id, body, LexofficeSigner.create().header(body))

    assert ok.status_code == 200, ok.text
    assert forged.status_code == 400
    [stored, _] = await events_of(db, integration_id)
    assert stored.event_type == "invoice.status.changed"


async def test_standard_webhooks_sender_is_identified_by_its_webhook_id(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    secret = "whsec_" + base64.b64encode(b"q" * 32).decode()
    tenant = await tenant_with_key(db, ["inbound:read"])
    integration_id = await integration_row(
        app,
        tenant.tenant_id,
        "acme_platform",
        {"webhook_secret": secret},
        settings={"inbound": {"verifier": "standard_webhooks"}},
        kind="automation",
    )
    body = b'{"type": "invoice.paid", "data": {}}'
    sent = datetime.now(UTC)
    headers = {
        "webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        "webhook-timestamp": str(int(sent.timestamp())),
        "webhook-signature": StandardWebhook(secret).sign(
            "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", sent, body.decode()
        ),
    }

    first = await deliver(client, integration_id, body, headers)
    again = await deliver(client, integration_id, body, headers)

    assert first.status_code == 200, first.text
    assert again.json()["duplicate"] is True
    [stored] = await events_of(db, integration_id)
    assert (stored.provider_event_id, stored.event_type) == (
        "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        "invoice.paid",
    )


async def test_generic_hmac_verifier_reads_its_scheme_from_settings(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    tenant = await tenant_with_key(db, ["inbound:read"])
    scheme = {
        "verifier": "hmac",
        "hmac": {
            "header": "X-Shop-Signature",
            "encoding": "base64",
            "template": "{timestamp}.{body}",
            "timestamp_header": "X-Shop-Timestamp",
        },
        "event_id_field": "event_id",
        "event_type_field": "topic",
    }
    integration_id = await integration_row(
        app,
        tenant.tenant_id,
        "shop",
        {"webhook_secret": "shop-key"},
        settings={"inbound": scheme},
        kind="commerce",
    )
    body = b'{"event_id": "e-77", "topic": "orders/create"}'
    stamp = str(int(time.time()))
    digest = hmac.new(b"shop-key", f"{stamp}.".encode() + body, hashlib.sha256).digest()
    headers = {"X-Shop-Signature": base64.b64encode(digest).decode(), "X-Shop-Timestamp": stamp}

    ok = await deliver(client, integration_id, body, headers)
    tampered = await deliver(client, integration_id, body.replace(b"77", b"78"), headers)

    assert ok.status_code == 200, ok.text
    assert tampered.status_code == 400
    stored = [e for e in await events_of(db, integration_id) if e.signature_valid]
    assert [(e.provider_event_id, e.event_type) for e in stored] == [("e-77", "orders/create")]
    assert set(stored[0].headers) >= {"x-shop-signature", "x-shop-timestamp"}
