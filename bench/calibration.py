"""S0: the raw commit rate of the database in use, with the raw driver and no Interlink code."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import asyncpg


def sqlite_commits_per_second(path: Path, n: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS calibration (id INTEGER PRIMARY KEY, body TEXT)")
    started = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO calibration (body) VALUES (?)", (f"row-{i}",))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return n / elapsed


async def pg_commits_per_second(url: str, n: int) -> float:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS calibration (id serial PRIMARY KEY, body text)"
        )
        started = time.perf_counter()
        for i in range(n):
            await conn.execute("INSERT INTO calibration (body) VALUES ($1)", f"row-{i}")
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    return n / elapsed
