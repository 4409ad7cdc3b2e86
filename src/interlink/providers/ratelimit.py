"""Per-integration outbound rate limits on the ``limits`` library, in Redis when configured so that
every process shares one budget per provider account, and pauses that providers ask for (429 with
``Retry-After``) shared the same way."""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

if TYPE_CHECKING:
    from redis.asyncio import ConnectionPool


class ProviderRateLimiter:
    def __init__(self, redis_url: str | None = None, *, prefix: str = "interlink-out") -> None:
        self._pool: ConnectionPool | None = None
        if redis_url:
            # redis-py (about 3 MiB of the API process) only where Redis is configured
            from redis.asyncio import ConnectionPool

            self._pool = ConnectionPool.from_url(redis_url)
            self.storage: Storage = storage_from_string(  # type: ignore[assignment]
                "async+" + redis_url,
                implementation="redispy",
                key_prefix=prefix,
                connection_pool=self._pool,  # type: ignore[arg-type]  # passed to redis-py
            )
        else:
            self.storage = MemoryStorage()
        self.limiter = MovingWindowRateLimiter(self.storage)
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, spec: str) -> RateLimitItem:
        item = self._items.get(spec)
        if item is None:
            item = self._items[spec] = parse(spec)
        return item

    async def try_acquire(self, key: str, spec: str) -> float:
        """Take one call from the budget: 0.0 when allowed, else the seconds to wait."""
        paused = await self.paused_for(key)
        if paused > 0:
            return paused
        item = self._item(spec)
        if await self.limiter.hit(item, "provider", key):
            return 0.0
        stats = await self.limiter.get_window_stats(item, "provider", key)
        return max(0.01, stats.reset_time - time.time())

    async def acquire(self, key: str, spec: str, max_wait: float) -> float:
        """Wait for budget up to ``max_wait`` seconds; returns 0.0 when acquired, else the wait
        that would still be needed."""
        deadline = time.monotonic() + max_wait
        while True:
            wait = await self.try_acquire(key, spec)
            if wait == 0.0:
                return 0.0
            if time.monotonic() + wait > deadline:
                return wait
            await asyncio.sleep(wait)

    async def pause(self, key: str, seconds: float) -> None:
        """Stop all calls for ``key`` for ``seconds``, as a provider's Retry-After asks."""
        await self.storage.clear(f"pause/{key}")
        await self.storage.incr(f"pause/{key}", expiry=max(1, math.ceil(seconds)))

    async def paused_for(self, key: str) -> float:
        if await self.storage.get(f"pause/{key}") <= 0:
            return 0.0
        return max(0.01, await self.storage.get_expiry(f"pause/{key}") - time.time())

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.disconnect()
