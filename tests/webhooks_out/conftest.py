from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from interlink.app import create_app
from interlink.config import Settings
from interlink.db.engine import Database
from interlink.jobs.worker import Worker
from interlink.kit import clock
from interlink.webhooks_out.client import close_shared_clients
from tests.conftest import make_settings

ALLOW_LOOPBACK = ["127.0.0.0/8"]


@dataclass
class Receiver:
    port: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def log(self, prefix: str = "") -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as c:
            response = await c.get(self.url("/_log"))
        return [r for r in response.json() if r["path"].startswith(prefix)]


@pytest.fixture(scope="session")
def receiver(repo_root: Path, subprocess_env: dict[str, str]) -> Iterator[Receiver]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.webhook_receiver"],
        env=subprocess_env,
        cwd=repo_root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), line
        yield Receiver(int(line.split()[1]))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def wh_settings(settings: Settings) -> Settings:
    # runs end as soon as they are drained: tests drive them one at a time
    return make_settings(
        settings.database_url,
        webhook_allowed_networks=ALLOW_LOOPBACK,
        webhook_dispatch_linger_seconds=0,
    )


@pytest.fixture(scope="session")
async def wh_app(wh_settings: Settings, db: Database) -> AsyncIterator[FastAPI]:
    application = create_app(wh_settings)
    async with application.router.lifespan_context(application):
        yield application
    await close_shared_clients()


@pytest.fixture
async def wh_client(wh_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=wh_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://interlink.test") as c:
        yield c


class FakeClock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta

    def set(self, at: datetime) -> None:
        self.at = at


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    fake = FakeClock()
    clock.set_clock(fake)
    try:
        yield fake
    finally:
        clock.set_clock(None)


async def run_due_jobs(db: Database, settings: Settings, rounds: int = 50) -> int:
    """Run every job that is due by the (possibly injected) clock, until none is left."""
    worker = Worker(db, settings)
    ran = 0
    for _ in range(rounds):
        claimed = await worker._claim(64)
        if not claimed:
            return ran
        ran += len(claimed)
        await asyncio.gather(*(worker._execute(job) for job in claimed))
    return ran
