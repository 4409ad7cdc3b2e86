"""Every query of the integrations domain; each is tenant-scoped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.models import EntityIntegrationLink, Integration, IntegrationLog


async def get(session: AsyncSession, tenant_id: str, integration_id: str) -> Integration | None:
    return await session.scalar(
        select(Integration).where(
            Integration.tenant_id == tenant_id, Integration.id == integration_id
        )
    )


def list_stmt(
    tenant_id: str,
    *,
    connection_code: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    environment: str | None = None,
) -> Select[Any]:
    stmt = select(Integration).where(Integration.tenant_id == tenant_id)
    if connection_code is not None:
        stmt = stmt.where(Integration.connection_code == connection_code)
    if kind is not None:
        stmt = stmt.where(Integration.kind == kind)
    if status is not None:
        stmt = stmt.where(Integration.status == status)
    if environment is not None:
        stmt = stmt.where(Integration.environment == environment)
    return stmt


async def links_of_entity(
    session: AsyncSession, tenant_id: str, entity_type: str, entity_id: str
) -> Sequence[EntityIntegrationLink]:
    stmt = (
        select(EntityIntegrationLink)
        .where(
            EntityIntegrationLink.tenant_id == tenant_id,
            EntityIntegrationLink.entity_type == entity_type,
            EntityIntegrationLink.entity_id == entity_id,
        )
        .order_by(EntityIntegrationLink.id)
    )
    return (await session.scalars(stmt)).all()


async def default_link(
    session: AsyncSession, tenant_id: str, entity_type: str, entity_id: str, purpose: str
) -> EntityIntegrationLink | None:
    return await session.scalar(
        select(EntityIntegrationLink).where(
            EntityIntegrationLink.tenant_id == tenant_id,
            EntityIntegrationLink.entity_type == entity_type,
            EntityIntegrationLink.entity_id == entity_id,
            EntityIntegrationLink.purpose == purpose,
            EntityIntegrationLink.is_default.is_(True),
        )
    )


def logs_stmt(
    tenant_id: str,
    *,
    integration_id: str | None,
    outcome: str | None,
    status_code: int | None,
    since: datetime | None,
    correlation_id: str | None,
) -> Select[Any]:
    stmt = select(IntegrationLog).where(IntegrationLog.tenant_id == tenant_id)
    if integration_id is not None:
        stmt = stmt.where(IntegrationLog.integration_id == integration_id)
    if outcome is not None:
        stmt = stmt.where(IntegrationLog.outcome == outcome)
    if status_code is not None:
        stmt = stmt.where(IntegrationLog.status_code == status_code)
    if since is not None:
        stmt = stmt.where(IntegrationLog.created_at >= since)
    if correlation_id is not None:
        stmt = stmt.where(IntegrationLog.correlation_id == correlation_id)
    return stmt


async def call_counts_since(
    session: AsyncSession, tenant_id: str, since: datetime, integration_id: str | None = None
) -> dict[str, tuple[int, int]]:
    """integration id → (calls, failed calls) since ``since``."""
    failed = case((IntegrationLog.outcome != "ok", 1), else_=0)
    stmt = (
        select(IntegrationLog.integration_id, func.count(), func.sum(failed))
        .where(and_(IntegrationLog.tenant_id == tenant_id, IntegrationLog.created_at >= since))
        .group_by(IntegrationLog.integration_id)
    )
    if integration_id is not None:
        stmt = stmt.where(IntegrationLog.integration_id == integration_id)
    return {
        str(row[0]): (int(row[1]), int(row[2] or 0))
        for row in (await session.execute(stmt)).all()
        if row[0] is not None
    }
