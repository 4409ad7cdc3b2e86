"""Webhook endpoints: registration, secrets, deliveries, retry, recovery and test sends."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.config import Settings
from interlink.db.pagination import PageParams, paginate
from interlink.events.service import known_types
from interlink.kit import signing
from interlink.kit.clock import now
from interlink.kit.crypto import Keyring, mask_secret
from interlink.kit.ids import new_id
from interlink.kit.ssrf import AddressPolicy
from interlink.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from interlink.webhooks_out import repository, secrets, validation
from interlink.webhooks_out.delivery import queue_attempt
from interlink.webhooks_out.exceptions import (
    DeliveryNotFound,
    DeliveryPending,
    EndpointDisabled,
    WebhookNotFound,
)
from interlink.webhooks_out.schemas import (
    AttemptRead,
    DeliveryRead,
    WebhookCreate,
    WebhookRead,
    WebhookSecret,
    WebhookUpdate,
    WebhookWithSecret,
)


def to_read(row: WebhookEndpoint) -> WebhookRead:
    rotation_ends = row.previous_secret_expires_at
    if rotation_ends is not None and rotation_ends <= now():
        rotation_ends = None
    return WebhookRead(
        id=row.id,
        tenant=row.tenant_id,
        url=row.url,
        mode=row.mode,
        description=row.description,
        event_types=list(row.event_types),
        channels=row.channels,
        headers=dict(row.headers),
        rate_limit=row.rate_limit,
        timeout_seconds=row.timeout_seconds,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        failing_since=row.failing_since,
        secret_hint=mask_secret(signing.SECRET_PREFIX + "x" * 8 + row.secret_last4),
        secret_rotation_ends_at=rotation_ends,
        created=row.created_at,
        updated=row.updated_at,
    )


def attempt_read(row: WebhookAttempt) -> AttemptRead:
    return AttemptRead(
        id=row.id,
        attempted_at=row.attempted_at,
        succeeded=row.succeeded,
        status_code=row.status_code,
        duration_ms=row.duration_ms,
        response_body=row.response_body,
        error_class=row.error_class,
        error_message=row.error_message,
        trigger=row.trigger,
    )


def delivery_read(
    row: WebhookDelivery, attempts: list[WebhookAttempt] | None = None
) -> DeliveryRead:
    return DeliveryRead(
        id=row.id,
        endpoint=row.endpoint_id,
        event=row.event_id,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created=row.created_at,
        attempt_history=[attempt_read(a) for a in attempts] if attempts is not None else None,
    )


def policy(settings: Settings) -> AddressPolicy:
    return AddressPolicy(settings.webhook_allowed_networks)


async def get_row(session: AsyncSession, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
    row = await repository.get_endpoint(session, principal.tenant_id, endpoint_id)
    if row is None:
        raise WebhookNotFound(f"No webhook endpoint {endpoint_id!r}.", param="id")
    return row


async def create(
    session: AsyncSession,
    principal: Principal,
    body: WebhookCreate,
    settings: Settings,
    keyring: Keyring,
) -> WebhookWithSecret:
    url = validation.check_url(body.url, live=principal.is_live, policy=policy(settings))
    types = validation.check_event_types(
        body.event_types, await known_types(session, principal.tenant_id)
    )
    headers = validation.check_headers(body.headers)
    secret = signing.generate_secret()
    row = WebhookEndpoint(
        id=new_id("whep"),
        tenant_id=principal.tenant_id,
        url=url,
        mode=principal.mode,
        description=body.description,
        event_types=types,
        channels=body.channels or None,
        headers=headers,
        rate_limit=body.rate_limit,
        timeout_seconds=body.timeout_seconds or settings.webhook_timeout_seconds,
        enabled=body.enabled,
        secret_last4=secret[-4:],
        secret_sealed="",
    )
    row.secret_sealed = secrets.seal(keyring, row, secret)
    session.add(row)
    await session.flush()
    return WebhookWithSecret(**to_read(row).model_dump(), secret=secret)


async def page(
    session: AsyncSession, principal: Principal, params: PageParams
) -> tuple[list[WebhookRead], bool]:
    stmt = repository.endpoints_query(principal.tenant_id)
    rows, has_more = await paginate(session, stmt, WebhookEndpoint.id, params)
    return [to_read(r) for r in rows], has_more


async def update(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: str,
    body: WebhookUpdate,
    settings: Settings,
) -> WebhookRead:
    row = await get_row(session, principal, endpoint_id)
    given = body.model_fields_set
    if body.url is not None:
        row.url = validation.check_url(body.url, live=row.mode == "live", policy=policy(settings))
    if body.description is not None:
        row.description = body.description
    if body.event_types is not None:
        row.event_types = validation.check_event_types(
            body.event_types, await known_types(session, principal.tenant_id)
        )
    if "channels" in given:
        row.channels = body.channels or None
    if body.headers is not None:
        row.headers = validation.check_headers(body.headers)
    if "rate_limit" in given:
        row.rate_limit = body.rate_limit
    if body.timeout_seconds is not None:
        row.timeout_seconds = body.timeout_seconds
    if body.enabled is not None:
        set_enabled(row, body.enabled)
    row.updated_at = now()
    await session.flush()
    return to_read(row)


def set_enabled(row: WebhookEndpoint, enabled: bool) -> None:
    if enabled and not row.enabled:
        row.failing_since = None
        row.disabled_reason = None
        row.paused_until = None
    elif not enabled and row.enabled:
        row.disabled_reason = "disabled through the API"
    row.enabled = enabled


async def set_event_types(
    session: AsyncSession, principal: Principal, endpoint_id: str, event_types: list[str]
) -> WebhookRead:
    row = await get_row(session, principal, endpoint_id)
    row.event_types = validation.check_event_types(
        event_types, await known_types(session, principal.tenant_id)
    )
    row.updated_at = now()
    await session.flush()
    return to_read(row)


async def delete(session: AsyncSession, principal: Principal, endpoint_id: str) -> WebhookRead:
    row = await get_row(session, principal, endpoint_id)
    read = to_read(row)
    await session.delete(row)
    await session.flush()
    return read


async def rotate_secret(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: str,
    overlap: timedelta,
    keyring: Keyring,
) -> WebhookWithSecret:
    """A new secret signs from now on; the current one keeps signing beside it for ``overlap``."""
    row = await get_row(session, principal, endpoint_id)
    secret = signing.generate_secret()
    row.previous_secret_sealed = row.secret_sealed if overlap > timedelta(0) else None
    row.previous_secret_expires_at = now() + overlap if overlap > timedelta(0) else None
    row.secret_sealed = secrets.seal(keyring, row, secret)
    row.secret_last4 = secret[-4:]
    row.updated_at = now()
    await session.flush()
    return WebhookWithSecret(**to_read(row).model_dump(), secret=secret)


async def reveal_secret(
    session: AsyncSession, principal: Principal, endpoint_id: str, keyring: Keyring
) -> WebhookSecret:
    row = await get_row(session, principal, endpoint_id)
    until = row.previous_secret_expires_at
    return WebhookSecret(
        key=secrets.current_secret(keyring, row),
        previous_valid_until=until if until is not None and until > now() else None,
    )


async def deliveries(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: str,
    params: PageParams,
    *,
    status: str | None,
    event_type: str | None,
    since: datetime | None,
) -> tuple[list[DeliveryRead], bool]:
    await get_row(session, principal, endpoint_id)
    stmt = repository.deliveries_query(principal.tenant_id, endpoint_id, status, event_type, since)
    rows, has_more = await paginate(session, stmt, WebhookDelivery.id, params)
    return [delivery_read(r) for r in rows], has_more


async def get_delivery_row(
    session: AsyncSession, principal: Principal, endpoint_id: str, delivery_id: str
) -> WebhookDelivery:
    await get_row(session, principal, endpoint_id)
    row = await repository.get_delivery(session, principal.tenant_id, endpoint_id, delivery_id)
    if row is None:
        raise DeliveryNotFound(f"No delivery {delivery_id!r} for this endpoint.", param="did")
    return row


async def delivery(
    session: AsyncSession, principal: Principal, endpoint_id: str, delivery_id: str
) -> DeliveryRead:
    row = await get_delivery_row(session, principal, endpoint_id, delivery_id)
    attempts = list(await repository.attempts_of(session, row.id))
    return delivery_read(row, attempts)


def _requeue(row: WebhookDelivery) -> None:
    row.status = "pending"
    row.attempts_allowed = row.attempts + 1
    # no due time: the queued ``webhooks.deliver`` job makes this attempt (recorded as manual
    # or recover), not the dispatcher; a failure then schedules the next one as usual
    row.next_attempt_at = None
    row.last_error = None


async def retry(
    session: AsyncSession, principal: Principal, endpoint_id: str, delivery_id: str
) -> DeliveryRead:
    """One more attempt, now, of a delivery that succeeded or failed."""
    endpoint = await get_row(session, principal, endpoint_id)
    if not endpoint.enabled:
        raise EndpointDisabled("Enable the endpoint before retrying its deliveries.", param="id")
    row = await get_delivery_row(session, principal, endpoint_id, delivery_id)
    if row.status == "pending":
        raise DeliveryPending(
            "The delivery is still pending; its next attempt is already scheduled.", param="did"
        )
    _requeue(row)
    await session.flush()
    await queue_attempt(session, row.id, row.attempts, None, "manual")
    return delivery_read(row)


async def recover(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: str,
    since: datetime,
    until: datetime | None,
) -> int:
    """Re-queue every failed delivery created since ``since``; the count re-queued."""
    endpoint = await get_row(session, principal, endpoint_id)
    if not endpoint.enabled:
        raise EndpointDisabled("Enable the endpoint before recovering its deliveries.", param="id")
    rows = await repository.failed_since(session, principal.tenant_id, endpoint_id, since)
    count = 0
    for row in rows:
        if until is not None and row.created_at > until:
            continue
        _requeue(row)
        await session.flush()
        await queue_attempt(session, row.id, row.attempts, None, "recover")
        count += 1
    return count
