from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.db.pagination import PageParams, paginate
from interlink.models import ApiKey, ApiKeyUsage, Tenant


async def by_lookup_prefix(session: AsyncSession, lookup_prefix: str) -> ApiKey | None:
    return await session.scalar(select(ApiKey).where(ApiKey.lookup_prefix == lookup_prefix))


async def get(session: AsyncSession, tenant_id: str, key_id: str) -> ApiKey | None:
    return await session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == tenant_id)
    )


async def get_for_update(session: AsyncSession, tenant_id: str, key_id: str) -> ApiKey | None:
    return await session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == tenant_id).with_for_update()
    )


async def page(
    session: AsyncSession, tenant_id: str, params: PageParams
) -> tuple[Sequence[ApiKey], bool]:
    return await paginate(
        session, select(ApiKey).where(ApiKey.tenant_id == tenant_id), ApiKey.id, params
    )


async def usage(session: AsyncSession, key_id: str, since: date) -> Sequence[ApiKeyUsage]:
    rows = await session.scalars(
        select(ApiKeyUsage)
        .where(ApiKeyUsage.api_key_id == key_id, ApiKeyUsage.day >= since)
        .order_by(ApiKeyUsage.day)
    )
    return rows.all()


async def tenant_exists(session: AsyncSession, tenant_id: str) -> bool:
    return (await session.scalar(select(Tenant.id).where(Tenant.id == tenant_id))) is not None
