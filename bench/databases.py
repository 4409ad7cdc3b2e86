"""Scratch databases for a bench run: a SQLite file, and a PostgreSQL database when reachable."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import asyncpg

PG_ADMIN_DSN = os.environ.get(
    "INTERLINK_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def pg_reachable() -> bool:
    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except Exception:
        return False
    await conn.close()
    return True


async def create_pg() -> str:
    name = f"interlink_bench_{os.getpid()}_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name


async def drop_pg(url: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


def sqlite_file() -> Path:
    return Path(tempfile.mkdtemp(prefix="interlink-bench-")) / "bench.db"
