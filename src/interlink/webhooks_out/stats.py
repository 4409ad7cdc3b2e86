"""Delivery queue gauges, read from the database at scrape time (the shared truth)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.kit.clock import now
from interlink.models.webhook import DELIVERY_STATES
from interlink.observability import metrics
from interlink.webhooks_out import repository


async def refresh(session: AsyncSession) -> None:
    counts, oldest = await repository.delivery_stats(session)
    by_state = dict.fromkeys(DELIVERY_STATES, 0) | dict(counts)
    for state, count in by_state.items():
        metrics.WEBHOOK_DELIVERIES_BY_STATE.labels(state).set(count)
    age = (now() - oldest).total_seconds() if oldest is not None else 0.0
    metrics.WEBHOOK_OLDEST_PENDING_AGE.set(max(0.0, age))
