"""The client layer every adapter uses for its provider's HTTP API.

One ``ProviderClient`` per integration and operation: aiohttp with timeouts; retries with
exponential backoff and full jitter only for calls that are safe to repeat (idempotent methods, or
a call carrying an idempotency key); the integration's rate limit and the provider's own 429 /
Retry-After signals; a circuit breaker; and an audit record of every attempt handed to a sink that
the calling domain provides (adapters never touch the database).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp

from interlink.kit.ssrf import BlockedAddress
from interlink.providers.breaker import CircuitBreaker
from interlink.providers.errors import AddressRefused, CircuitOpen, ProviderUnavailable
from interlink.providers.ratelimit import ProviderRateLimiter

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
EXCERPT_CHARS = 2000
REDACTED = "[redacted]"
_SECRET_NAME = re.compile(
    r"(secret|token|password|passwd|api[_-]?key|apikey|authorization|signature|credential|"
    r"consumer_key|client_id|cookie|card|cvc|number)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class CallRecord:
    """One attempt of one outbound call, already redacted."""

    operation: str
    method: str
    url: str
    status_code: int | None
    outcome: str  # ok | http_error | network_error | timeout | blocked
    error: str | None
    latency_ms: float
    attempt: int
    correlation_id: str | None
    request_excerpt: str | None
    response_excerpt: str | None


AuditSink = Callable[[CallRecord], Awaitable[None]]


async def discard(_record: CallRecord) -> None:
    return None


@dataclass(frozen=True)
class ProviderResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class RetryPolicy:
    max_attempts: int = 3
    backoff_base: float = 0.25
    backoff_cap: float = 8.0
    # a provider asking for a longer pause than this ends the call with a retry hint instead
    max_retry_after: float = 10.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))


@dataclass
class ProviderClient:
    key: str  # the integration id: the unit of rate limit, breaker and audit
    audit: AuditSink = discard
    limiter: ProviderRateLimiter | None = None
    rate_limit: str = "25/second"
    breaker: CircuitBreaker | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 15.0
    correlation_id: str | None = None
    secrets: tuple[str, ...] = ()
    session: aiohttp.ClientSession | None = None
    connector_factory: Callable[[], aiohttp.BaseConnector] | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    max_rate_wait: float = 5.0

    async def request(
        self,
        method: str,
        url: str,
        *,
        operation: str = "",
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
        idempotency_key: str | None = None,
        idempotency_header: str = "Idempotency-Key",
        safe_to_retry: bool | None = None,
    ) -> ProviderResponse:
        """Send the request, retrying what is safe to retry. Returns any HTTP response after the
        last attempt (the adapter interprets 4xx); raises ``ProviderUnavailable`` (or
        ``CircuitOpen``) when no usable answer came back."""
        method = method.upper()
        send_headers = dict(headers or {})
        if idempotency_key is not None:
            send_headers[idempotency_header] = idempotency_key
        if self.correlation_id:
            send_headers.setdefault("X-Request-Id", self.correlation_id)
        retryable = (
            safe_to_retry
            if safe_to_retry is not None
            else method in SAFE_METHODS or idempotency_key is not None
        )
        attempts = self.retry.max_attempts if retryable else 1
        request_excerpt = self._excerpt_request(json_body, data)
        last_error: ProviderUnavailable | None = None
        for attempt in range(1, attempts + 1):
            await self._take_budget()
            if self.breaker is not None and not self.breaker.allow():
                raise CircuitOpen(
                    "Calls to this integration are paused after repeated failures; "
                    f"retry in {self.breaker.retry_after():.0f} s.",
                    retry_after=max(1.0, self.breaker.retry_after()),
                )
            response, error = await self._attempt(
                method,
                url,
                operation,
                send_headers,
                params,
                json_body,
                data if content is None else content,
                attempt,
                request_excerpt,
            )
            if response is not None and response.status not in RETRY_STATUSES:
                self._breaker_result(ok=response.status < 500)
                return response
            if response is not None:
                self._breaker_result(ok=response.status == 429)
                wait = await self._honour_signals(response)
                last_error = ProviderUnavailable(
                    f"The provider answered {response.status}.", retry_after=wait or None
                )
                if attempt == attempts:
                    return response
                if wait is not None and wait > self.retry.max_retry_after:
                    raise last_error
                await self.sleep(wait if wait is not None else self.retry.delay(attempt))
                continue
            last_error = error
            if isinstance(error, AddressRefused):
                break  # an address the policy refuses stays refused
            self._breaker_result(ok=False)
            if attempt < attempts:
                await self.sleep(self.retry.delay(attempt))
        assert last_error is not None
        raise last_error

    async def _take_budget(self) -> None:
        if self.limiter is None:
            return
        wait = await self.limiter.acquire(self.key, self.rate_limit, self.max_rate_wait)
        if wait > 0:
            raise ProviderUnavailable(
                f"The provider's rate limit for this integration is exhausted; retry in "
                f"{wait:.0f} s.",
                retry_after=max(1.0, wait),
            )

    async def _honour_signals(self, response: ProviderResponse) -> float | None:
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if response.status == 429 and self.limiter is not None:
            await self.limiter.pause(self.key, wait if wait is not None else 1.0)
        return wait

    def _breaker_result(self, *, ok: bool) -> None:
        if self.breaker is None:
            return
        if ok:
            self.breaker.record_success()
        else:
            self.breaker.record_failure()

    async def _attempt(
        self,
        method: str,
        url: str,
        operation: str,
        headers: dict[str, str],
        params: Mapping[str, str] | None,
        json_body: Any,
        data: Mapping[str, str] | bytes | None,
        attempt: int,
        request_excerpt: str | None,
    ) -> tuple[ProviderResponse | None, ProviderUnavailable | None]:
        started = time.perf_counter()
        full_url = _with_params(url, params)
        response: ProviderResponse | None = None
        error: ProviderUnavailable | None = None
        outcome, error_text = "ok", None
        try:
            session, owned = await self._session()
            try:
                async with session.request(
                    method,
                    full_url,
                    headers=headers,
                    json=json_body,
                    data=data,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                ) as raw:
                    body = await raw.read()
                    response = ProviderResponse(raw.status, dict(raw.headers), body)
            finally:
                if owned:
                    await session.close()
            if response.status >= 400:
                outcome = "http_error"
        except TimeoutError:
            outcome, error_text = "timeout", f"no answer within {self.timeout:g} s"
        except aiohttp.ClientError as exc:
            outcome, error_text = "network_error", type(exc).__name__
        except BlockedAddress as exc:
            outcome, error_text = "blocked", f"address refused: {exc.reason}"
        except OSError as exc:
            outcome, error_text = "network_error", type(exc).__name__
        if response is None:
            error = (
                AddressRefused(f"The provider's address is refused ({error_text}).")
                if outcome == "blocked"
                else ProviderUnavailable(
                    f"The provider could not be reached ({error_text}).", retry_after=5.0
                )
            )
        await self.audit(
            CallRecord(
                operation=operation,
                method=method,
                url=redact_url(full_url),
                status_code=response.status if response is not None else None,
                outcome=outcome,
                error=error_text,
                latency_ms=round((time.perf_counter() - started) * 1000, 2),
                attempt=attempt,
                correlation_id=self.correlation_id,
                request_excerpt=request_excerpt,
                response_excerpt=self._excerpt(response.body) if response is not None else None,
            )
        )
        return response, error

    async def _session(self) -> tuple[aiohttp.ClientSession, bool]:
        if self.session is not None:
            return self.session, False
        connector = self.connector_factory() if self.connector_factory else None
        return aiohttp.ClientSession(connector=connector), True

    def _excerpt_request(self, json_body: Any, data: Mapping[str, str] | None) -> str | None:
        if json_body is not None:
            return self._excerpt(json.dumps(redact_value(json_body)).encode())
        if data is not None:
            return self._excerpt(json.dumps(redact_value(dict(data))).encode())
        return None

    def _excerpt(self, body: bytes) -> str | None:
        if not body:
            return None
        text = body[: EXCERPT_CHARS * 2].decode("utf-8", errors="replace")
        with contextlib.suppress(ValueError):
            text = json.dumps(redact_value(json.loads(text)))
        return scrub(text, self.secrets)[:EXCERPT_CHARS]


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def redact_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            k: REDACTED if _SECRET_NAME.search(str(k)) else redact_value(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    return value


def redact_url(url: str) -> str:
    """The URL without user info and with secret-looking query values replaced."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    query = urlencode(
        [(k, REDACTED if _SECRET_NAME.search(k) else v) for k, v in parse_qsl(parts.query)],
        safe="[]",
    )
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def _with_params(url: str, params: Mapping[str, str] | None) -> str:
    if not params:
        return url
    joiner = "&" if urlsplit(url).query else "?"
    return url + joiner + urlencode(params)
