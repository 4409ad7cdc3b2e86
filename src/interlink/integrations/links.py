"""Entity links (an integration used by a customer, product, subscription… for a purpose) and the
resolver every domain uses to pick the integration for a purpose."""

from __future__ import annotations

import re

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.errors import Conflict, ValidationFailed
from interlink.integrations import repository, service
from interlink.integrations.exceptions import (
    DefaultAlreadySet,
    IntegrationNotFound,
    LinkNotFound,
    NoIntegrationConfigured,
)
from interlink.integrations.schemas import SLUG, LinkCreate, LinkRead
from interlink.kit.ids import new_id
from interlink.models import EntityIntegrationLink, Integration

TENANT_ENTITY = "tenant"


def to_read(row: EntityIntegrationLink) -> LinkRead:
    return LinkRead(
        id=row.id,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        integration_id=row.integration_id,
        purpose=row.purpose,
        is_default=row.is_default,
        created=row.created_at,
    )


def _check_entity(principal: Principal, entity_type: str, entity_id: str) -> None:
    if not re.match(SLUG, entity_type):
        raise ValidationFailed(
            f"entity_type {entity_type!r} must be a lower-case name such as 'customer'.",
            param="entity_type",
        )
    if not 1 <= len(entity_id) <= 128:
        raise ValidationFailed("entity_id must be 1 to 128 characters.", param="entity_id")
    if entity_type == TENANT_ENTITY and entity_id != principal.tenant_id:
        raise ValidationFailed(
            f"The tenant entity of this key is {principal.tenant_id!r}; tenant-wide defaults "
            f"are linked at /v1/entities/tenant/{principal.tenant_id}/integrations.",
            param="entity_id",
        )


async def create(
    session: AsyncSession, principal: Principal, entity_type: str, entity_id: str, body: LinkCreate
) -> LinkRead:
    _check_entity(principal, entity_type, entity_id)
    integration = await repository.get(session, principal.tenant_id, body.integration_id)
    if integration is None:
        raise IntegrationNotFound(
            f"No integration {body.integration_id!r}.", param="integration_id"
        )
    service.check_environment(principal, integration.environment, param="integration_id")
    existing = await session.scalar(
        select(EntityIntegrationLink).where(
            EntityIntegrationLink.tenant_id == principal.tenant_id,
            EntityIntegrationLink.entity_type == entity_type,
            EntityIntegrationLink.entity_id == entity_id,
            EntityIntegrationLink.integration_id == integration.id,
            EntityIntegrationLink.purpose == body.purpose,
        )
    )
    if existing is not None:
        raise Conflict(
            f"Integration {integration.id!r} is already linked to {entity_type} {entity_id!r} "
            f"for {body.purpose!r}.",
            param="integration_id",
            code="link_exists",
        )
    if body.is_default:
        current = await _default(
            session,
            principal.tenant_id,
            entity_type,
            entity_id,
            body.purpose,
            integration.environment,
        )
        if current is not None:
            raise _second_default(current, entity_type, entity_id)
    row = EntityIntegrationLink(
        id=new_id("eil"),
        tenant_id=principal.tenant_id,
        integration_id=integration.id,
        entity_type=entity_type,
        entity_id=entity_id,
        purpose=body.purpose,
        environment=integration.environment,
        is_default=body.is_default,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent request set the default first
        raise DefaultAlreadySet(
            f"{entity_type} {entity_id!r} already has a default for {body.purpose!r}.",
            param="is_default",
        ) from None
    return to_read(row)


def _second_default(
    current: EntityIntegrationLink, entity_type: str, entity_id: str
) -> DefaultAlreadySet:
    return DefaultAlreadySet(
        f"{entity_type} {entity_id!r} already has a default {current.environment} integration "
        f"for {current.purpose!r} ({current.integration_id}); unlink it first or link this one "
        "with is_default false.",
        param="is_default",
    )


async def _default(
    session: AsyncSession,
    tenant_id: str,
    entity_type: str,
    entity_id: str,
    purpose: str,
    environment: str,
) -> EntityIntegrationLink | None:
    return await session.scalar(
        select(EntityIntegrationLink).where(
            EntityIntegrationLink.tenant_id == tenant_id,
            EntityIntegrationLink.entity_type == entity_type,
            EntityIntegrationLink.entity_id == entity_id,
            EntityIntegrationLink.purpose == purpose,
            EntityIntegrationLink.environment == environment,
            EntityIntegrationLink.is_default.is_(True),
        )
    )


async def list_for_entity(
    session: AsyncSession, principal: Principal, entity_type: str, entity_id: str
) -> list[LinkRead]:
    _check_entity(principal, entity_type, entity_id)
    environment = service.environment_of(principal)
    rows = await repository.links_of_entity(session, principal.tenant_id, entity_type, entity_id)
    return [to_read(r) for r in rows if r.environment == environment]


async def delete(
    session: AsyncSession,
    principal: Principal,
    entity_type: str,
    entity_id: str,
    integration_id: str,
    purpose: str | None,
) -> list[LinkRead]:
    _check_entity(principal, entity_type, entity_id)
    rows = [
        r
        for r in await repository.links_of_entity(
            session, principal.tenant_id, entity_type, entity_id
        )
        if r.integration_id == integration_id and (purpose is None or r.purpose == purpose)
    ]
    if not rows:
        raise LinkNotFound(
            f"Integration {integration_id!r} is not linked to {entity_type} {entity_id!r}.",
            param="integration_id",
        )
    service.check_environment(principal, rows[0].environment, param="integration_id")
    await session.execute(
        sql_delete(EntityIntegrationLink).where(EntityIntegrationLink.id.in_([r.id for r in rows]))
    )
    return [to_read(r) for r in rows]


async def resolve(
    session: AsyncSession,
    tenant_id: str,
    purpose: str,
    entity: tuple[str, str] | None,
    mode: str,
) -> Integration:
    """The integration to use for ``purpose``: the entity's default, else the tenant's default
    (the link on entity ``("tenant", tenant_id)``), for the environment of ``mode`` (test →
    sandbox, live → production). Raises ``NoIntegrationConfigured`` saying what to link."""
    environment = "production" if mode == "live" else "sandbox"
    candidates = [entity] if entity is not None else []
    candidates.append((TENANT_ENTITY, tenant_id))
    for entity_type, entity_id in candidates:
        link = await _default(session, tenant_id, entity_type, entity_id, purpose, environment)
        if link is not None:
            integration = await repository.get(session, tenant_id, link.integration_id)
            if integration is not None:
                return integration
    where = f"{entity[0]} {entity[1]!r} or the tenant" if entity is not None else "the tenant"
    raise NoIntegrationConfigured(
        f"No default {environment} integration for {purpose!r} on {where}. Link one with "
        f"POST /v1/entities/tenant/{tenant_id}/integrations "
        f'{{"integration_id": "int_…", "purpose": "{purpose}", "is_default": true}}.',
        param="purpose",
    )
