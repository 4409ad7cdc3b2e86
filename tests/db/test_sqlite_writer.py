"""SQLite has one writing connection per process: a task that asks for it twice is refused at once
rather than waiting for itself until the pool times out."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from interlink.db.engine import Database, NestedWriteSession


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
