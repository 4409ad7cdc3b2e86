"""Alembic, driven from code: ``interlink migrate`` and ``serve`` call ``upgrade``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()


async def current_revision(session: AsyncSession) -> str | None:
    try:
        version: str | None = await session.scalar(text("SELECT version_num FROM alembic_version"))
        return version
    except DBAPIError:
        await session.rollback()
        return None


def _upgrade(database_url: str, revision: str) -> None:
    command.upgrade(alembic_config(database_url), revision)


async def upgrade(database_url: str, revision: str = "head") -> None:
    if database_url.startswith("sqlite"):
        from interlink.db.engine import sqlite_path

        path = sqlite_path(database_url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    # env.py runs its own event loop for the async engine, so it gets a thread of its own
    await asyncio.to_thread(_upgrade, database_url, revision)
