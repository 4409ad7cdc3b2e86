from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys

import pytest

from interlink.providers.ratelimit import ProviderRateLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def redis_url() -> str:
    if not _redis_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but Redis at 127.0.0.1:6379 is unreachable")
        pytest.skip("Redis at 127.0.0.1:6379 is unreachable")
    return REDIS_URL


@pytest.mark.slow
def test_provider_limit_holds_across_two_processes_sharing_redis(
    redis_url: str, subprocess_env: dict[str, str]
) -> None:
    key = f"int_shared_{secrets.token_hex(4)}"
    command = [
        sys.executable,
        "-m",
        "tests.fixtures.rate_limit_probe",
        redis_url,
        key,
        "7/minute",
        "10",
    ]
    processes = [
        subprocess.Popen(command, env=subprocess_env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=30)[0] for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    assert all(p.returncode == 0 for p in processes)
    assert sum(int(out.strip()) for out in outputs) == 7


async def test_pause_requested_by_a_provider_is_seen_by_another_limiter(redis_url: str) -> None:
    key = f"int_pause_{secrets.token_hex(4)}"
    one, two = ProviderRateLimiter(redis_url), ProviderRateLimiter(redis_url)

    try:
        await one.pause(key, 30)

        assert await two.try_acquire(key, "100/second") > 20
    finally:
        await one.close()
        await two.close()
