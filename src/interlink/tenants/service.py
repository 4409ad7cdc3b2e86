from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth import service as keys_service
from interlink.db.engine import Database
from interlink.db.pagination import PageParams, paginate
from interlink.errors import NotFound
from interlink.kit.ids import new_id
from interlink.models import SystemState, Tenant
from interlink.tenants.schemas import TenantCreate, TenantRead

BOOTSTRAP_MARK = "bootstrap"


def to_read(row: Tenant) -> TenantRead:
    return TenantRead(id=row.id, name=row.name, metadata=row.metadata_, created=row.created_at)


async def create(session: AsyncSession, body: TenantCreate) -> Tenant:
    row = Tenant(id=new_id("ten"), name=body.name, metadata_=dict(body.metadata))
    session.add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, tenant_id: str) -> Tenant:
    row = await session.get(Tenant, tenant_id)
    if row is None:
        raise NotFound(f"No tenant {tenant_id!r}.", param="id", code="tenant_missing")
    return row


async def page(session: AsyncSession, params: PageParams) -> tuple[Sequence[Tenant], bool]:
    return await paginate(session, select(Tenant), Tenant.id, params)


async def bootstrap(db: Database) -> str | None:
    """On an empty database: a default tenant and an admin key, whose plaintext is returned.

    Exactly one process ever wins: the mark row's primary key decides among concurrent starts.
    Returns None when the database was bootstrapped before.
    """
    dialect = sqlite if db.is_sqlite else postgresql
    async with db.session() as session:
        claimed = await session.execute(
            dialect.insert(SystemState)
            .values(key=BOOTSTRAP_MARK, value="done")
            .on_conflict_do_nothing(index_elements=["key"])
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            await session.rollback()
            return None
        if await session.scalar(select(Tenant.id).limit(1)) is not None:
            await session.commit()
            return None
        tenant = await create(session, TenantCreate(name="Default"))
        key = await keys_service.issue(
            session,
            tenant_id=tenant.id,
            scopes=["admin", "platform"],
            mode="test",
            name="bootstrap admin",
        )
        await session.commit()
        return key.key
