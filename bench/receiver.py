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


# -- routes added for S3 (a receiver that is down) and S4 (a slow endpoint) ------------------

_down: dict[str, str] = {}  # while set: {"retry_after": seconds}; empty when the receiver is up
_refused = 0


async def _flaky(request: web.Request) -> web.Response:
    """``/flaky/...``: 503 with ``Retry-After`` while the receiver is down, else as ``/...``."""
    global _refused
    if _down:
        await request.read()
        _refused += 1
        return web.Response(status=503, text="down", headers={"Retry-After": _down["retry_after"]})
    return await _receive(request)


async def _set_down(request: web.Request) -> web.Response:
    """``POST /_down?retry_after=2`` takes ``/flaky/...`` down; ``POST /_down?up=1`` brings it
    back. Answers the number of requests refused since the last change, and the time."""
    global _refused
    refused = _refused
    _refused = 0
    if request.query.get("up"):
        _down.clear()
    else:
        _down["retry_after"] = request.query.get("retry_after", "2")
    return web.json_response({"refused": refused, "at": time.time()})


async def _slow(request: web.Request) -> web.Response:
    """``/slow/{ms}/...``: answers after ``ms`` milliseconds, else as ``/...``."""
    await asyncio.sleep(int(request.match_info["ms"]) / 1000)
    return await _receive(request)


def _add_scenario_routes(app: web.Application) -> None:
    app.router.add_post("/_down", _set_down)
    app.router.add_post("/flaky/{path:.*}", _flaky)
    app.router.add_post("/slow/{ms:\\d+}/{path:.*}", _slow)


async def _main() -> None:
    app = web.Application()
    app.router.add_get("/_stats", _stats)
    app.router.add_get("/_arrivals", _arrivals)
    app.router.add_post("/_reset", _reset)
    _add_scenario_routes(app)
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
