"""``python -m chaos [--quick]`` (``make chaos``): on fresh PostgreSQL databases, run the
scale-out deployment (two ``interlink api``, two ``interlink worker``) and kill a random process
with SIGKILL every few seconds, twice: while events are published to a local receiver (then
check the receiver's ledger and the job table), and while captures, voids and refunds race
through a Stripe integration served by localstripe (then check Interlink's payment ledger
against the provider's records). Prints the figures and a verdict; exits 1 on FAIL."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from typing import Any

from bench.__main__ import database, pg_reachable
from chaos import outbound, payments


async def main_async(quick: bool) -> dict[str, Any]:
    reason = await pg_reachable()
    if reason is not None:
        return {"verdict": "NOT RUN", "reason": f"PostgreSQL unreachable: {reason}"}
    receiver = subprocess.Popen(  # noqa: ASYNC220 - started once
        [sys.executable, "-m", "bench.receiver"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert receiver.stdout is not None
        port = int(receiver.stdout.readline().split()[1])
        with tempfile.TemporaryDirectory(prefix="interlink-chaos-") as logdir:
            async with database("postgresql") as (url, _raw):
                delivery = await outbound.run(url, port, quick, logdir)
            async with database("postgresql") as (url, _raw):
                money = await payments.run(url, quick, logdir)
        both = (delivery["verdict"], money["verdict"])
        return {
            "verdict": "PASS" if both == ("PASS", "PASS") else "FAIL",
            "outbound": delivery,
            "payments": money,
        }
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few hundred events")
    args = parser.parse_args()
    result = asyncio.run(main_async(args.quick))
    print(json.dumps(result, indent=2))
    print(f"verdict: {result['verdict']}")
    sys.exit(0 if result["verdict"] in ("PASS", "NOT RUN") else 1)


if __name__ == "__main__":
    main()
