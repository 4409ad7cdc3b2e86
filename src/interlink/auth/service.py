from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth import keys, repository
from interlink.auth import scopes as scope_names
from interlink.auth.exceptions import ApiKeyNotFound, UnknownScope
from interlink.auth.principal import Principal
from interlink.auth.schemas import (
    ApiKeyCreate,
    ApiKeyRead,
    ApiKeyUsageRead,
    ApiKeyWithSecret,
    UsageDay,
)
from interlink.db.pagination import PageParams
from interlink.errors import Conflict, NotFound, PermissionDenied
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import ApiKey


def to_read(row: ApiKey) -> ApiKeyRead:
    return ApiKeyRead(
        id=row.id,
        tenant=row.tenant_id,
        name=row.name,
        mode=row.mode,
        scopes=list(row.scopes),
        masked_key=keys.masked(row.lookup_prefix, row.last4),
        rate_limit=row.rate_limit,
        created=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        rotated_to=row.rotated_to_id,
    )


def _require_known(scopes: Sequence[str]) -> None:
    unknown = scope_names.unknown_scopes(scopes)
    if unknown:
        known = ", ".join(sorted(scope_names.ALL_SCOPES))
        raise UnknownScope(
            f"Unknown scope(s): {', '.join(unknown)}. Known scopes: {known}.", param="scopes"
        )


def _with_secret(row: ApiKey, plaintext: str) -> ApiKeyWithSecret:
    return ApiKeyWithSecret(**to_read(row).model_dump(), key=plaintext)


async def issue(
    session: AsyncSession,
    *,
    tenant_id: str,
    scopes: Sequence[str],
    mode: str,
    name: str = "",
    expires_at: datetime | None = None,
    rate_limit: str | None = None,
    created_by: str | None = None,
) -> ApiKeyWithSecret:
    """Create a key; the returned plaintext exists only in this return value."""
    _require_known(scopes)
    new = keys.generate(mode)
    row = ApiKey(
        id=new_id("key"),
        tenant_id=tenant_id,
        name=name,
        mode=mode,
        lookup_prefix=new.lookup_prefix,
        secret_hash=new.secret_hash,
        last4=new.last4,
        scopes=sorted(set(scopes)),
        rate_limit=rate_limit,
        expires_at=expires_at,
        created_by_key_id=created_by,
    )
    session.add(row)
    await session.flush()
    return _with_secret(row, new.plaintext)


async def create(session: AsyncSession, caller: Principal, body: ApiKeyCreate) -> ApiKeyWithSecret:
    tenant_id = caller.tenant_id
    if body.tenant_id is not None and body.tenant_id != caller.tenant_id:
        if not caller.is_platform:
            raise PermissionDenied(
                "Only a platform key may issue keys in another tenant.", param="tenant_id"
            )
        if not await repository.tenant_exists(session, body.tenant_id):
            raise NotFound(
                f"No tenant {body.tenant_id!r}.", param="tenant_id", code="tenant_missing"
            )
        tenant_id = body.tenant_id
    _require_known(body.scopes)
    beyond = scope_names.may_grant(caller.scopes, body.scopes)
    if beyond:
        raise PermissionDenied(
            f"A key cannot grant scopes it does not hold: {', '.join(beyond)}.", param="scopes"
        )
    mode = body.mode or caller.mode
    if mode == "live" and not caller.is_live and not caller.is_platform:
        raise PermissionDenied("A test key cannot issue live keys.", param="mode")
    if body.expires_at is not None and body.expires_at <= now():
        raise Conflict("expires_at is in the past.", param="expires_at", code="invalid_expiry")
    return await issue(
        session,
        tenant_id=tenant_id,
        scopes=body.scopes,
        mode=mode,
        name=body.name,
        expires_at=body.expires_at,
        rate_limit=body.rate_limit,
        created_by=caller.key_id,
    )


async def get(session: AsyncSession, caller: Principal, key_id: str) -> ApiKey:
    row = await repository.get(session, caller.tenant_id, key_id)
    if row is None:
        raise ApiKeyNotFound(f"No API key {key_id!r}.", param="id")
    return row


async def page(
    session: AsyncSession, caller: Principal, params: PageParams
) -> tuple[list[ApiKeyRead], bool]:
    rows, has_more = await repository.page(session, caller.tenant_id, params)
    return [to_read(r) for r in rows], has_more


async def revoke(session: AsyncSession, caller: Principal, key_id: str) -> ApiKey:
    row = await repository.get_for_update(session, caller.tenant_id, key_id)
    if row is None:
        raise ApiKeyNotFound(f"No API key {key_id!r}.", param="id")
    if row.revoked_at is None:
        row.revoked_at = now()
    return row


async def rotate(
    session: AsyncSession, caller: Principal, key_id: str, grace: timedelta
) -> ApiKeyWithSecret:
    """A new key with the same scopes; the old one keeps working for ``grace``, then expires."""
    row = await repository.get_for_update(session, caller.tenant_id, key_id)
    if row is None:
        raise ApiKeyNotFound(f"No API key {key_id!r}.", param="id")
    if row.revoked_at is not None:
        raise Conflict("A revoked key cannot be rotated.", code="api_key_revoked")
    if row.rotated_to_id is not None:
        raise Conflict(
            f"This key was already rotated to {row.rotated_to_id}.", code="api_key_already_rotated"
        )
    if row.expires_at is not None and row.expires_at <= now():
        raise Conflict("An expired key cannot be rotated.", code="api_key_expired")
    fresh = await issue(
        session,
        tenant_id=row.tenant_id,
        scopes=row.scopes,
        mode=row.mode,
        name=row.name,
        expires_at=None,
        rate_limit=row.rate_limit,
        created_by=caller.key_id,
    )
    old_expiry = now() + grace
    if row.expires_at is None or row.expires_at > old_expiry:
        row.expires_at = old_expiry
    row.rotated_to_id = fresh.id
    return fresh


async def usage(
    session: AsyncSession, caller: Principal, key_id: str, days: int
) -> ApiKeyUsageRead:
    row = await get(session, caller, key_id)
    since = (now() - timedelta(days=days - 1)).date()
    rows = await repository.usage(session, key_id, since)
    return ApiKeyUsageRead(
        api_key=row.id,
        last_used_at=row.last_used_at,
        total_requests=sum(r.request_count for r in rows),
        days=[UsageDay(day=r.day, requests=r.request_count, errors=r.error_count) for r in rows],
    )
