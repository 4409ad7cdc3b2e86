from __future__ import annotations

import asyncio
import base64
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from interlink.app import create_app
from interlink.config import Settings
from interlink.db.base import Base
from interlink.db.engine import Database
from interlink.db.migrations import upgrade
from tests.fixtures import databases

TEST_KEYRING = "test1:" + base64.b64encode(b"k" * 32).decode()
BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    reason = databases.postgres_unavailable_reason()
    config.stash[_PG_REASON] = reason
    if reason is not None and databases.ci():
        raise pytest.UsageError(f"CI=true but PostgreSQL is unreachable: {reason}")


_PG_REASON = pytest.StashKey[str | None]()


@pytest.fixture(scope="session")
def database_urls(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str | None]]:
    urls: dict[str, str | None] = {
        "sqlite": databases.sqlite_url(tmp_path_factory.mktemp("sqlite")),
        "postgresql": None,
    }
    if request.config.stash[_PG_REASON] is None:
        urls["postgresql"] = databases.create_pg_database()
    for url in urls.values():
        if url is not None:
            asyncio.run(upgrade(Settings(database_url=url).database_url))
    yield urls
    if urls["postgresql"] is not None:
        databases.drop_pg_database(urls["postgresql"])


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest, database_urls: dict[str, str | None]) -> str:
    if database_urls[request.param] is None:
        pytest.skip(f"PostgreSQL unreachable: {request.config.stash[_PG_REASON]}")
    return str(request.param)


def make_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "encryption_keys": TEST_KEYRING,
        "log_format": "console",
        "jobs_poll_interval": 0.05,
        "jobs_lease_seconds": 5,
        "rate_limit_default": "1000/second",
        "job_modules": ["tests.fixtures.probe_jobs"],
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def settings(backend: str, database_urls: dict[str, str | None]) -> Settings:
    url = database_urls[backend]
    assert url is not None
    return make_settings(url)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def db(app: FastAPI) -> Database:
    database: Database = app.state.db
    return database


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://interlink.test") as c:
        yield c


@pytest.fixture(autouse=True)
async def _clean_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "db" not in request.fixturenames:
        return
    database: Database = request.getfixturevalue("db")
    tables = [t.name for t in Base.metadata.sorted_tables]
    async with database.session() as session:
        if database.is_sqlite:
            for name in reversed(tables):
                await session.execute(text(f'DELETE FROM "{name}"'))
        else:
            joined = ", ".join(f'"{n}"' for n in tables)
            await session.execute(text(f"TRUNCATE {joined} CASCADE"))
        await session.commit()


@pytest.fixture
def unique() -> str:
    return secrets.token_hex(4)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def subprocess_env(repo_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(repo_root) + os.pathsep + env.get("PYTHONPATH", "")
    env["INTERLINK_ENCRYPTION_KEYS"] = TEST_KEYRING
    env["INTERLINK_LOG_FORMAT"] = "json"
    return env
