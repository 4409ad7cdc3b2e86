"""The delivery client's connection pool: sends to one host are bounded by the dispatcher (per
endpoint and in all), not by a per-host cap that would let one slow endpoint hold every connection
its neighbours on the same host need."""

from __future__ import annotations

import asyncio

from aiohttp import web

from interlink.kit.ssrf import AddressPolicy
from interlink.webhooks_out.client import DeliveryClient

IN_FLIGHT = 40  # more than the 32 connections per host the pool once allowed


async def test_more_sends_to_one_host_than_a_per_host_cap_are_in_flight_together() -> None:
    arrived = 0
    all_here = asyncio.Event()

    async def hold(request: web.Request) -> web.Response:
        nonlocal arrived
        arrived += 1
        if arrived == IN_FLIGHT:
            all_here.set()
        # nobody is answered until every send is connected at once; a send still waiting for a
        # connection after a generous while means the pool capped them
        try:
            await asyncio.wait_for(all_here.wait(), timeout=15)
        except TimeoutError:
            return web.Response(status=503, text="not all sends were in flight together")
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook/{n}", hold)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = DeliveryClient(AddressPolicy(["127.0.0.0/8"]))
    try:
        results = await asyncio.gather(
            *(
                client.send(f"http://127.0.0.1:{port}/hook/{n}", b"{}", {}, timeout=60)
                for n in range(IN_FLIGHT)
            )
        )
    finally:
        await client.close()
        await runner.cleanup()

    assert [r.status_code for r in results] == [200] * IN_FLIGHT
