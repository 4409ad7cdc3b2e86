"""Scenario 2: concurrent partial captures and refunds against two replicas, each an
``interlink serve`` (API and worker in one process, because the sandbox provider keeps its state in
the process), while a random replica is killed with SIGKILL every few seconds and restarted.

The sandbox's records die with their process, so the check is the payment ledger in the
database: captured <= authorized, refunds (pending + succeeded) <= captured, void only while
nothing is captured, and no double movement: each intent's captured and refunded amounts equal
the sum of its succeeded capture and refund operations, its reserved refunds the sum of the
pending ones. Operations whose outcome died with a replica stay pending (never guessed)."""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import defaultdict
from typing import Any

import httpx
from sqlalchemy import text

from chaos.outbound import _admin_key, _killer, replica_env
from chaos.processes import Replica, free_port
from interlink.config import Settings
from interlink.db.engine import Database

AMOUNT = 6000  # 3 x 2000


async def _call(
    replicas: list[Replica],
    method: str,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    stats: dict[str, int],
    within: float = 60,
) -> httpx.Response | None:
    """Retried with the same Idempotency-Key until some replica answers (or ``within`` passes)."""
    key = {"Idempotency-Key": secrets.token_hex(12)}
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=10) as client:
        while time.monotonic() < deadline:
            replica = random.choice([r for r in replicas if r.alive] or replicas)
            try:
                response = await client.request(
                    method,
                    f"http://127.0.0.1:{replica.port}{path}",
                    json=body,
                    headers={**headers, **key},
                )
            except httpx.HTTPError:
                stats["retries"] += 1
                await asyncio.sleep(0.1)
                continue
            kind = _error_type(response)
            if response.status_code == 409 and kind == "idempotency":
                # the first try died with its replica: the key stays locked for 5 minutes, as
                # designed; a client retries after that, the run counts it and moves on
                stats["idempotency_key_locked_by_a_killed_request"] += 1
                return None
            if response.status_code >= 500 and kind != "provider":
                stats["retries"] += 1
                await asyncio.sleep(0.1)
                continue
            stats[f"status_{response.status_code}"] += 1
            return response
    stats["no_replica_answered"] += 1
    return None


def _error_type(response: httpx.Response) -> str | None:
    try:
        kind = response.json()["error"]["type"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(kind)


async def _one_order(
    n: int, replicas: list[Replica], headers: dict[str, str], stats: dict[str, int]
) -> None:
    order = f"ord_chaos_{n}"
    quote = await _call(
        replicas,
        "POST",
        "/v1/checkout/quote",
        {
            "order_id": order,
            "currency": "usd",
            "items": [{"variant_id": "v", "quantity": 3, "unit_amount": AMOUNT // 3}],
        },
        headers,
        stats,
    )
    if quote is None or quote.status_code != 201:
        return
    snap = quote.json()
    intent = await _call(
        replicas,
        "POST",
        "/v1/payments/authorize",
        {
            "order_id": order,
            "snapshot_id": snap["snapshot_id"],
            "payment_method": "pm_card_visa",
            "amount": AMOUNT,
            "currency": "usd",
        },
        headers,
        stats,
    )
    if intent is None or intent.status_code != 200:
        return
    pid = intent.json()["id"]
    # four captures of 2000 race for 6000 authorized, then five refunds of 1500 for what landed
    await asyncio.gather(
        *(
            _call(
                replicas,
                "POST",
                f"/v1/payments/{pid}/capture",
                {"amount": 2000, "final": False},
                headers,
                stats,
            )
            for _ in range(4)
        )
    )
    await asyncio.gather(
        *(
            _call(replicas, "POST", f"/v1/payments/{pid}/refund", {"amount": 1500}, headers, stats)
            for _ in range(5)
        )
    )


async def run(database_url: str, quick: bool, logdir: str) -> dict[str, Any]:
    orders = 80 if quick else 400
    env = replica_env(database_url)
    replicas = [
        Replica(f"serve{i}", [], env, port=free_port(), log=f"{logdir}/serve{i}.log")
        for i in range(2)
    ]
    for replica in replicas:
        replica.args = ["serve", "--port", str(replica.port)]
    await asyncio.to_thread(replicas[0].start)  # migrates first, alone
    await asyncio.to_thread(replicas[1].start)
    db = Database(
        Settings(database_url=database_url, encryption_keys=env["INTERLINK_ENCRYPTION_KEYS"])
    )
    stats: dict[str, int] = defaultdict(int)
    try:
        key = await _admin_key(db)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{replicas[0].port}") as client:
            created = await client.post(
                "/v1/integrations",
                json={"connection_code": "sandbox_payment", "name": "P"},
                headers=headers,
            )
            created.raise_for_status()
            tenant = (await client.get("/v1/api-keys", headers=headers)).json()["data"][0]
            linked = await client.post(
                f"/v1/entities/tenant/{tenant['tenant']}/integrations",
                json={
                    "integration_id": created.json()["id"],
                    "purpose": "payments",
                    "is_default": True,
                },
                headers=headers,
            )
            linked.raise_for_status()
        stop = asyncio.Event()
        started = time.monotonic()
        killer = asyncio.create_task(_killer(replicas, 5.0, stop))
        gate = asyncio.Semaphore(4)

        async def bounded(n: int) -> None:
            async with gate:
                await _one_order(n, replicas, headers, stats)

        await asyncio.gather(*(bounded(n) for n in range(orders)))
        stop.set()
        await killer
        elapsed = time.monotonic() - started
        verdict = await _ledger(db)
    finally:
        for replica in replicas:
            replica.stop()
        await db.dispose()
    return {
        "scenario": "chaos: concurrent captures and refunds under SIGKILL",
        "orders": orders,
        "seconds": round(elapsed, 1),
        "kills": {r.name: r.kills for r in replicas},
        "answers": dict(sorted(stats.items())),
        **verdict,
    }


LEDGER = """
SELECT i.id, i.status, i.amount, i.authorized_amount, i.captured_amount, i.refunded_amount,
       i.refund_pending_amount,
       COALESCE(SUM(o.amount) FILTER (WHERE o.operation = 'capture' AND o.status = 'succeeded'), 0),
       COALESCE(SUM(o.amount) FILTER (WHERE o.operation = 'refund' AND o.status = 'succeeded'), 0),
       COALESCE(SUM(o.amount) FILTER (WHERE o.operation = 'refund' AND o.status = 'pending'), 0),
       COUNT(o.id) FILTER (WHERE o.status = 'pending')
FROM payment_intents i LEFT JOIN payment_operations o ON o.intent_id = i.id
GROUP BY i.id
"""


async def _ledger(db: Database) -> dict[str, Any]:
    async with db.read_session() as session:
        rows = (await session.execute(text(LEDGER))).all()
    broken: list[str] = []
    pending = 0
    captured_total = refunded_total = 0
    for (
        pid,
        status,
        amount,
        authorized,
        captured,
        refunded,
        reserved,
        op_captured,
        op_refunded,
        op_reserved,
        op_pending,
    ) in rows:
        pending += op_pending
        captured_total += captured
        refunded_total += refunded
        problems = []
        if not captured <= authorized <= amount:
            problems.append("captured > authorized")
        if refunded + reserved > captured:
            problems.append("refunds > captured")
        if status == "voided" and captured:
            problems.append("voided after capture")
        if captured != op_captured:
            problems.append(f"captured {captured} != operations {op_captured}")
        if refunded != op_refunded:
            problems.append(f"refunded {refunded} != operations {op_refunded}")
        if reserved != op_reserved:
            problems.append(f"reserved {reserved} != pending refunds {op_reserved}")
        if problems:
            broken.append(f"{pid}: {', '.join(problems)}")
    return {
        "verdict": "PASS" if rows and not broken else "FAIL",
        "intents": len(rows),
        "captured_total": int(captured_total),
        "refunded_total": int(refunded_total),
        "operations_left_pending": int(pending),
        "ledger_violations": broken[:10],
    }
