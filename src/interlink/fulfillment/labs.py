"""Opening a lab integration for one operation: its adapter (a ``LabProvider``), decrypted
credentials and a gateway context whose calls are audited to the integration's log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.db.engine import Database
from interlink.fulfillment.exceptions import NotALab
from interlink.integrations import catalog, credentials
from interlink.integrations.audit import BufferedAuditSink
from interlink.integrations.runtime import ProviderRuntime
from interlink.models import Integration
from interlink.providers.base import ConnectionSpec, GatewayContext
from interlink.providers.labs import LabProvider

USABLE = ("active", "error")


@dataclass
class Lab:
    row: Integration
    spec: ConnectionSpec
    provider: LabProvider
    ctx: GatewayContext
    sink: BufferedAuditSink

    async def flush_audit(self, db: Database) -> None:
        await self.sink.write(db)


def require_lab(
    row: Integration, spec: ConnectionSpec, param: str = "integration_id"
) -> LabProvider:
    gateway: Any = spec.gateway()
    if spec.kind != "lab" or not isinstance(gateway, LabProvider):
        raise NotALab(
            f"Integration {row.id!r} ({spec.code}) is not a print lab; use a whcc, mpix, "
            "generic_lab or sandbox_lab integration.",
            param=param,
        )
    return gateway


async def open_lab(runtime: ProviderRuntime, session: AsyncSession, row: Integration) -> Lab:
    spec = await catalog.require(session, row.connection_code)
    provider = require_lab(row, spec)
    creds = (
        credentials.unseal(runtime.keyring, row.tenant_id, row.id, row.credentials_sealed)
        if row.credentials_sealed
        else {}
    )
    sink = BufferedAuditSink(row.tenant_id, row.id, spec.code)
    ctx = runtime.context(
        spec,
        tenant_id=row.tenant_id,
        integration_id=row.id,
        environment=row.environment,
        credentials=creds,
        settings=row.settings,
        sink=sink,
    )
    return Lab(row, spec, provider, ctx, sink)
