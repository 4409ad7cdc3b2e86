"""Per-key rate limits on the ``limits`` library: in memory by default, in Redis when configured so
that every replica shares the same counters."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    import redis.asyncio
    from limits import RateLimitItem
    from limits.aio.storage import Storage
    from limits.aio.strategies import MovingWindowRateLimiter

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RateLimitDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, self.reset_after))
        return headers


class KeyRateLimiter:
    """Built on first use: a worker whose endpoints have no rate limit never loads ``limits``
    (~2 MiB with its dependencies)."""

    def __init__(self, default: str, redis_url: str | None = None) -> None:
        self._default_spec = default
        self._redis_url = redis_url
        self._pool: redis.asyncio.ConnectionPool | None = None
        self._limiter: MovingWindowRateLimiter | None = None
        self._items: dict[str | None, RateLimitItem] = {}

    @property
    def limiter(self) -> MovingWindowRateLimiter:
        if self._limiter is None:
            from limits.aio.storage import MemoryStorage
            from limits.aio.strategies import MovingWindowRateLimiter

            storage: Storage
            if self._redis_url:
                import redis.asyncio  # only with Redis configured
                from limits.storage import storage_from_string

                # our own pool (redis-py, already a dependency) so that shutdown can close it
                self._pool = redis.asyncio.ConnectionPool.from_url(self._redis_url)
                # limits types its pass-through client options as scalars; a pool is accepted
                storage = storage_from_string(  # type: ignore[assignment]
                    "async+" + self._redis_url,
                    implementation="redispy",
                    connection_pool=self._pool,  # type: ignore[arg-type]
                )
            else:
                storage = MemoryStorage()
            self._limiter = MovingWindowRateLimiter(storage)
        return self._limiter

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.disconnect()

    def _item(self, spec: str | None) -> RateLimitItem:
        item = self._items.get(spec)
        if item is None:
            from limits import parse

            item = self._items[spec] = parse(self._default_spec if spec is None else spec)
        return item

    async def hit(self, key_id: str, spec: str | None = None) -> RateLimitDecision:
        """Count one request. If the counter store is unreachable the request is let through
        (and logged): an outage of Redis must not become an outage of the API."""
        item = self._item(spec)
        try:
            allowed = await self.limiter.hit(item, "api_key", key_id)
            stats = await self.limiter.get_window_stats(item, "api_key", key_id)
        except Exception as exc:
            log.warning("rate_limit_store_unavailable", error=str(exc))
            return RateLimitDecision(True, item.amount, item.amount, item.get_expiry())
        reset_after = max(0, math.ceil(stats.reset_time - time.time()))
        return RateLimitDecision(
            allowed=allowed,
            limit=item.amount,
            remaining=max(0, stats.remaining),
            reset_after=reset_after,
        )
