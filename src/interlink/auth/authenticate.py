"""Turning an ``Authorization: Bearer`` header into a Principal."""

from __future__ import annotations

from interlink.auth import keys, repository
from interlink.auth.exceptions import (
    ExpiredApiKey,
    MalformedApiKey,
    MissingApiKey,
    RevokedApiKey,
)
from interlink.auth.principal import Principal
from interlink.db.engine import Database
from interlink.errors import AuthenticationFailed, NotFound, PermissionDenied
from interlink.kit.clock import now


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise MissingApiKey("No API key given. Send it as 'Authorization: Bearer ik_test_…'.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MalformedApiKey("The Authorization header must be 'Bearer <api key>'.")
    return token.strip()


async def authenticate(
    db: Database, authorization: str | None, acting_tenant: str | None = None
) -> Principal:
    token = bearer_token(authorization)
    parsed = keys.parse(token)
    if parsed is None:
        raise MalformedApiKey(
            "That is not an Interlink API key: keys look like 'ik_test_…' or 'ik_live_…'."
        )
    async with db.read_session() as session:
        row = await repository.by_lookup_prefix(session, parsed.lookup_prefix)
        if row is None or not keys.matches(parsed.full, row.secret_hash):
            raise AuthenticationFailed("Invalid API key.")
        if row.revoked_at is not None:
            raise RevokedApiKey("This API key has been revoked.")
        if row.expires_at is not None and row.expires_at <= now():
            raise ExpiredApiKey("This API key has expired.")
        tenant_id = row.tenant_id
        scopes = frozenset(row.scopes)
        if acting_tenant and acting_tenant != row.tenant_id:
            if "platform" not in scopes:
                raise PermissionDenied(
                    "Only a key with the 'platform' scope may act for another tenant.",
                    param="Interlink-Tenant",
                )
            if not await repository.tenant_exists(session, acting_tenant):
                raise NotFound(
                    f"No tenant {acting_tenant!r}.", param="Interlink-Tenant", code="tenant_missing"
                )
            tenant_id = acting_tenant
        return Principal(
            key_id=row.id,
            tenant_id=tenant_id,
            home_tenant_id=row.tenant_id,
            mode=row.mode,
            scopes=scopes,
            rate_limit=row.rate_limit,
        )
