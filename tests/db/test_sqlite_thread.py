"""A SQLite transaction handed whole to aiosqlite's thread: it commits or rolls back as one, its
errors are SQLAlchemy's, and its parameters are stored as a session would store them."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from interlink.config import Settings
from interlink.db.engine import create_engine
from interlink.db.sqlite_thread import SQLiteStatement, run_transaction
from interlink.db.types import JSONType, UTCDateTime

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", String, primary_key=True),
    Column("seen_at", UTCDateTime(), nullable=False),
    Column("detail", JSONType, nullable=False),
    Column("count", Integer, nullable=False, default=0),
)


@pytest.fixture
async def engine(tmp_path: Path) -> Any:
    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db"))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def ids(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(things.c.id).order_by(things.c.id))).scalars())


def thing(thing_id: str) -> dict[str, Any]:
    return {
        "id": thing_id,
        "seen_at": datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC),
        "detail": {"a": [1, "b"]},
        "count": 3,
    }


async def test_aiosqlite_still_runs_a_function_on_its_connection_thread(tmp_path: Path) -> None:
    # run_transaction relies on these two private members of aiosqlite's Connection; this test
    # fails when an aiosqlite release renames or changes them
    async with aiosqlite.connect(tmp_path / "a.db") as conn:

        def on_thread(a: int, b: int) -> tuple[int, int, sqlite3.Connection]:
            return threading.get_ident(), a + b, conn._conn

        thread, total, raw = await conn._execute(on_thread, 1, 2)

    assert thread != threading.get_ident()
    assert total == 3
    assert isinstance(raw, sqlite3.Connection)


async def test_the_work_of_a_transaction_is_committed_when_it_returns(
    engine: AsyncEngine,
) -> None:
    statement = SQLiteStatement(insert(things), engine.dialect, tuple(thing("x")))

    def work(conn: sqlite3.Connection) -> str:
        conn.execute(statement.sql, statement.params(thing("a")))
        conn.execute(statement.sql, statement.params(thing("b")))
        return "done"

    assert await run_transaction(engine, work) == "done"
    assert await ids(engine) == ["a", "b"]


async def test_a_transaction_whose_work_raises_leaves_nothing_behind(engine: AsyncEngine) -> None:
    statement = SQLiteStatement(insert(things), engine.dialect, tuple(thing("x")))

    def work(conn: sqlite3.Connection) -> None:
        conn.execute(statement.sql, statement.params(thing("a")))
        raise LookupError("the second half failed")

    with pytest.raises(LookupError, match="second half"):
        await run_transaction(engine, work)
    assert await ids(engine) == []
    # the connection went back to the pool usable, its transaction closed
    await run_transaction(
        engine, lambda conn: conn.execute(statement.sql, statement.params(thing("c")))
    )
    assert await ids(engine) == ["c"]


async def test_a_constraint_the_database_enforces_fails_as_sqlalchemy_integrity_error(
    engine: AsyncEngine,
) -> None:
    statement = SQLiteStatement(insert(things), engine.dialect, tuple(thing("x")))

    def work(conn: sqlite3.Connection) -> None:
        conn.execute(statement.sql, statement.params(thing("a")))
        conn.execute(statement.sql, statement.params(thing("a")))

    with pytest.raises(IntegrityError):
        await run_transaction(engine, work)
    assert await ids(engine) == []


async def test_a_row_written_on_the_thread_reads_back_as_a_session_would_have_stored_it(
    engine: AsyncEngine,
) -> None:
    statement = SQLiteStatement(insert(things), engine.dialect, tuple(thing("x")))
    await run_transaction(
        engine, lambda conn: conn.execute(statement.sql, statement.params(thing("raw")))
    )
    async with engine.begin() as conn:
        await conn.execute(insert(things), thing("orm"))
        stored = {
            row.id: row for row in await conn.execute(text("SELECT * FROM things"))
        }  # as the database holds them
        typed = {row.id: row for row in await conn.execute(select(things))}

    assert tuple(stored["raw"])[1:] == tuple(stored["orm"])[1:]
    assert typed["raw"].seen_at == thing("x")["seen_at"]
    assert typed["raw"].detail == {"a": [1, "b"]}


async def test_a_statement_missing_a_column_whose_default_sqlalchemy_computes_is_refused(
    engine: AsyncEngine,
) -> None:
    with pytest.raises(ValueError, match="count"):
        SQLiteStatement(insert(things), engine.dialect, ("id", "seen_at", "detail"))
