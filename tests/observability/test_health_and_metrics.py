from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from interlink.app import create_app
from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs.worker import Worker
from tests.conftest import make_settings
from tests.fixtures.factories import tenant_with_key


async def test_healthz_answers_while_the_process_is_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_needs_a_live_worker(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    without = await client.get("/readyz")
    worker = Worker(db, settings)
    await worker.start()
    try:
        with_worker = await client.get("/readyz")
    finally:
        await worker.stop()

    assert without.status_code == 503
    assert without.json()["checks"]["database"] == "ok"
    assert without.json()["checks"]["migrations"] == "ok"
    assert without.json()["checks"]["workers"] != "ok"
    assert with_worker.status_code == 200
    assert with_worker.json()["status"] == "ready"


async def test_metrics_report_requests_by_route_and_the_job_queue(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await tenant_with_key(db)
    await client.get(f"/v1/api-keys/{admin.key_id}", headers=admin.headers)
    async with db.session() as session:
        from interlink.jobs import enqueue

        await enqueue(session, "probe.always_fails")
        await session.commit()

    body = (await client.get("/metrics")).text

    assert (
        'interlink_http_requests_total{method="GET",route="/v1/api-keys/{key_id}",status="200"}'
        in body
    )
    assert 'interlink_jobs{name="probe.always_fails",state="queued"} 1.0' in body
    assert "interlink_queue_ready_jobs 1.0" in body
    assert "interlink_queue_oldest_ready_age_seconds" in body


@pytest.fixture
async def unreachable_client() -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings("postgresql://postgres@127.0.0.1:1/nowhere", db_connect_timeout=2.0)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://interlink.test") as c:
            yield c


async def test_unreachable_database_gives_503_quickly_not_a_hang(
    unreachable_client: httpx.AsyncClient,
) -> None:
    # wait_for turns a hang into a failure instead of a stuck suite
    ready = await asyncio.wait_for(unreachable_client.get("/readyz"), 30)
    request = await asyncio.wait_for(
        unreachable_client.get(
            "/v1/api-keys", headers={"Authorization": "Bearer ik_test_" + "A" * 44}
        ),
        30,
    )

    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("unreachable")
    assert request.status_code == 503
    assert request.json()["error"]["code"] == "database_unavailable"
    assert request.headers["retry-after"] == "5"
