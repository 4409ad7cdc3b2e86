"""SQLite has one writing connection per process: a task that asks for it twice is refused at once
rather than waiting for itself until the pool times out."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import text

from interlink.db.engine import Database, NestedWriteSession, sqlite_path


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_second_writing_session_in_the_same_task_is_refused_at_once(
    backend: str, db: Database
) -> None:
    async with db.session() as outer:
        await outer.execute(text("SELECT 1"))
        async with db.session() as inner:
            with pytest.raises(NestedWriteSession, match="already holds"):
                await inner.execute(text("SELECT 1"))
        await outer.commit()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_writing_sessions_of_different_tasks_take_turns(backend: str, db: Database) -> None:
    order: list[str] = []

    async def write(name: str) -> None:
        async with db.session() as session:
            await session.execute(text("SELECT 1"))
            order.append(f"{name} in")
            await asyncio.sleep(0.05)
            order.append(f"{name} out")
            await session.commit()

    await asyncio.gather(write("a"), write("b"))

    assert sorted(order) == ["a in", "a out", "b in", "b out"]
    assert order[0][0] == order[1][0]  # the second waits until the first has finished


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_task_may_write_again_once_its_session_is_closed(
    backend: str, db: Database
) -> None:
    for _ in range(3):
        async with db.session() as session:
            await session.execute(text("SELECT 1"))
            await session.commit()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_writer_waits_for_a_foreign_connections_write_lock_and_writes_once_it_is_free(
    backend: str, db: Database
) -> None:
    path = sqlite_path(str(db.engine.url))
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # as another process's writer would
    released = asyncio.Event()

    async def release_later() -> None:
        await asyncio.sleep(0.2)
        other.execute("COMMIT")
        released.set()

    releaser = asyncio.create_task(release_later())
    try:
        async with db.session() as session:
            await session.execute(text("CREATE TABLE IF NOT EXISTS lock_probe (n INTEGER)"))
            assert released.is_set()  # the transaction began only after the lock was released
            await session.execute(text("INSERT INTO lock_probe VALUES (1)"))
            await session.commit()
    finally:
        await releaser
        other.close()
    async with db.session() as session:
        assert await session.scalar(text("SELECT count(*) FROM lock_probe")) == 1
        await session.execute(text("DROP TABLE lock_probe"))
        await session.commit()
