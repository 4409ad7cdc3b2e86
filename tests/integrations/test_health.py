"""Connection tests, the periodic health check, its events, the status overview and the logs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestServer
from fastapi import FastAPI
from sqlalchemy import select

from interlink.db.engine import Database
from interlink.integrations import runtime as runtime_module
from interlink.integrations.runtime import ProviderRuntime
from interlink.integrations.tasks import health_check, prune_logs
from interlink.jobs.registry import JobContext
from interlink.kit import clock
from interlink.models import Event, Integration, IntegrationLog
from tests.fixtures.factories import TenantKey, tenant_with_key

SECRET = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"


class FakeStripe:
    def __init__(self) -> None:
        self.status = 200
        self.auth_headers: list[str] = []

    async def balance(self, request: web.Request) -> web.Response:
        self.auth_headers.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != f"Bearer {SECRET}":
            return web.json_response({"error": {"message": "Invalid API Key"}}, status=401)
        if self.status != 200:
            return web.json_response({"error": {"message": "bad"}}, status=self.status)
        return web.json_response({"object": "balance", "available": []})


@pytest.fixture
async def stripe() -> AsyncIterator[tuple[str, FakeStripe]]:
    fake = FakeStripe()
    app = web.Application()
    app.router.add_get("/v1/balance", fake.balance)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), fake
    finally:
        await server.close()


@pytest.fixture
async def loopback_providers(app: FastAPI, db: Database) -> AsyncIterator[ProviderRuntime]:
    """The app's provider runtime, allowed to reach the local fake provider."""
    settings = app.state.settings.model_copy(
        update={"provider_allowed_networks": ["127.0.0.0/8"], "provider_max_attempts": 1}
    )
    runtime = ProviderRuntime.build(db, settings, app.state.keyring)
    previous = runtime_module._runtimes.get(id(db))
    runtime_module._runtimes[id(db)] = runtime
    yield runtime
    await runtime.close()
    if previous is None:
        runtime_module._runtimes.pop(id(db), None)
    else:
        runtime_module._runtimes[id(db)] = previous


async def stripe_integration(
    client: httpx.AsyncClient, key: TenantKey, base: str, secret: str = SECRET, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/integrations",
        json={
            "connection_code": "stripe",
            "name": "Stripe",
            "credentials": {"secret_key": secret},
            "settings": {"api_base": base},
            **extra,
        },
        headers=key.headers,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def events_of(db: Database, tenant_id: str) -> list[str]:
    async with db.read_session() as session:
        rows = await session.scalars(
            select(Event.type).where(Event.tenant_id == tenant_id).order_by(Event.id)
        )
        return list(rows.all())


def job_context(db: Database, settings: Any, session: Any) -> JobContext:
    return JobContext(
        job_id="job_test",
        name="integrations.health_check",
        attempt=1,
        max_attempts=3,
        db=db,
        settings=settings,
        session=session,
        log=structlog.get_logger("test"),
    )


async def run_health_check(db: Database, settings: Any) -> None:
    async with db.session() as session:
        await health_check(job_context(db, settings, session))
        await session.commit()


async def test_test_endpoint_calls_the_provider_through_the_client_layer_and_logs_it(
    client: httpx.AsyncClient,
    db: Database,
    stripe: tuple[str, FakeStripe],
    loopback_providers: ProviderRuntime,
) -> None:
    base, fake = stripe
    admin = await tenant_with_key(db, ["integrations:write", "logs:read"])
    integration = await stripe_integration(client, admin, base)

    response = await client.post(
        f"/v1/integrations/{integration['id']}/test",
        headers={**admin.headers, "X-Request-Id": "corr-123"},
    )
    logs = await client.get(
        "/v1/integration-logs", params={"correlation_id": "corr-123"}, headers=admin.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True
    assert fake.auth_headers == [f"Bearer {SECRET}"]
    entries = logs.json()["data"]
    assert len(entries) == 1
    assert entries[0]["status_code"] == 200
    assert entries[0]["url"].endswith("/v1/balance")
    assert entries[0]["integration"] == integration["id"]
    assert SECRET not in logs.text
    fetched = await client.get(f"/v1/integrations/{integration['id']}", headers=admin.headers)
    assert fetched.json()["last_success_at"] is not None


async def test_refused_credentials_mark_the_integration_needs_reauth(
    client: httpx.AsyncClient,
    db: Database,
    stripe: tuple[str, FakeStripe],
    loopback_providers: ProviderRuntime,
) -> None:
    base, _ = stripe
    admin = await tenant_with_key(db, ["integrations:write"])
    integration = await stripe_integration(client, admin, base, secret="sk_test_wrongwrongwrong")

    response = await client.post(
        f"/v1/integrations/{integration['id']}/test", headers=admin.headers
    )

    assert response.json()["ok"] is False
    assert response.json()["status"] == "needs_reauth"
    assert await events_of(db, admin.tenant_id) == ["integration.auth_failed"]
    fixed = await client.put(
        f"/v1/integrations/{integration['id']}",
        json={"credentials": {"secret_key": SECRET}},
        headers=admin.headers,
    )
    assert fixed.json()["status"] == "active"


async def test_health_job_degrades_after_consecutive_failures_and_recovers(
    client: httpx.AsyncClient,
    db: Database,
    stripe: tuple[str, FakeStripe],
    loopback_providers: ProviderRuntime,
) -> None:
    base, fake = stripe
    admin = await tenant_with_key(db, ["integrations:write"])
    integration = await stripe_integration(client, admin, base)
    fake.status = 400
    threshold = loopback_providers.settings.integration_failures_before_error

    for _ in range(threshold):
        await run_health_check(db, loopback_providers.settings)

    degraded = await client.get(f"/v1/integrations/{integration['id']}", headers=admin.headers)
    assert degraded.json()["status"] == "error"
    assert degraded.json()["consecutive_failures"] == threshold
    assert await events_of(db, admin.tenant_id) == ["integration.degraded"]

    fake.status = 200
    await run_health_check(db, loopback_providers.settings)

    recovered = await client.get(f"/v1/integrations/{integration['id']}", headers=admin.headers)
    assert recovered.json()["status"] == "active"
    assert await events_of(db, admin.tenant_id) == ["integration.degraded", "integration.recovered"]
    overview = await client.get("/v1/integrations/status", headers=admin.headers)
    row = overview.json()["data"][0]
    assert row["calls_24h"] == threshold + 1
    assert row["errors_24h"] == threshold
    assert row["error_rate_24h"] == round(threshold / (threshold + 1), 4)
    assert row["last_error"] is not None
    single = await client.get(f"/v1/integrations/{integration['id']}/health", headers=admin.headers)
    assert single.json() == row


async def test_credentials_nearing_expiry_are_announced_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    soon = (clock.now() + timedelta(days=2)).isoformat()
    created = await client.post(
        "/v1/integrations",
        json={"connection_code": "sandbox_email", "name": "E", "credentials_expire_at": soon},
        headers=admin.headers,
    )
    assert created.status_code == 201

    settings = db.settings
    await run_health_check(db, settings)
    await run_health_check(db, settings)

    assert await events_of(db, admin.tenant_id) == ["integration.credentials_expiring"]
    overview = await client.get("/v1/integrations/status", headers=admin.headers)
    assert overview.json()["data"][0]["credentials_expiring"] is True


async def test_failed_execution_is_logged_even_though_the_request_failed(
    client: httpx.AsyncClient,
    db: Database,
    stripe: tuple[str, FakeStripe],
    loopback_providers: ProviderRuntime,
) -> None:
    base, fake = stripe
    admin = await tenant_with_key(db, ["integrations:write", "logs:read"])
    integration = await stripe_integration(client, admin, base)
    fake.status = 500

    await client.post(f"/v1/integrations/{integration['id']}/test", headers=admin.headers)
    logs = await client.get(
        "/v1/integration-logs",
        params={"integration": integration["id"], "outcome": "http_error"},
        headers=admin.headers,
    )

    assert [e["status_code"] for e in logs.json()["data"]] == [500]


async def test_retention_job_prunes_old_logs(db: Database) -> None:
    admin = await tenant_with_key(db)
    async with db.session() as session:
        for age_days, log_id in ((90, "ilog_old"), (1, "ilog_new")):
            session.add(
                IntegrationLog(
                    id=log_id,
                    tenant_id=admin.tenant_id,
                    integration_id=None,
                    connection_code="stripe",
                    operation="test",
                    method="GET",
                    url="https://x",
                    status_code=200,
                    outcome="ok",
                    latency_ms=1.0,
                    attempt=1,
                    created_at=clock.now() - timedelta(days=age_days),
                )
            )
        await session.commit()

    async with db.session() as session:
        await prune_logs(job_context(db, db.settings, session))
        await session.commit()

    async with db.read_session() as session:
        remaining = (await session.scalars(select(IntegrationLog.id))).all()
    assert list(remaining) == ["ilog_new"]


async def test_credentials_no_key_opens_are_reported_not_crashed_on(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    created = await client.post(
        "/v1/integrations",
        json={"connection_code": "sandbox_tax", "name": "T", "credentials": {"api_key": "sbx_ok"}},
        headers=admin.headers,
    )
    iid = created.json()["id"]
    async with db.session() as session:
        row = await session.get(Integration, iid)
        assert row is not None
        row.credentials_sealed = "v1.gone.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        await session.commit()

    executed = await client.post(
        f"/v1/integrations/{iid}/execute",
        json={
            "capability_code": "QUOTE_TAX",
            "parameters": {"amount": 1, "currency": "usd", "to": {"country": "US"}},
        },
        headers=admin.headers,
    )
    await run_health_check(db, db.settings)
    fetched = await client.get(f"/v1/integrations/{iid}", headers=admin.headers)

    assert executed.status_code == 409
    assert executed.json()["error"]["param"] == "credentials"
    assert fetched.json()["consecutive_failures"] == 1
    assert "cannot be opened" in fetched.json()["last_error"]


async def test_provider_outages_during_execution_degrade_and_a_success_recovers(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db, ["integrations:write"])
    iid = (
        await client.post(
            "/v1/integrations",
            json={"connection_code": "sandbox_payment", "name": "P"},
            headers=admin.headers,
        )
    ).json()["id"]

    async def pay(method: str) -> int:
        r = await client.post(
            f"/v1/integrations/{iid}/execute",
            json={
                "capability_code": "PROCESS_PAYMENT",
                "parameters": {"amount": 1, "currency": "usd", "payment_method": method},
            },
            headers=admin.headers,
        )
        return r.status_code

    assert [await pay("pm_provider_down") for _ in range(3)] == [502, 502, 502]
    assert (await client.get(f"/v1/integrations/{iid}", headers=admin.headers)).json()[
        "status"
    ] == "error"
    assert await pay("pm_card_visa") == 200

    fetched = (await client.get(f"/v1/integrations/{iid}", headers=admin.headers)).json()
    assert fetched["status"] == "active"
    assert fetched["consecutive_failures"] == 0
    assert await events_of(db, admin.tenant_id) == ["integration.degraded", "integration.recovered"]
