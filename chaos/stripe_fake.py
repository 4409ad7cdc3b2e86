"""``python -m chaos.stripe_fake PORT [LATENCY_MS]``: localstripe (a stateful Stripe fake, by
others) as the payment provider of the chaos run, in its own process, so its records outlive
every Interlink process the run kills. ``LATENCY_MS`` delays each POST before and after it acts.

Two changes make it hold up as the provider of record under load:

- Stripe's idempotency, which localstripe does not implement: a POST with an ``Idempotency-Key``
  already answered gets the first answer again (a different body under the same key is a 400
  ``idempotency_error``), and one still being processed is a 409 ``idempotency_error``, as Stripe
  documents. Without it a retried capture or refund would move money twice at the fake, where
  Stripe would not, and the run would blame Interlink for the fake's gap.
- No pickling of the whole store to ``/tmp/localstripe.pickle`` after every write: that is quadratic
  in the number of objects and the file is shared with anything else using localstripe.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Answer:
    fingerprint: str
    status: int
    body: bytes


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"error": {"type": "idempotency_error", "message": message}}, status=status
    )


FIGURES = {"keyed_requests": 0, "replayed": 0, "refused_in_progress": 0, "refused_other_body": 0}


async def figures(_request: web.Request) -> web.Response:
    return web.json_response(FIGURES)


def idempotency_middleware() -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    answered: dict[str, Answer] = {}
    in_flight: set[str] = set()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return await handler(request)
        FIGURES["keyed_requests"] += 1
        scope = f"{request.headers.get('Authorization', '')}:{key}"
        body = await request.read()
        fingerprint = hashlib.sha256(request.path.encode() + b"\n" + body).hexdigest()
        first = answered.get(scope)
        if first is not None:
            if first.fingerprint != fingerprint:
                FIGURES["refused_other_body"] += 1
                return _error(
                    400,
                    f"Keys for idempotent requests can only be used with the "
                    f"same parameters they were first used with ({key}).",
                )
            FIGURES["replayed"] += 1
            return web.Response(
                body=first.body,
                status=first.status,
                content_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        if scope in in_flight:
            FIGURES["refused_in_progress"] += 1
            return _error(
                409,
                f"There is currently another in-progress request using this "
                f"Idempotent Key ({key}).",
            )
        in_flight.add(scope)
        try:
            response = await handler(request)
            if isinstance(response, web.Response) and response.status < 500:
                raw = response.body
                if isinstance(raw, bytes):
                    answered[scope] = Answer(fingerprint, response.status, raw)
            return response
        finally:
            in_flight.discard(scope)

    return middleware


def latency_middleware(
    most: float,
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Up to ``most`` seconds before a POST reaches the fake and again before its answer leaves:
    a kill then often lands while the provider holds a request, or after it acted but before
    Interlink heard, the two cases the sync exists for."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "POST" or most <= 0:
            return await handler(request)
        await asyncio.sleep(random.uniform(0, most))
        response = await handler(request)
        await asyncio.sleep(random.uniform(0, most))
        return response

    return middleware


def main() -> None:
    from localstripe import resources, server

    # instance attribute: the store's own writes look it up on the instance first
    resources.store.dump_to_disk = lambda: None  # type: ignore[method-assign]
    app = server.app
    # outermost: localstripe raises its refusals as exceptions that its own error middleware
    # turns into responses, so ours must wrap it to store a refusal and replay it as refused
    app.middlewares.insert(0, idempotency_middleware())
    latency_ms = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    app.middlewares.insert(0, latency_middleware(latency_ms / 1000))
    app.router.add_get("/_chaos/idempotency", figures)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
