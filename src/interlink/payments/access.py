"""Which integration pays, and a ready-to-call adapter for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.integrations import credentials, links
from interlink.integrations import repository as integrations
from interlink.integrations import service as integration_service
from interlink.integrations.audit import BufferedAuditSink
from interlink.integrations.exceptions import IntegrationNotFound, IntegrationNotUsable
from interlink.integrations.runtime import ProviderRuntime
from interlink.models import Integration
from interlink.payments.exceptions import NotAPaymentIntegration
from interlink.providers import registry
from interlink.providers.base import GatewayContext
from interlink.providers.payment_registry import PAYMENT_CONNECTIONS, payment_provider
from interlink.providers.payments import PaymentProvider

PURPOSE = "payments"
USABLE = ("active", "error")


async def choose(
    session: AsyncSession,
    principal: Principal,
    integration_id: str | None,
    entity: tuple[str, str] | None,
    param: str = "integration_id",
) -> Integration:
    """The named integration, else the entity's or tenant's default for payments."""
    if integration_id is None:
        row = await links.resolve(session, principal.tenant_id, PURPOSE, entity, principal.mode)
    else:
        found = await integrations.get(session, principal.tenant_id, integration_id)
        if found is None:
            raise IntegrationNotFound(f"No integration {integration_id!r}.", param=param)
        row = found
    integration_service.check_environment(principal, row.environment, param=param)
    if row.connection_code not in PAYMENT_CONNECTIONS:
        raise NotAPaymentIntegration(
            f"Integration {row.id!r} ({row.connection_code}) cannot take payments; payment "
            f"connections are {', '.join(PAYMENT_CONNECTIONS)}.",
            param=param,
        )
    if row.status not in USABLE:
        raise IntegrationNotUsable(
            f"Integration {row.id!r} is {row.status}; fix it with PUT /v1/integrations/{row.id}.",
            param=param,
        )
    return row


@dataclass
class Bound:
    """An integration's adapter and the context for one call; credentials live only here."""

    provider: PaymentProvider
    ctx: GatewayContext
    sink: BufferedAuditSink

    async def flush_audit(self, runtime: ProviderRuntime) -> None:
        await self.sink.write(runtime.db)


def bind(runtime: ProviderRuntime, row: Integration) -> Bound:
    provider = payment_provider(row.connection_code)
    spec = registry.get(row.connection_code)
    if provider is None or spec is None:
        raise NotAPaymentIntegration(
            f"Integration {row.id!r} ({row.connection_code}) cannot take payments.",
            param="integration_id",
        )
    creds: dict[str, Any] = (
        credentials.unseal(runtime.keyring, row.tenant_id, row.id, row.credentials_sealed)
        if row.credentials_sealed
        else {}
    )
    sink = BufferedAuditSink(row.tenant_id, row.id, row.connection_code)
    ctx = runtime.context(
        spec,
        tenant_id=row.tenant_id,
        integration_id=row.id,
        environment=row.environment,
        credentials=creds,
        settings=row.settings,
        sink=sink,
    )
    return Bound(provider, ctx, sink)
