"""Running a capability or a connection test against an integration.

The integration is read in a read-only session, the provider is called with no transaction open,
and the outcome (audit records, health fields, events) is written afterwards in its own short
transaction so that it is kept even when the request answers with an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from interlink.auth.principal import Principal
from interlink.errors import AppError
from interlink.integrations import catalog, credentials, health, service
from interlink.integrations.audit import BufferedAuditSink
from interlink.integrations.exceptions import (
    CapabilityNotAvailable,
    IntegrationNotUsable,
    InvalidParameters,
    ProviderAuthError,
    ProviderConflictError,
    ProviderDeclinedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from interlink.integrations.runtime import ProviderRuntime
from interlink.integrations.schemas import (
    CapabilityRead,
    ExecuteRequest,
    ExecuteResult,
    TestOutcome,
)
from interlink.kit.clock import now
from interlink.kit.crypto import DecryptionError
from interlink.models import Integration
from interlink.providers.base import ConnectionSpec, GatewayContext, TestResult
from interlink.providers.errors import (
    CircuitOpen,
    NotAvailableYet,
    ProviderAuthFailed,
    ProviderConflict,
    ProviderDeclined,
    ProviderFailure,
    ProviderRejectedRequest,
    ProviderUnavailable,
)

log = structlog.get_logger(__name__)
USABLE = ("active", "error")


def to_app_error(exc: ProviderFailure) -> AppError:
    headers = {"Retry-After": str(max(1, round(exc.retry_after)))} if exc.retry_after else None
    if isinstance(exc, ProviderDeclined):
        return ProviderDeclinedError(exc.message, param=exc.param)
    if isinstance(exc, ProviderConflict):
        return ProviderConflictError(exc.message, param=exc.param)
    if isinstance(exc, ProviderRejectedRequest):
        return ProviderRejectedError(exc.message, param=exc.param)
    if isinstance(exc, ProviderAuthFailed):
        return ProviderAuthError(
            f"{exc.message} Update the integration's credentials (PUT /v1/integrations/{{id}}).",
            param="credentials",
        )
    if isinstance(exc, NotAvailableYet):
        return CapabilityNotAvailable(exc.message)
    if isinstance(exc, CircuitOpen):
        return ProviderUnavailableError(exc.message, code="circuit_open", headers=headers)
    if isinstance(exc, ProviderUnavailable):
        return ProviderUnavailableError(
            exc.message + " Retry later; the outcome of a call that changes state is unknown "
            "until the provider is checked.",
            status=502,
            headers=headers,
        )
    return ProviderUnavailableError(exc.message, status=502, headers=headers)


@dataclass
class Loaded:
    row: Integration
    spec: ConnectionSpec
    credentials: dict[str, Any]


async def load(runtime: ProviderRuntime, principal: Principal, integration_id: str) -> Loaded:
    async with runtime.db.read_session() as session:
        row = await service.get_row(session, principal, integration_id)
        spec = await catalog.require(session, row.connection_code)
    return Loaded(row, spec, _credentials(runtime, row))


def load_row(runtime: ProviderRuntime, row: Integration, spec: ConnectionSpec) -> Loaded:
    return Loaded(row, spec, _credentials(runtime, row))


def _credentials(runtime: ProviderRuntime, row: Integration) -> dict[str, Any]:
    if row.credentials_sealed is None:
        return {}
    try:
        return credentials.unseal(runtime.keyring, row.tenant_id, row.id, row.credentials_sealed)
    except DecryptionError:
        log.error("credentials_unreadable", integration=row.id)
        raise IntegrationNotUsable(
            f"The credentials of integration {row.id!r} cannot be opened with the configured "
            "encryption keys (was a key removed too early?). Give them again with "
            "PUT /v1/integrations/{id}.",
            param="credentials",
        ) from None


def _context(runtime: ProviderRuntime, loaded: Loaded, sink: BufferedAuditSink) -> GatewayContext:
    row = loaded.row
    return runtime.context(
        loaded.spec,
        tenant_id=row.tenant_id,
        integration_id=row.id,
        environment=row.environment,
        credentials=loaded.credentials,
        settings=row.settings,
        sink=sink,
    )


async def list_capabilities(
    runtime: ProviderRuntime, principal: Principal, integration_id: str
) -> list[CapabilityRead]:
    loaded = await load(runtime, principal, integration_id)
    return await catalog.list_capabilities_of(loaded.spec)


def _require_usable(row: Integration) -> None:
    if row.status not in USABLE:
        fix = {
            "pending_configuration": "add credentials with PUT /v1/integrations/{id}",
            "needs_reauth": "give new credentials with PUT /v1/integrations/{id}",
            "inactive": 'activate it with PUT /v1/integrations/{id} {"status": "active"}',
        }.get(row.status, "fix its configuration")
        raise IntegrationNotUsable(f"Integration {row.id!r} is {row.status}: {fix}.", param="id")


async def execute(
    runtime: ProviderRuntime, principal: Principal, integration_id: str, body: ExecuteRequest
) -> ExecuteResult:
    loaded = await load(runtime, principal, integration_id)
    capability = loaded.spec.capability(body.capability_code)
    if capability is None:
        raise catalog.no_capability(loaded.spec, body.capability_code)
    credentials.validate(
        body.parameters, capability.parameters_schema, root="parameters", error=InvalidParameters
    )
    _require_usable(loaded.row)
    sink = BufferedAuditSink(loaded.row.tenant_id, loaded.row.id, loaded.spec.code)
    gateway = loaded.spec.gateway()
    try:
        result = await gateway.execute(
            _context(runtime, loaded, sink), capability.code, body.parameters
        )
    except ProviderFailure as exc:
        await sink.write(runtime.db)
        if isinstance(exc, ProviderAuthFailed | ProviderUnavailable):
            await health.record(
                runtime,
                loaded.row.id,
                ok=False,
                message=exc.message,
                auth_failed=isinstance(exc, ProviderAuthFailed),
            )
        raise to_app_error(exc) from None
    await sink.write(runtime.db)
    if loaded.row.status == "error" or loaded.row.consecutive_failures:
        await health.record(runtime, loaded.row.id, ok=True, message="", auth_failed=False)
    return ExecuteResult(integration=loaded.row.id, capability_code=capability.code, result=result)


async def run_test(runtime: ProviderRuntime, loaded: Loaded) -> TestOutcome:
    """Call the adapter's cheapest authenticated request and record the outcome."""
    sink = BufferedAuditSink(loaded.row.tenant_id, loaded.row.id, loaded.spec.code)
    auth_failed = False
    try:
        if loaded.row.credentials_sealed is None and loaded.spec.credentials_schema.get("required"):
            outcome = TestResult(ok=False, message="The integration has no credentials yet.")
        else:
            outcome = await loaded.spec.gateway().test(_context(runtime, loaded, sink))
    except ProviderFailure as exc:
        auth_failed = isinstance(exc, ProviderAuthFailed)
        outcome = TestResult(ok=False, message=exc.message)
    await sink.write(runtime.db)
    status = await health.record(
        runtime, loaded.row.id, ok=outcome.ok, message=outcome.message, auth_failed=auth_failed
    )
    return TestOutcome(
        integration=loaded.row.id,
        ok=outcome.ok,
        status=status,
        message=outcome.message,
        checked_at=now(),
    )


async def test(runtime: ProviderRuntime, principal: Principal, integration_id: str) -> TestOutcome:
    return await run_test(runtime, await load(runtime, principal, integration_id))
