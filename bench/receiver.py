"""The benchmark's webhook receiver: answers 200 at once and keeps, per ``webhook-id``, the
arrival time of its first copy and the event it carried (the ledger the run is checked against)."""

from __future__ import annotations

import asyncio
import sys
import time

import orjson
from aiohttp import web

_first: dict[str, tuple[str, float]] = {}
_total = 0


async def _receive(request: web.Request) -> web.Response:
    global _total
    body = await request.read()
    at = time.time()
    _total += 1
    msg_id = request.headers.get("webhook-id", "")
    if msg_id not in _first:
        event_id = orjson.loads(body).get("id", "") if body else ""
        _first[msg_id] = (event_id, at)
    return web.Response(text="ok")


async def _stats(_request: web.Request) -> web.Response:
    return web.json_response({"distinct": len(_first), "total": _total})


async def _arrivals(_request: web.Request) -> web.Response:
    rows = [[msg_id, event_id, at] for msg_id, (event_id, at) in _first.items()]
    return web.Response(body=orjson.dumps(rows), content_type="application/json")


async def _reset(_request: web.Request) -> web.Response:
    global _total
    _first.clear()
    _total = 0
    return web.Response(text="reset")


async def _main() -> None:
    app = web.Application()
    app.router.add_get("/_stats", _stats)
    app.router.add_get("/_arrivals", _arrivals)
    app.router.add_post("/_reset", _reset)
    app.router.add_post("/{path:.*}", _receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main())
