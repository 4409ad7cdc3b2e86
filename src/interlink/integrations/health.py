"""Health bookkeeping shared by ``POST /test``, failed executions and the periodic check:
consecutive failures, status transitions and the events they publish."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.events.publish import publish
from interlink.integrations import repository
from interlink.integrations.schemas import IntegrationStatusRead, StatusOverview
from interlink.kit.clock import now
from interlink.models import Integration

if TYPE_CHECKING:
    from interlink.integrations.runtime import ProviderRuntime


def _summary(row: Integration) -> dict[str, Any]:
    return {
        "object": {
            "id": row.id,
            "connection_code": row.connection_code,
            "name": row.name,
            "environment": row.environment,
            "status": row.status,
            "consecutive_failures": row.consecutive_failures,
            "last_error": row.last_error,
        }
    }


async def record(
    runtime: ProviderRuntime, integration_id: str, *, ok: bool, message: str, auth_failed: bool
) -> str:
    """Apply one check's outcome in its own transaction; returns the integration's new status."""
    async with runtime.db.session() as session:
        status = await apply_outcome(
            session,
            integration_id,
            ok=ok,
            message=message,
            auth_failed=auth_failed,
            threshold=runtime.settings.integration_failures_before_error,
        )
        await session.commit()
    return status


async def apply_outcome(
    session: AsyncSession,
    integration_id: str,
    *,
    ok: bool,
    message: str,
    auth_failed: bool,
    threshold: int,
) -> str:
    row = await session.scalar(
        select(Integration).where(Integration.id == integration_id).with_for_update()
    )
    if row is None:  # deleted meanwhile
        return "deleted"
    at = now()
    row.last_checked_at = at
    if ok:
        row.last_success_at = at
        row.consecutive_failures = 0
        if row.status in ("error", "needs_reauth"):
            row.status = "active"
            await publish(session, row.tenant_id, "integration.recovered", _summary(row))
        return row.status
    row.consecutive_failures += 1
    row.last_error = message[:2000]
    row.last_error_at = at
    if auth_failed and row.status in ("active", "error"):
        row.status = "needs_reauth"
        await publish(session, row.tenant_id, "integration.auth_failed", _summary(row))
    elif row.status == "active" and row.consecutive_failures >= threshold:
        row.status = "error"
        await publish(session, row.tenant_id, "integration.degraded", _summary(row))
    return row.status


async def warn_expiring(session: AsyncSession, warning: timedelta) -> int:
    """Publish ``integration.credentials_expiring`` once per expiry date coming within
    ``warning``."""
    at = now()
    rows = (
        await session.scalars(
            select(Integration).where(
                Integration.credentials_expire_at.is_not(None),
                Integration.credentials_expire_at <= at + warning,
                Integration.expiry_warned_at.is_(None),
            )
        )
    ).all()
    for row in rows:
        row.expiry_warned_at = at
        data = _summary(row)
        assert row.credentials_expire_at is not None
        data["object"]["credentials_expire_at"] = row.credentials_expire_at.isoformat()
        await publish(session, row.tenant_id, "integration.credentials_expiring", data)
    return len(rows)


async def overview(
    session: AsyncSession, tenant_id: str, environment: str, warning: timedelta
) -> StatusOverview:
    at = now()
    rows = (
        await session.scalars(
            repository.list_stmt(tenant_id, environment=environment).order_by(Integration.id)
        )
    ).all()
    counts = await repository.call_counts_since(session, tenant_id, at - timedelta(hours=24))
    data = [status_of(row, counts.get(row.id, (0, 0)), warning) for row in rows]
    by_status: dict[str, int] = {}
    for row in rows:
        by_status[row.status] = by_status.get(row.status, 0) + 1
    return StatusOverview(data=data, counts=by_status)


def status_of(
    row: Integration, calls_and_errors: tuple[int, int], warning: timedelta
) -> IntegrationStatusRead:
    calls, errors = calls_and_errors
    expires = row.credentials_expire_at
    return IntegrationStatusRead(
        id=row.id,
        name=row.name,
        connection_code=row.connection_code,
        environment=row.environment,
        status=row.status,
        last_success_at=row.last_success_at,
        last_error_at=row.last_error_at,
        last_error=row.last_error,
        consecutive_failures=row.consecutive_failures,
        calls_24h=calls,
        errors_24h=errors,
        error_rate_24h=round(errors / calls, 4) if calls else 0.0,
        credentials_expire_at=expires,
        credentials_expiring=expires is not None and expires <= now() + warning,
    )


async def one(session: AsyncSession, row: Integration, warning: timedelta) -> IntegrationStatusRead:
    counts = await repository.call_counts_since(
        session, row.tenant_id, now() - timedelta(hours=24), integration_id=row.id
    )
    return status_of(row, counts.get(row.id, (0, 0)), warning)
