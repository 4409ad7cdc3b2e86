"""Integration instances: create, read, update, delete, with sealed credentials."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.db.pagination import PageParams, paginate
from interlink.integrations import catalog, credentials, repository
from interlink.integrations.exceptions import (
    EnvironmentMismatch,
    IntegrationNotFound,
    IntegrationNotUsable,
    InvalidCredentials,
    InvalidSettings,
)
from interlink.integrations.schemas import IntegrationCreate, IntegrationRead, IntegrationUpdate
from interlink.kit.crypto import Keyring
from interlink.kit.ids import new_id
from interlink.models import Integration
from interlink.providers.base import ConnectionSpec


def environment_of(principal: Principal) -> str:
    return "production" if principal.is_live else "sandbox"


def check_environment(principal: Principal, environment: str, param: str = "environment") -> None:
    wanted = environment_of(principal)
    if environment != wanted:
        raise EnvironmentMismatch(
            f"A {principal.mode} API key can only reach {wanted} integrations; this one is "
            f"{environment}. Use a {'live' if environment == 'production' else 'test'} key.",
            param=param,
        )


def to_read(row: Integration) -> IntegrationRead:
    return IntegrationRead(
        id=row.id,
        tenant=row.tenant_id,
        connection_code=row.connection_code,
        kind=row.kind,
        name=row.name,
        environment=row.environment,
        status=row.status,
        has_credentials=row.credentials_sealed is not None,
        credential_hints=dict(row.credential_hints),
        settings=dict(row.settings),
        metadata=dict(row.metadata_),
        credentials_expire_at=row.credentials_expire_at,
        last_checked_at=row.last_checked_at,
        last_success_at=row.last_success_at,
        last_error_at=row.last_error_at,
        last_error=row.last_error,
        consecutive_failures=row.consecutive_failures,
        created=row.created_at,
        updated=row.updated_at,
    )


def _requires_credentials(spec: ConnectionSpec) -> bool:
    return bool(spec.credentials_schema.get("required"))


def _validate_credentials(spec: ConnectionSpec, creds: Mapping[str, Any]) -> None:
    credentials.validate(
        creds,
        spec.credentials_schema,
        root="credentials",
        error=InvalidCredentials,
        show_values=False,
    )


def _validate_settings(spec: ConnectionSpec, settings: Mapping[str, Any]) -> None:
    credentials.validate(settings, spec.settings_schema, root="settings", error=InvalidSettings)
    if spec.settings_check is not None:
        try:
            spec.settings_check(settings)
        except ValueError as exc:
            raise InvalidSettings(str(exc), param=getattr(exc, "param", "settings")) from None


def _store_credentials(
    keyring: Keyring, spec: ConnectionSpec, row: Integration, creds: Mapping[str, Any]
) -> None:
    row.credentials_sealed = credentials.seal(keyring, row.tenant_id, row.id, creds)
    row.credential_hints = credentials.hints(creds, spec.hint_fields)


async def create(
    session: AsyncSession, keyring: Keyring, principal: Principal, body: IntegrationCreate
) -> IntegrationRead:
    spec = await catalog.require(session, body.connection_code)
    environment = body.environment or environment_of(principal)
    check_environment(principal, environment)
    if environment not in spec.environments:
        raise EnvironmentMismatch(
            f"Connection {spec.code!r} offers only {', '.join(spec.environments)} integrations.",
            param="environment",
        )
    _validate_settings(spec, body.settings)
    if body.credentials is not None:
        _validate_credentials(spec, body.credentials)
    row = Integration(
        id=new_id("int"),
        tenant_id=principal.tenant_id,
        connection_code=spec.code,
        kind=spec.kind,
        name=body.name,
        environment=environment,
        credential_hints={},
        settings=body.settings,
        metadata_=body.metadata,
        credentials_expire_at=body.credentials_expire_at,
        consecutive_failures=0,
    )
    if body.credentials is not None:
        _store_credentials(keyring, spec, row, body.credentials)
    configured = body.credentials is not None or not _requires_credentials(spec)
    row.status = "active" if configured else "pending_configuration"
    session.add(row)
    await session.flush()
    return to_read(row)


async def get_row(session: AsyncSession, principal: Principal, integration_id: str) -> Integration:
    row = await repository.get(session, principal.tenant_id, integration_id)
    if row is None:
        raise IntegrationNotFound(f"No integration {integration_id!r}.", param="id")
    check_environment(principal, row.environment, param="id")
    return row


async def page(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    connection_code: str | None,
    kind: str | None,
    status: str | None,
    environment: str | None,
) -> tuple[Sequence[IntegrationRead], bool]:
    if environment is not None:
        check_environment(principal, environment)
    stmt = repository.list_stmt(
        principal.tenant_id,
        connection_code=connection_code,
        kind=kind,
        status=status,
        environment=environment_of(principal),
    )
    rows, has_more = await paginate(session, stmt, Integration.id, params)
    return [to_read(r) for r in rows], has_more


async def update(
    session: AsyncSession,
    keyring: Keyring,
    principal: Principal,
    integration_id: str,
    body: IntegrationUpdate,
) -> IntegrationRead:
    row = await get_row(session, principal, integration_id)
    spec = await catalog.require(session, row.connection_code)
    changes = body.model_dump(exclude_unset=True)
    if body.settings is not None:
        _validate_settings(spec, body.settings)
        row.settings = body.settings
    if body.credentials is not None:
        _validate_credentials(spec, body.credentials)
        _store_credentials(keyring, spec, row, body.credentials)
        row.consecutive_failures = 0
        row.expiry_warned_at = None
        if row.status in ("pending_configuration", "needs_reauth", "error"):
            row.status = "active"
    if body.name is not None:
        row.name = body.name
    if body.metadata is not None:
        row.metadata_ = body.metadata
    if "credentials_expire_at" in changes:
        row.credentials_expire_at = body.credentials_expire_at
        row.expiry_warned_at = None
    if body.status is not None:
        if (
            body.status == "active"
            and row.credentials_sealed is None
            and _requires_credentials(spec)
        ):
            raise IntegrationNotUsable(
                "Give credentials before activating this integration.", param="credentials"
            )
        row.status = body.status
    await session.flush()
    return to_read(row)


async def delete(
    session: AsyncSession, principal: Principal, integration_id: str
) -> IntegrationRead:
    row = await get_row(session, principal, integration_id)
    read = to_read(row)
    await session.delete(row)
    await session.flush()
    return read
