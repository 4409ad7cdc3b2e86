"""What every provider call in a process shares: the keyring, the outbound rate limiter (Redis when
configured), the circuit breakers and the address policy."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.integrations.audit import BufferedAuditSink
from interlink.kit.crypto import Keyring
from interlink.kit.ssrf import AddressPolicy, guarded_connector
from interlink.observability.context import current_request_id
from interlink.providers.base import ConnectionSpec, GatewayContext
from interlink.providers.breaker import BreakerBoard
from interlink.providers.http import ProviderClient, RetryPolicy
from interlink.providers.ratelimit import ProviderRateLimiter


@dataclass
class ProviderRuntime:
    db: Database
    settings: Settings
    keyring: Keyring
    limiter: ProviderRateLimiter
    breakers: BreakerBoard
    policy: AddressPolicy
    _http: aiohttp.ClientSession | None = None
    _http_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def build(cls, db: Database, settings: Settings, keyring: Keyring) -> ProviderRuntime:
        return cls(
            db=db,
            settings=settings,
            keyring=keyring,
            limiter=ProviderRateLimiter(settings.redis_url),
            breakers=BreakerBoard(
                settings.provider_breaker_threshold, settings.provider_breaker_cooldown_seconds
            ),
            policy=AddressPolicy(settings.provider_allowed_networks),
        )

    def context(
        self,
        spec: ConnectionSpec,
        *,
        tenant_id: str,
        integration_id: str,
        environment: str,
        credentials: Mapping[str, Any],
        settings: Mapping[str, Any],
        sink: BufferedAuditSink,
    ) -> GatewayContext:
        client = ProviderClient(
            key=integration_id,
            audit=sink,
            limiter=self.limiter,
            rate_limit=spec.rate_limit,
            breaker=self.breakers.get(integration_id),
            retry=RetryPolicy(max_attempts=self.settings.provider_max_attempts),
            timeout=self.settings.provider_timeout_seconds,
            correlation_id=current_request_id(),
            secrets=tuple(v for v in credentials.values() if isinstance(v, str) and v),
            session=self.http(),
        )
        return GatewayContext(
            tenant_id=tenant_id,
            integration_id=integration_id,
            environment="production" if environment == "production" else "sandbox",
            credentials=credentials,
            settings=settings,
            client=client,
        )

    def http(self) -> aiohttp.ClientSession:
        """One pooled, SSRF-guarded HTTP session per process, so provider connections are
        reused (keep-alive, TLS sessions)."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._http.closed or self._http_loop is not loop:
            self._http = aiohttp.ClientSession(connector=guarded_connector(self.policy))
            self._http_loop = loop
        return self._http

    async def close(self) -> None:
        if self._http is not None and not self._http.closed:
            await self._http.close()
        await self.limiter.close()


_runtimes: dict[int, ProviderRuntime] = {}


def runtime_for(
    db: Database, settings: Settings, keyring: Keyring | None = None
) -> ProviderRuntime:
    """The process's runtime for this database (built once; jobs load the keyring here)."""
    runtime = _runtimes.get(id(db))
    if runtime is None or runtime.db is not db:
        if keyring is None:
            from interlink.keyring import load_keyring

            keyring = load_keyring(settings)
        runtime = _runtimes[id(db)] = ProviderRuntime.build(db, settings, keyring)
    return runtime


async def close_runtime(db: Database) -> None:
    """Release what the runtime holds (the Redis connection pool) at process shutdown."""
    runtime = _runtimes.pop(id(db), None)
    if runtime is not None:
        await runtime.close()
