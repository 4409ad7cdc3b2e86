"""Alembic, driven from code: ``interlink migrate`` and ``serve`` call ``upgrade``.

Alembic (with Mako, about 8 MiB of the API process) is imported only to migrate. The API
process only compares the database's revision with the newest one on ``/readyz``, and
``head_revision`` reads that from the migration files themselves."""

from __future__ import annotations

import ast
import asyncio
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _assignments(path: Path) -> dict[str, Any]:
    """The module-level ``revision`` and ``down_revision`` of a migration file (literals)."""
    found: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            found[target.id] = ast.literal_eval(value)
    return found


@functools.cache
def head_revision() -> str | None:
    """The newest revision: the one no migration names as its ``down_revision`` (what Alembic's
    ``ScriptDirectory.get_current_head`` answers; a test keeps the two equal)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = _assignments(path)
        if "revision" not in found:
            continue
        revisions.add(found["revision"])
        down = found.get("down_revision")
        parents.update([down] if isinstance(down, str) else (down or ()))
    heads = revisions - parents
    if len(heads) > 1:
        raise RuntimeError(f"the migrations have more than one head: {sorted(heads)}")
    return next(iter(heads), None)


async def current_revision(session: AsyncSession) -> str | None:
    try:
        version: str | None = await session.scalar(text("SELECT version_num FROM alembic_version"))
        return version
    except DBAPIError:
        await session.rollback()
        return None


def _upgrade(database_url: str, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


async def upgrade(database_url: str, revision: str = "head") -> None:
    if database_url.startswith("sqlite"):
        from interlink.db.engine import sqlite_path

        path = sqlite_path(database_url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    # env.py runs its own event loop for the async engine, so it gets a thread of its own
    await asyncio.to_thread(_upgrade, database_url, revision)
