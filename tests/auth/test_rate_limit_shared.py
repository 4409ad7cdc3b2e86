"""Replicas share per-key counters through Redis."""

from __future__ import annotations

import os
import secrets

import pytest
import redis

from interlink.auth.rate_limit import KeyRateLimiter

REDIS_URL = os.environ.get("INTERLINK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_unavailable() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return str(exc)
    return None


@pytest.fixture(scope="module")
def redis_url() -> str:
    reason = _redis_unavailable()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but Redis is unreachable: {reason}")
        pytest.skip(f"Redis unreachable: {reason}")
    return REDIS_URL


async def test_two_replicas_share_one_keys_limit_through_redis(redis_url: str) -> None:
    first = KeyRateLimiter("1000/second", redis_url)
    second = KeyRateLimiter("1000/second", redis_url)
    key_id = f"key_{secrets.token_hex(6)}"

    try:
        decisions = [
            await (first if i % 2 == 0 else second).hit(key_id, "4/minute") for i in range(5)
        ]
    finally:
        await first.close()
        await second.close()

    assert [d.allowed for d in decisions] == [True, True, True, True, False]
    assert decisions[-1].headers()["Retry-After"]


async def test_replicas_in_memory_count_alone() -> None:
    first = KeyRateLimiter("1000/second")
    second = KeyRateLimiter("1000/second")

    decisions = [await limiter.hit("key_x", "2/minute") for limiter in (first, first, second)]

    assert [d.allowed for d in decisions] == [True, True, True]


async def test_unreachable_redis_lets_requests_through() -> None:
    limiter = KeyRateLimiter("1000/second", "redis://127.0.0.1:1/0")
    try:
        decision = await limiter.hit("key_x", "1/minute")
        again = await limiter.hit("key_x", "1/minute")
    finally:
        await limiter.close()

    assert decision.allowed
    assert again.allowed
