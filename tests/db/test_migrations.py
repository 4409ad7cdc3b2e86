from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from interlink.db.base import Base
from interlink.db.engine import Database
from interlink.db.migrations import current_revision, head_revision


async def test_migrations_create_exactly_the_schema_the_models_declare(db: Database) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with db.engine.connect() as connection:
        differences = await connection.run_sync(diff)

    assert differences == []


async def test_database_is_at_the_latest_migration(db: Database) -> None:
    async with db.read_session() as session:
        assert await current_revision(session) == head_revision()
