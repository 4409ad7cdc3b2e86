"""The connection catalog: built-ins from ``providers.registry`` plus custom connections that
platform admins store in the database."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.errors import Conflict, ValidationFailed
from interlink.integrations.exceptions import CapabilityNotFound, ConnectionNotFound
from interlink.integrations.schemas import (
    CapabilityCreate,
    CapabilityRead,
    CapabilityUpdate,
    ConnectionCreate,
    ConnectionRead,
    ConnectionUpdate,
)
from interlink.kit.clock import now
from interlink.models import CustomCapability, CustomConnection
from interlink.providers import registry
from interlink.providers.base import CapabilitySpec, ConnectionSpec
from interlink.providers.preview import GenericRestPreview


def _capability_read(connection_code: str, cap: CapabilitySpec) -> CapabilityRead:
    return CapabilityRead(
        code=cap.code,
        connection_code=connection_code,
        description=cap.description,
        parameters_schema=dict(cap.parameters_schema),
    )


def to_read(spec: ConnectionSpec, source: str) -> ConnectionRead:
    return ConnectionRead(
        code=spec.code,
        display_name=spec.display_name,
        description=spec.description,
        logo_url=spec.logo_url,
        kind=spec.kind,
        status=spec.status,
        auth_type=spec.auth_type,
        credentials_schema=dict(spec.credentials_schema),
        settings_schema=dict(spec.settings_schema),
        capabilities=[_capability_read(spec.code, c) for c in spec.capabilities],
        environments=list(spec.environments),
        source="custom" if source == "custom" else "builtin",
        executes=spec.executes,
    )


def _custom_spec(row: CustomConnection, caps: list[CustomCapability]) -> ConnectionSpec:
    return ConnectionSpec(
        code=row.code,
        display_name=row.display_name,
        description=row.description,
        logo_url=row.logo_url,
        kind=row.kind,  # type: ignore[arg-type]  # checked by ConnectionCreate
        status=row.status,  # type: ignore[arg-type]
        auth_type=row.auth_type,  # type: ignore[arg-type]
        credentials_schema=row.credentials_schema,
        settings_schema=row.settings_schema,
        capabilities=tuple(
            CapabilitySpec(c.code, c.description, c.parameters_schema)
            for c in sorted(caps, key=lambda c: c.code)
        ),
        gateway=GenericRestPreview,
        executes=False,
    )


async def _custom_row(session: AsyncSession, code: str) -> CustomConnection | None:
    row = await session.get(CustomConnection, code)
    return row if row is not None and row.deleted_at is None else None


async def _capabilities(session: AsyncSession, code: str) -> list[CustomCapability]:
    stmt = select(CustomCapability).where(CustomCapability.connection_code == code)
    return list((await session.scalars(stmt)).all())


async def find(session: AsyncSession, code: str) -> tuple[ConnectionSpec, str] | None:
    spec = registry.get(code)
    if spec is not None:
        return spec, "builtin"
    row = await _custom_row(session, code)
    if row is None:
        return None
    return _custom_spec(row, await _capabilities(session, code)), "custom"


async def require(
    session: AsyncSession, code: str, param: str = "connection_code"
) -> ConnectionSpec:
    found = await find(session, code)
    if found is None:
        known = ", ".join(spec.code for spec in registry.all_connections())
        raise ConnectionNotFound(
            f"No connection {code!r}. Built-in connections: {known} "
            "(GET /v1/connections lists all).",
            param=param,
        )
    return found[0]


async def list_all(session: AsyncSession, kind: str | None = None) -> list[ConnectionRead]:
    reads = [to_read(spec, "builtin") for spec in registry.all_connections()]
    rows = (
        await session.scalars(
            select(CustomConnection)
            .where(CustomConnection.deleted_at.is_(None))
            .order_by(CustomConnection.code)
        )
    ).all()
    caps = (await session.scalars(select(CustomCapability))).all()
    for row in rows:
        mine = [c for c in caps if c.connection_code == row.code]
        reads.append(to_read(_custom_spec(row, mine), "custom"))
    return [r for r in reads if kind is None or r.kind == kind]


async def get(session: AsyncSession, code: str) -> ConnectionRead:
    found = await find(session, code)
    if found is None:
        await require(session, code, param="code")
    assert found is not None
    return to_read(*found)


def _check_schema(schema: Mapping[str, Any], param: str) -> None:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValidationFailed(
            f"{param} is not a valid JSON schema: {exc.message}", param=param, code="invalid_schema"
        ) from None
    if schema.get("type", "object") != "object":
        raise ValidationFailed(
            f"{param} must describe a JSON object (type 'object').",
            param=param,
            code="invalid_schema",
        )


def _refuse_builtin(code: str) -> None:
    if registry.get(code) is not None:
        raise Conflict(
            f"{code!r} is a built-in connection, declared in code; it cannot be changed here.",
            param="code",
            code="builtin_connection",
        )


async def create(session: AsyncSession, body: ConnectionCreate) -> ConnectionRead:
    _refuse_builtin(body.connection_code)
    _check_schema(body.credentials_schema, "credentials_schema")
    _check_schema(body.settings_schema, "settings_schema")
    row = await session.get(CustomConnection, body.connection_code)
    if row is not None and row.deleted_at is None:
        raise Conflict(
            f"Connection {body.connection_code!r} exists; update it with PUT.",
            param="connection_code",
            code="connection_exists",
        )
    values = body.model_dump(exclude={"connection_code"})
    if row is None:
        row = CustomConnection(code=body.connection_code, **values)
        session.add(row)
    else:  # re-creating a soft-deleted connection brings it back with the new declaration
        for name, value in values.items():
            setattr(row, name, value)
        row.deleted_at = None
    await session.flush()
    return to_read(_custom_spec(row, await _capabilities(session, row.code)), "custom")


async def _require_custom(session: AsyncSession, code: str) -> CustomConnection:
    _refuse_builtin(code)
    row = await _custom_row(session, code)
    if row is None:
        raise ConnectionNotFound(f"No custom connection {code!r}.", param="code")
    return row


async def update(session: AsyncSession, code: str, body: ConnectionUpdate) -> ConnectionRead:
    row = await _require_custom(session, code)
    changes = body.model_dump(exclude_unset=True)
    for name in ("credentials_schema", "settings_schema"):
        if changes.get(name) is not None:
            _check_schema(changes[name], name)
    for name, value in changes.items():
        if value is not None or name == "logo_url":
            setattr(row, name, value)
    await session.flush()
    return to_read(_custom_spec(row, await _capabilities(session, code)), "custom")


async def delete(session: AsyncSession, code: str) -> ConnectionRead:
    row = await _require_custom(session, code)
    row.deleted_at = now()
    row.status = "deprecated"
    await session.flush()
    return to_read(_custom_spec(row, await _capabilities(session, code)), "custom")


async def list_capabilities(session: AsyncSession, code: str) -> list[CapabilityRead]:
    spec = await require(session, code, param="code")
    return [_capability_read(code, c) for c in spec.capabilities]


async def get_capability(session: AsyncSession, code: str, capability: str) -> CapabilityRead:
    spec = await require(session, code, param="code")
    cap = spec.capability(capability)
    if cap is None:
        raise _no_capability(spec, capability, "capability_code")
    return _capability_read(code, cap)


def _no_capability(spec: ConnectionSpec, capability: str, param: str) -> CapabilityNotFound:
    known = ", ".join(c.code for c in spec.capabilities) or "none"
    return CapabilityNotFound(
        f"Connection {spec.code!r} has no capability {capability!r}. Its capabilities: {known}.",
        param=param,
    )


async def create_capability(
    session: AsyncSession, code: str, body: CapabilityCreate
) -> CapabilityRead:
    await _require_custom(session, code)
    _check_schema(body.parameters_schema, "parameters_schema")
    if await session.get(CustomCapability, (code, body.capability_code)) is not None:
        raise Conflict(
            f"Connection {code!r} already has capability {body.capability_code!r}.",
            param="capability_code",
            code="capability_exists",
        )
    row = CustomCapability(
        connection_code=code,
        code=body.capability_code,
        description=body.description,
        parameters_schema=body.parameters_schema,
    )
    session.add(row)
    await session.flush()
    return _capability_read(code, CapabilitySpec(row.code, row.description, row.parameters_schema))


async def _require_capability(session: AsyncSession, code: str, cap: str) -> CustomCapability:
    await _require_custom(session, code)
    row = await session.get(CustomCapability, (code, cap))
    if row is None:
        raise CapabilityNotFound(
            f"Connection {code!r} has no capability {cap!r}.", param="capability_code"
        )
    return row


async def update_capability(
    session: AsyncSession, code: str, cap: str, body: CapabilityUpdate
) -> CapabilityRead:
    row = await _require_capability(session, code, cap)
    if body.parameters_schema is not None:
        _check_schema(body.parameters_schema, "parameters_schema")
        row.parameters_schema = body.parameters_schema
    if body.description is not None:
        row.description = body.description
    await session.flush()
    return _capability_read(code, CapabilitySpec(row.code, row.description, row.parameters_schema))


async def delete_capability(session: AsyncSession, code: str, cap: str) -> CapabilityRead:
    row = await _require_capability(session, code, cap)
    await session.delete(row)
    await session.flush()
    return _capability_read(code, CapabilitySpec(row.code, row.description, row.parameters_schema))


def no_capability(spec: ConnectionSpec, capability: str) -> CapabilityNotFound:
    return _no_capability(spec, capability, "capability_code")


async def list_capabilities_of(spec: ConnectionSpec) -> list[CapabilityRead]:
    return [_capability_read(spec.code, c) for c in spec.capabilities]
