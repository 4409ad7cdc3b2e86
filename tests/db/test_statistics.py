from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from interlink.config import Settings
from interlink.db import statistics
from interlink.db.engine import Database
from interlink.jobs.worker import Worker
from tests.conftest import make_settings


@pytest.fixture
async def probe(db: Database, unique: str) -> AsyncIterator[str]:
    """A table of its own, so that what other tests did to the schema's tables does not count."""
    if db.is_sqlite:
        pytest.skip("PostgreSQL's planner statistics")
    name = f"stats_probe_{unique}"
    async with db.engine.connect() as conn:
        await conn.execute(text(f"CREATE TABLE {name} (id integer PRIMARY KEY)"))
        await conn.commit()
    yield name
    async with db.engine.connect() as conn:
        await conn.execute(text(f"DROP TABLE {name}"))
        await conn.commit()


async def _insert(db: Database, table: str, first: int, count: int) -> None:
    async with db.engine.connect() as conn:
        await conn.execute(
            text(f"INSERT INTO {table} SELECT generate_series(CAST(:a AS int), CAST(:b AS int))"),
            {"a": first, "b": first + count - 1},
        )
        # the counts reach the shared statistics when this backend goes idle, not a second later
        await conn.execute(text("SELECT pg_stat_force_next_flush()"))
        await conn.commit()


async def _analyzed(db: Database, table: str) -> bool:
    async with db.engine.connect() as conn:
        value = await conn.scalar(
            text("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = :t"),
            {"t": table},
        )
    return bool(value)


async def test_a_table_changed_past_the_threshold_is_analyzed_once(
    db: Database, probe: str
) -> None:
    await _insert(db, probe, 1, 5000)
    assert not await _analyzed(db, probe)

    assert probe in await statistics.refresh(db)
    assert await _analyzed(db, probe)
    # its changes are counted from that analyze on: nothing left to do
    assert probe not in await statistics.refresh(db, gap_seconds=0)


async def test_a_table_changed_by_a_few_rows_keeps_its_statistics(db: Database, probe: str) -> None:
    await _insert(db, probe, 1, 50)
    assert probe not in await statistics.refresh(db)
    assert not await _analyzed(db, probe)


async def test_a_table_analyzed_moments_ago_waits_out_the_gap(db: Database, probe: str) -> None:
    await _insert(db, probe, 1, 5000)
    assert probe in await statistics.refresh(db)
    await _insert(db, probe, 5001, 5000)
    assert probe not in await statistics.refresh(db, gap_seconds=60)
    assert probe in await statistics.refresh(db, gap_seconds=0)


async def test_the_worker_tick_refreshes_stale_statistics(
    db: Database, settings: Settings, probe: str
) -> None:
    await _insert(db, probe, 1, 5000)
    await Worker(db, settings).tick()
    assert await _analyzed(db, probe)


async def test_sqlite_has_no_statistics_to_refresh(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite only")
    async with db.engine.connect() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS stats_probe_sqlite (id integer)"))
        await conn.execute(text("INSERT INTO stats_probe_sqlite VALUES (1), (2)"))
        await conn.commit()
    try:
        assert await statistics.refresh(db, minimum=0, fraction=0, gap_seconds=0) == []
    finally:
        async with db.engine.connect() as conn:
            await conn.execute(text("DROP TABLE stats_probe_sqlite"))
            await conn.commit()


async def test_a_table_the_role_may_not_analyze_is_not_retried_every_tick(
    db: Database, probe: str, unique: str
) -> None:
    """PostgreSQL only warns when the role does not own the table, and its statistics stay
    stale: the process waits out the gap before it tries again."""
    role = f"stats_role_{unique}"
    async with db.engine.connect() as conn:
        await conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        await conn.commit()
    other = Database(make_settings(db.engine.url.set(username=role).render_as_string(False)))
    try:
        await _insert(db, probe, 1, 5000)
        assert probe in await statistics.refresh(other)
        assert not await _analyzed(db, probe)  # not the owner: nothing happened
        assert probe not in await statistics.refresh(other)
        assert probe in await statistics.refresh(other, gap_seconds=0)
    finally:
        await other.dispose()
        async with db.engine.connect() as conn:
            await conn.execute(text(f"DROP ROLE {role}"))
            await conn.commit()
