"""Jobs of outbound webhooks: the dispatcher's runs (every scheduled attempt), one manual
attempt of a delivery (retry, recover), and the retention of history."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from interlink.auth.rate_limit import KeyRateLimiter
from interlink.config import Settings
from interlink.jobs.registry import JobContext, Retry, job, schedule
from interlink.kit.clock import now
from interlink.models import WebhookDelivery
from interlink.webhooks_out import repository
from interlink.webhooks_out.client import shared_client
from interlink.webhooks_out.delivery import (
    DELIVER_JOB,
    Gates,
    prepare,
    record,
    record_success,
    send,
)
from interlink.webhooks_out.dispatch import dispatcher_for
from interlink.webhooks_out.secrets import keyring_for
from interlink.webhooks_out.wakeup import DISPATCH_JOB

BUSY_RETRY = timedelta(milliseconds=200)
RETENTION_JOB = "webhooks.retention"

_gates: dict[tuple[int, int, int], Gates] = {}
_limiters: dict[int, KeyRateLimiter] = {}


def _gates_for(settings: Settings) -> Gates:
    per_endpoint, overall = settings.webhook_endpoint_concurrency, settings.webhook_max_concurrency
    key = (id(asyncio.get_running_loop()), per_endpoint, overall)
    gates = _gates.get(key)
    if gates is None:
        gates = _gates[key] = Gates(per_endpoint, overall)
    return gates


def _limiter_for(settings: Settings) -> KeyRateLimiter:
    key = id(asyncio.get_running_loop())
    limiter = _limiters.get(key)
    if limiter is None:
        limiter = _limiters[key] = KeyRateLimiter(settings.rate_limit_default, settings.redis_url)
    return limiter


# a run lasts while deliveries are due or in flight; the worker's stop asks it to wrap up
@job(DISPATCH_JOB, max_attempts=5, timeout=24 * 3600, priority=40, interchangeable=True)
async def dispatch(ctx: JobContext) -> None:
    dispatcher = dispatcher_for(
        ctx.db,
        ctx.settings,
        _gates_for(ctx.settings),
        keyring_for(ctx.settings),
        _limiter_for(ctx.settings),
    )
    if dispatcher.active:
        dispatcher.poke()  # the run in progress claims what this wake-up announced
        return
    sent = await dispatcher.run(ctx.stopping)
    ctx.log.debug("webhook_dispatch_run", sent=sent)


# a safety net for due rows whose wake-up was lost (a failed timer write)
schedule(DISPATCH_JOB, "*/5 * * * *", DISPATCH_JOB)


@job(DELIVER_JOB, max_attempts=20, timeout=120, priority=60)
async def deliver(
    ctx: JobContext, delivery_id: str, attempt: int | None = None, trigger: str = "scheduled"
) -> Retry | None:
    """A manual attempt (``retry``, ``recover``). Scheduled attempts are the dispatcher's: a
    ``scheduled`` job (queued by an earlier version) leaves the row to it."""
    if trigger == "scheduled":
        return None
    async with ctx.db.read_session() as read:
        bundle = await repository.delivery_bundle(read, delivery_id)
    if bundle is None:
        return None
    delivery, endpoint, event = bundle
    if delivery.status != "pending":
        return None
    if attempt is not None and delivery.attempts != attempt:
        return None  # a stale job: this attempt was made or re-queued under another job
    at = now()
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > at:
        return Retry(after=delivery.next_attempt_at - at, reason="not due")
    if not endpoint.enabled:
        row = await ctx.session.get(WebhookDelivery, delivery_id)
        if row is not None and row.status == "pending":
            row.status = "failed"
            row.next_attempt_at = None
            row.last_error = "endpoint disabled"
        return None
    if endpoint.paused_until is not None and endpoint.paused_until > at:
        return Retry(after=endpoint.paused_until - at, reason="endpoint throttled")
    if endpoint.rate_limit is not None:
        decision = await _limiter_for(ctx.settings).hit(
            f"whep:{endpoint.id}", f"{endpoint.rate_limit}/second"
        )
        if not decision.allowed:
            return Retry(after=timedelta(seconds=1 / endpoint.rate_limit), reason="rate limit")
    gates = _gates_for(ctx.settings)
    if not gates.try_enter(endpoint.id):
        return Retry(after=BUSY_RETRY, reason="endpoint busy")
    try:
        prepared = prepare(keyring_for(ctx.settings), endpoint, delivery.id, event)
        client = shared_client(ctx.settings.webhook_allowed_networks)
        result = await send(client, prepared)
    finally:
        gates.leave(endpoint.id)
    if result.succeeded:
        await record_success(
            ctx.session, delivery, endpoint, result, attempted_at=at, trigger=trigger
        )
        return None
    await record(
        ctx.session,
        delivery_id,
        result,
        attempted_at=at,
        trigger=trigger,
        expected_attempts=delivery.attempts,
        disable_after=timedelta(days=ctx.settings.webhook_disable_after_days),
    )
    return None


@job(RETENTION_JOB, max_attempts=3, timeout=600)
async def prune_history(ctx: JobContext) -> None:
    cutoff = now() - timedelta(days=ctx.settings.webhook_retention_days)
    attempts, deliveries, events = await repository.prune(ctx.session, cutoff)
    ctx.log.info("webhook_history_pruned", attempts=attempts, deliveries=deliveries, events=events)


schedule(RETENTION_JOB, "41 3 * * *", RETENTION_JOB)
