"""The database engine: SQLite (WAL, foreign keys, busy timeout, write-locking transactions) or
PostgreSQL through asyncpg."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry, PoolProxiedConnection

from interlink.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000


def sqlite_path(url: str) -> Path | None:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if not path or path.startswith(":memory:"):
        return None
    return Path(path.split("?", 1)[0])


def _install_sqlite_pragmas(engine: AsyncEngine, *, read_only: bool) -> None:
    # pysqlite's own transaction handling is turned off and every writing transaction begins with
    # BEGIN IMMEDIATE: SQLite then serialises writers up front instead of failing a deferred
    # reader that later wants to write. Row-level locking does not exist on SQLite; this
    # whole-database write lock is what makes concurrent transitions safe there.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class NestedWriteSession(RuntimeError):
    """A task asked for SQLite's one writing connection while it already holds it."""


class SQLiteWriterPool(AsyncAdaptedQueuePool):
    """The one writing connection of a SQLite database, which remembers the task holding it.

    A task that opens a second writing session while its first is still open would wait for
    itself until the pool timeout; this pool refuses at once, naming the mistake, instead of
    stalling every writer of the process for half a minute."""

    holder: asyncio.Task[Any] | None = None

    def _do_get(self) -> Any:
        task = _current_task()
        if task is not None and task is self.holder:
            raise NestedWriteSession(
                "this task already holds SQLite's writing connection: finish (commit or close) "
                "its open session before opening another, or pass that session along"
            )
        return super()._do_get()


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop: a synchronous caller
        return None


def _track_writer(engine: AsyncEngine) -> None:
    pool = engine.pool
    assert isinstance(pool, SQLiteWriterPool)

    @event.listens_for(pool, "checkout")
    def _on_checkout(
        _dbapi: Any, _record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        pool.holder = _current_task()

    @event.listens_for(pool, "checkin")
    def _on_checkin(_dbapi: Any, _record: ConnectionPoolEntry) -> None:
        pool.holder = None


def create_engine(settings: Settings, *, read_only: bool = False) -> AsyncEngine:
    url = settings.database_url
    if settings.is_sqlite:
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # Writers in this process queue for the one writing connection (an asyncio-friendly pool
        # wait) instead of all taking turns in SQLite's busy handler, which sleeps for
        # milliseconds between tries; other processes still wait on busy_timeout. Readers get
        # their own pool: WAL lets them read beside the writer.
        engine = create_async_engine(
            url,
            echo=settings.db_echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=settings.db_pool_size if read_only else 1,
            max_overflow=0,
            pool_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            **({} if read_only else {"poolclass": SQLiteWriterPool}),
        )
        _install_sqlite_pragmas(engine, read_only=read_only)
        if not read_only:
            _track_writer(engine)
        return engine
    return create_async_engine(
        url,
        echo=settings.db_echo,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=settings.db_connect_timeout,
        pool_recycle=1800,
        connect_args={
            "timeout": settings.db_connect_timeout,
            "command_timeout": 60,
            "server_settings": {"application_name": "interlink"},
        },
    )


class Database:
    """Owns the engine and hands out sessions; one per process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_engine = (
            create_engine(settings, read_only=True) if self.is_sqlite else self.engine
        )
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.settings.is_sqlite

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    def read_session(self) -> AsyncSession:
        """A session for lookups that never write (SQLite then takes no write lock)."""
        return self.read_sessionmaker()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
