"""An Interlink app whose provider calls may reach 127.0.0.0/8 (the fakes and the image host,
allowed by configuration as an operator would), its worker, and helpers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from interlink.app import create_app
from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs.worker import Worker
from interlink.models import Event, FulfillmentOrder, Job
from interlink.providers import whcc
from tests.fixtures.factories import TenantKey, tenant_with_key
from tests.fixtures.servers import Images, LocalServer

SCOPES = ["fulfillment:write", "integrations:write", "inbound:read"]
SHIP_TO = {
    "name": "Ada Lovelace",
    "line1": "1 Main St",
    "city": "Austin",
    "state": "TX",
    "postal_code": "78701",
    "country": "US",
}


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings
    db: Database
    images: Images
    image_base: str

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[Worker]:
        running = Worker(self.db, self.settings)
        await running.start()
        try:
            yield running
        finally:
            await running.stop()

    async def tenant(self, scopes: list[str] | None = None) -> TenantKey:
        return await tenant_with_key(self.db, scopes or SCOPES)

    def image(self, name: str, content: bytes) -> tuple[str, str]:
        md5 = self.images.add(name, content)
        return f"{self.image_base}/img/{name}", md5

    async def integration(
        self,
        key: TenantKey,
        code: str,
        credentials: dict[str, Any] | None,
        settings: dict[str, Any] | None = None,
    ) -> str:
        body: dict[str, Any] = {"connection_code": code, "name": code, "settings": settings or {}}
        if credentials is not None:
            body["credentials"] = credentials
        response = await self.client.post("/v1/integrations", json=body, headers=key.headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def make_default(self, key: TenantKey, integration_id: str) -> None:
        response = await self.client.post(
            f"/v1/entities/tenant/{key.tenant_id}/integrations",
            json={"integration_id": integration_id, "purpose": "fulfillment", "is_default": True},
            headers=key.headers,
        )
        assert response.status_code == 201, response.text

    async def order(self, key: TenantKey, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post("/v1/fulfillment/orders", json=body, headers=key.headers)

    async def get(self, key: TenantKey, fulfillment_id: str) -> dict[str, Any]:
        response = await self.client.get(
            f"/v1/fulfillment/orders/{fulfillment_id}", headers=key.headers
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def wait_status(
        self, key: TenantKey, fulfillment_id: str, wanted: str, within: float = 15.0
    ) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            order = await self.get(key, fulfillment_id)
            return order if order["status"] == wanted else None

        found = await eventually(reached, within)
        assert found is not None, f"{fulfillment_id} never reached {wanted}: " + str(
            await self.get(key, fulfillment_id)
        )
        return found

    async def event_types(self, tenant_id: str) -> list[str]:
        async with self.db.read_session() as session:
            rows = await session.scalars(
                select(Event.type)
                .where(Event.tenant_id == tenant_id, Event.type.like("fulfillment.%"))
                .order_by(Event.id)
            )
            return list(rows.all())

    async def count_orders(self, tenant_id: str) -> int:
        async with self.db.read_session() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(FulfillmentOrder)
                .where(FulfillmentOrder.tenant_id == tenant_id)
            )
            return int(count or 0)

    async def count_jobs(self, name: str) -> int:
        async with self.db.read_session() as session:
            count = await session.scalar(
                select(func.count()).select_from(Job).where(Job.name == name)
            )
            return int(count or 0)


async def eventually(
    probe: Callable[[], Awaitable[Any]], within: float = 15.0, interval: float = 0.05
) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(interval)


@pytest.fixture
async def env(settings: Settings, db: Database) -> AsyncIterator[Env]:
    local = settings.model_copy(
        update={"provider_allowed_networks": ["127.0.0.0/8"], "jobs_poll_interval": 0.02}
    )
    application = create_app(local)
    whcc.forget_tokens()
    images = Images()
    async with (
        application.router.lifespan_context(application),
        LocalServer(images.app) as image_server,
    ):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://interlink.test") as c:
            yield Env(application, c, local, application.state.db, images, image_server.base)
