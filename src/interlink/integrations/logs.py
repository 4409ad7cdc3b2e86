from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.db.pagination import PageParams, paginate
from interlink.integrations import repository
from interlink.integrations.schemas import IntegrationLogRead
from interlink.models import IntegrationLog


def to_read(row: IntegrationLog) -> IntegrationLogRead:
    return IntegrationLogRead(
        id=row.id,
        integration=row.integration_id,
        connection_code=row.connection_code,
        operation=row.operation,
        method=row.method,
        url=row.url,
        status_code=row.status_code,
        outcome=row.outcome,
        error=row.error,
        latency_ms=row.latency_ms,
        attempt=row.attempt,
        correlation_id=row.correlation_id,
        request_excerpt=row.request_excerpt,
        response_excerpt=row.response_excerpt,
        created=row.created_at,
    )


async def page(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    integration_id: str | None,
    outcome: str | None,
    status_code: int | None,
    since: datetime | None,
    correlation_id: str | None,
) -> tuple[Sequence[IntegrationLogRead], bool]:
    stmt = repository.logs_stmt(
        principal.tenant_id,
        integration_id=integration_id,
        outcome=outcome,
        status_code=status_code,
        since=since,
        correlation_id=correlation_id,
    )
    rows, has_more = await paginate(session, stmt, IntegrationLog.id, params)
    return [to_read(r) for r in rows], has_more
