"""A SQLite transaction run whole on aiosqlite's thread, in one hand-off.

aiosqlite runs every call (BEGIN, each execute, each fetch, COMMIT) on its connection's thread and
wakes the event loop for each, with SQLAlchemy's execution machinery around each: a dozen thread
hand-offs for a transaction of a few statements. A writer that knows its statements in advance
(the inbound group commit) gives the whole transaction to the thread as one function instead.

aiosqlite has no public way to do this; two private members of its ``Connection`` are used:
``_execute(fn, *args)`` (run ``fn`` on the connection's thread, await its result) and ``_conn``
(the sqlite3 connection). tests/db/test_sqlite_thread.py fails if either changes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ClauseElement

T = TypeVar("T")


class SQLiteStatement:
    """A Core statement compiled once for sqlite3 (positional parameters), with the conversions
    its parameters go through (datetimes, JSON, booleans) as SQLAlchemy would apply them.

    ``keys``: the parameters every execution gives (an INSERT's columns). A column left out
    whose default SQLAlchemy would compute is refused here, since nothing would compute it."""

    def __init__(self, stmt: ClauseElement, dialect: Dialect, keys: Sequence[str] = ()) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys) or None)
        order = compiled.positiontup  # type: ignore[attr-defined]
        if order is None:
            raise ValueError(f"dialect {dialect.name} does not use positional parameters")
        if keys and (missing := set(order) - set(keys)):
            raise ValueError(f"parameters with no value given: {sorted(missing)}")
        self.sql = str(compiled)
        self._binds: list[tuple[str, Callable[[Any], Any] | None]] = [
            (
                name,
                compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect),  # type: ignore[attr-defined]
            )
            for name in order
        ]

    def params(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(
            values[name] if process is None else process(values[name])
            for name, process in self._binds
        )


async def run_transaction(engine: AsyncEngine, work: Callable[[sqlite3.Connection], T]) -> T:
    """``work(connection)`` on the thread of a connection from ``engine``'s pool, between BEGIN
    IMMEDIATE and COMMIT (ROLLBACK when it raises), awaited once. The event loop runs on
    meanwhile; ``work`` must not touch it. sqlite3's errors come out as SQLAlchemy's
    (``IntegrityError``, ``OperationalError`` ...), as they would from a session."""
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        try:
            result: T = await driver._execute(_in_transaction, driver, work)  # type: ignore[union-attr]
        except sqlite3.Error as exc:
            raise DBAPIError.instance(None, None, exc, sqlite3.Error) from exc
        return result


def _in_transaction(driver: Any, work: Callable[[sqlite3.Connection], T]) -> T:
    conn: sqlite3.Connection = driver._conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result
