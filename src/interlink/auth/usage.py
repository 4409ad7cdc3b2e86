"""Per-key usage: ``last_used_at`` and daily request counts.

Counts are gathered in memory and written in one batch every few seconds (and at shutdown), so a
request does not pay for a second write; a crash loses at most those seconds of statistics, never
anything a client was told was accepted.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date, datetime

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from interlink.db.engine import Database
from interlink.kit.clock import now
from interlink.models import ApiKey, ApiKeyUsage

log = structlog.get_logger(__name__)


class UsageRecorder:
    def __init__(self, db: Database, flush_interval: float = 5.0) -> None:
        self.db = db
        self.flush_interval = flush_interval
        self._counts: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])
        self._last_used: dict[str, datetime] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def record(self, key_id: str, status: int) -> None:
        at = now()
        counts = self._counts[(key_id, at.date())]
        counts[0] += 1
        if status >= 400:
            counts[1] += 1
        self._last_used[key_id] = at

    async def flush(self) -> None:
        async with self._lock:
            if not self._counts and not self._last_used:
                return
            counts, self._counts = self._counts, defaultdict(lambda: [0, 0])
            last_used, self._last_used = self._last_used, {}
            dialect = postgresql if not self.db.is_sqlite else sqlite
            async with self.db.session() as session:
                # keys removed since (a deleted tenant) have nothing left to count against
                live = set(
                    await session.scalars(select(ApiKey.id).where(ApiKey.id.in_(list(last_used))))
                )
                for (key_id, day), (requests, errors) in counts.items():
                    if key_id not in live:
                        continue
                    stmt = dialect.insert(ApiKeyUsage).values(
                        api_key_id=key_id, day=day, request_count=requests, error_count=errors
                    )
                    stmt = stmt.on_conflict_do_update(
                        index_elements=["api_key_id", "day"],
                        set_={
                            "request_count": ApiKeyUsage.request_count + requests,
                            "error_count": ApiKeyUsage.error_count + errors,
                        },
                    )
                    await session.execute(stmt)
                for key_id, at in last_used.items():
                    if key_id not in live:
                        continue
                    await session.execute(
                        update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=at)
                    )
                await session.commit()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            try:
                await self.flush()
            except Exception:
                log.exception("usage_flush_failed")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="api-key-usage-flush")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        try:
            await self.flush()
        except Exception:
            log.exception("usage_flush_failed")
