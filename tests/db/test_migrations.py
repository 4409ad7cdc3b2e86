from __future__ import annotations

import subprocess
import sys

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


def test_the_head_read_from_the_migration_files_is_alembic_s() -> None:
    from alembic.script import ScriptDirectory

    from interlink.db.migrations import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert head_revision() == script.get_current_head()


def test_the_api_loads_neither_alembic_nor_redis(subprocess_env: dict[str, str]) -> None:
    """The API process checks the head on /readyz, and Alembic is loaded only to migrate;
    redis-py only where Redis is configured (about 11 MiB of the process between them)."""
    code = (
        "import sys\n"
        "from interlink.db.migrations import head_revision\n"
        "import interlink.app\n"
        "assert head_revision()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'redis')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout
