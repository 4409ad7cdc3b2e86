"""S5 payments: authorize + capture with idempotency keys against the sandbox provider.

Runs the real application in-process (ASGI, no network) on SQLite by default or on
``INTERLINK_BENCH_DATABASE_URL``; reports requests/s, p50/p99 of authorize and capture, and the
cost of an idempotent replay as a ratio to the first request (target: at most 0.2 of it). Writes
``bench/results/s5_payments.json``.

    .venv/bin/python -m bench.s5_payments [--quick] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from interlink.app import create_app
from interlink.config import Settings
from interlink.db.migrations import upgrade

KEYRING = "bench:" + base64.b64encode(b"b" * 32).decode()
RESULTS = Path(__file__).parent / "results"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def setup(client: httpx.AsyncClient, app: Any) -> dict[str, str]:
    from interlink.auth import service as keys
    from interlink.tenants import service as tenants
    from interlink.tenants.schemas import TenantCreate

    async with app.state.db.session() as session:
        tenant = await tenants.create(session, TenantCreate(name="Bench"))
        issued = await keys.issue(session, tenant_id=tenant.id, scopes=["admin"], mode="test")
        await session.commit()
    headers = {"Authorization": f"Bearer {issued.key}"}
    created = await client.post(
        "/v1/integrations",
        json={"connection_code": "sandbox_payment", "name": "Bench"},
        headers=headers,
    )
    await client.post(
        f"/v1/entities/tenant/{tenant.id}/integrations",
        json={"integration_id": created.json()["id"], "purpose": "payments", "is_default": True},
        headers=headers,
    )
    return headers


async def one_payment(
    client: httpx.AsyncClient, headers: dict[str, str], n: int, timings: dict[str, list[float]]
) -> None:
    order = f"ord_bench_{n}_{secrets.token_hex(3)}"
    snap = (
        await client.post(
            "/v1/checkout/quote",
            json={
                "order_id": order,
                "currency": "usd",
                "items": [{"variant_id": "v", "quantity": 1, "unit_amount": 1000}],
            },
            headers=headers,
        )
    ).json()
    body = {
        "order_id": order,
        "snapshot_id": snap["snapshot_id"],
        "payment_method": "pm_card_visa",
        "amount": 1000,
        "currency": "usd",
    }
    auth_headers = {**headers, "Idempotency-Key": secrets.token_hex(8)}
    started = time.perf_counter()
    authorized = await client.post("/v1/payments/authorize", json=body, headers=auth_headers)
    timings["authorize"].append(time.perf_counter() - started)
    assert authorized.status_code == 200, authorized.text
    capture_headers = {**headers, "Idempotency-Key": secrets.token_hex(8)}
    path = f"/v1/payments/{authorized.json()['id']}/capture"
    started = time.perf_counter()
    captured = await client.post(path, json={}, headers=capture_headers)
    timings["capture"].append(time.perf_counter() - started)
    assert captured.status_code == 200, captured.text
    started = time.perf_counter()
    replay = await client.post(path, json={}, headers=capture_headers)
    timings["replay"].append(time.perf_counter() - started)
    assert replay.headers.get("idempotent-replayed") == "true"


async def run(total: int, concurrency: int, database_url: str) -> dict[str, Any]:
    settings = Settings(
        database_url=database_url,
        encryption_keys=KEYRING,
        rate_limit_default="100000/second",
        log_level="warning",
    )
    await upgrade(settings.database_url)
    app = create_app(settings)
    timings: dict[str, list[float]] = {"authorize": [], "capture": [], "replay": []}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = await setup(client, app)
            gate = asyncio.Semaphore(concurrency)

            async def bounded(n: int) -> None:
                async with gate:
                    await one_payment(client, headers, n, timings)

            started = time.perf_counter()
            await asyncio.gather(*(bounded(n) for n in range(total)))
            elapsed = time.perf_counter() - started
    first = statistics.median(timings["capture"])
    replay = statistics.median(timings["replay"])
    return {
        "scenario": "S5 payments",
        "database": database_url.split(":", 1)[0],
        "payments": total,
        "concurrency": concurrency,
        "payments_per_s": round(total / elapsed, 1),
        "requests_per_s": round(total * 4 / elapsed, 1),
        "authorize_ms": {
            "p50": pct(timings["authorize"], 0.5) * 1000,
            "p99": pct(timings["authorize"], 0.99) * 1000,
        },
        "capture_ms": {"p50": first * 1000, "p99": pct(timings["capture"], 0.99) * 1000},
        "replay_ms": {"p50": replay * 1000, "p99": pct(timings["replay"], 0.99) * 1000},
        "replay_vs_first_capture": round(replay / first, 3),
        "target_replay_ratio": 0.2,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    url = os.environ.get("INTERLINK_BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(
            run(50 if args.quick else 300, args.concurrency, url or f"sqlite:///{tmp}/bench.db")
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "s5_payments.json").write_text(json.dumps(result, indent=2))
    for key, value in result.items():
        print(f"{key:>26}  {value}")


if __name__ == "__main__":
    main()
