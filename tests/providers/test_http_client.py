"""The provider client layer against a small local HTTP server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from interlink.providers.breaker import CircuitBreaker
from interlink.providers.errors import CircuitOpen, ProviderUnavailable
from interlink.providers.http import CallRecord, ProviderClient, RetryPolicy
from interlink.providers.ratelimit import ProviderRateLimiter

SECRET = "sk_test_supersecretvalue9999"


class Script:
    """Answers each request with the next scripted (status, headers, body)."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], Any]] = []
        self.seen: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(
            {
                "method": request.method,
                "path": request.path_qs,
                "headers": request.headers.copy(),
                "body": await request.text(),
            }
        )
        status, headers, body = self.answers.pop(0) if self.answers else (200, {}, {"ok": True})
        return web.json_response(body, status=status, headers=headers)


@pytest.fixture
async def server() -> AsyncIterator[tuple[TestServer, Script]]:
    script = Script()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", script.handle)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    try:
        yield srv, script
    finally:
        await srv.close()


class Recorder:
    def __init__(self) -> None:
        self.records: list[CallRecord] = []
        self.sleeps: list[float] = []

    async def audit(self, record: CallRecord) -> None:
        self.records.append(record)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def client(rec: Recorder, **kwargs: Any) -> ProviderClient:
    values: dict[str, Any] = {
        "key": "int_test",
        "audit": rec.audit,
        "sleep": rec.sleep,
        "retry": RetryPolicy(max_attempts=3, backoff_base=0.01),
        "correlation_id": "req_corr_1",
        "secrets": (SECRET,),
    }
    values.update(kwargs)
    return ProviderClient(**values)


async def test_safe_call_is_retried_after_5xx_and_every_attempt_is_audited(
    server: tuple[TestServer, Script],
) -> None:
    srv, script = server
    script.answers = [(503, {}, {"error": "down"}), (502, {}, {}), (200, {}, {"balance": 1})]
    rec = Recorder()

    response = await client(rec).request(
        "GET",
        str(srv.make_url("/v1/balance")),
        operation="test",
        headers={"Authorization": f"Bearer {SECRET}"},
    )

    assert response.status == 200
    assert [r.attempt for r in rec.records] == [1, 2, 3]
    assert [r.status_code for r in rec.records] == [503, 502, 200]
    assert all(r.correlation_id == "req_corr_1" for r in rec.records)
    assert len(rec.sleeps) == 2
    assert script.seen[0]["headers"]["X-Request-Id"] == "req_corr_1"


async def test_unsafe_call_without_idempotency_key_is_not_repeated(
    server: tuple[TestServer, Script],
) -> None:
    srv, script = server
    script.answers = [(503, {}, {"error": "down"})]
    rec = Recorder()

    response = await client(rec).request("POST", str(srv.make_url("/charges")), json_body={"a": 1})

    assert response.status == 503
    assert len(script.seen) == 1
    assert rec.sleeps == []


async def test_unsafe_call_with_idempotency_key_is_retried_with_the_same_key(
    server: tuple[TestServer, Script],
) -> None:
    srv, script = server
    script.answers = [(500, {}, {}), (200, {}, {"id": "ch_1"})]
    rec = Recorder()

    response = await client(rec).request(
        "POST", str(srv.make_url("/charges")), json_body={"amount": 5}, idempotency_key="pi_123"
    )

    assert response.status == 200
    assert [s["headers"]["Idempotency-Key"] for s in script.seen] == ["pi_123", "pi_123"]


async def test_retry_after_is_honoured(server: tuple[TestServer, Script]) -> None:
    srv, script = server
    script.answers = [(429, {"Retry-After": "3"}, {}), (200, {}, {})]
    rec = Recorder()

    response = await client(rec).request("GET", str(srv.make_url("/x")))

    assert response.status == 200
    assert rec.sleeps == [3.0]


async def test_a_long_retry_after_ends_the_call_with_the_advice(
    server: tuple[TestServer, Script],
) -> None:
    srv, script = server
    script.answers = [(503, {"Retry-After": "120"}, {})]
    rec = Recorder()

    with pytest.raises(ProviderUnavailable) as caught:
        await client(rec).request("GET", str(srv.make_url("/x")))

    assert caught.value.retry_after == 120.0
    assert len(script.seen) == 1


async def test_audit_records_hold_no_secret(server: tuple[TestServer, Script]) -> None:
    srv, script = server
    script.answers = [(200, {}, {"echo": SECRET, "access_token": "tok_abcdef123456"})]
    rec = Recorder()

    await client(rec).request(
        "POST",
        str(srv.make_url("/token")) + f"?consumer_secret={SECRET}&page=2",
        json_body={
            "password": "hunter2hunter2",
            "card": {"number": "4242424242424242"},
            "note": SECRET,
        },
        headers={"Authorization": f"Bearer {SECRET}"},
    )

    record = rec.records[0]
    dumped = json.dumps(record.__dict__)
    assert SECRET not in dumped
    assert "hunter2hunter2" not in dumped
    assert "4242424242424242" not in dumped
    assert "tok_abcdef123456" not in dumped
    assert "page=2" in record.url
    assert record.status_code == 200
    assert record.latency_ms >= 0


async def test_unreachable_provider_is_a_typed_unavailable_error() -> None:
    rec = Recorder()

    with pytest.raises(ProviderUnavailable):
        await client(rec).request("GET", "http://127.0.0.1:9/nothing-listens-here")

    assert [r.outcome for r in rec.records] == ["network_error"] * 3


async def test_breaker_opens_after_failures_and_half_opens_after_cooldown(
    server: tuple[TestServer, Script],
) -> None:
    srv, script = server
    clock = [1000.0]
    breaker = CircuitBreaker(threshold=2, cooldown=30, clock=lambda: clock[0])
    rec = Recorder()
    c = client(rec, breaker=breaker, retry=RetryPolicy(max_attempts=1))
    url = str(srv.make_url("/x"))
    script.answers = [(500, {}, {}), (500, {}, {})]

    await c.request("GET", url)
    await c.request("GET", url)
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen) as caught:
        await c.request("GET", url)
    assert len(script.seen) == 2
    assert caught.value.retry_after == 30

    clock[0] += 31
    assert breaker.state == "half_open"
    script.answers = [(500, {}, {})]
    await c.request("GET", url)  # the trial call fails: open again
    assert breaker.state == "open"
    clock[0] += 31
    response = await c.request("GET", url)  # the next trial succeeds: closed
    assert response.status == 200
    assert breaker.state == "closed"


def test_half_open_lets_one_trial_through_at_a_time() -> None:
    clock = [0.0]
    breaker = CircuitBreaker(threshold=1, cooldown=10, clock=lambda: clock[0])
    breaker.record_failure()
    assert not breaker.allow()
    clock[0] = 11
    assert breaker.allow()
    assert not breaker.allow()


async def test_429_pauses_all_calls_of_the_integration(server: tuple[TestServer, Script]) -> None:
    srv, script = server
    limiter = ProviderRateLimiter()
    script.answers = [(429, {"Retry-After": "60"}, {})]
    rec = Recorder()
    c = client(rec, limiter=limiter, rate_limit="100/second", max_rate_wait=0.0)

    with pytest.raises(ProviderUnavailable):
        await c.request("GET", str(srv.make_url("/x")))
    with pytest.raises(ProviderUnavailable, match="rate limit"):
        await c.request("GET", str(srv.make_url("/x")))

    assert len(script.seen) == 1
    assert await limiter.paused_for("int_test") > 50
