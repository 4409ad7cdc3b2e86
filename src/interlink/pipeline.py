"""The request pipeline, a pure ASGI middleware around the routers.

For every request: a request id (kept from ``X-Request-Id``/``X-Correlation-Id`` or made), bound
into logs and echoed back; a body size limit; metrics and one access log line. For ``/v1``
requests additionally: the API key is authenticated, its rate limit applied and its usage counted;
a POST with an ``Idempotency-Key`` is claimed or replayed; and the request's unit of work is
committed after the endpoint has produced its response but before any byte of it is sent, so a
client never sees success for work that did not commit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
import structlog
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interlink.auth.authenticate import authenticate
from interlink.auth.principal import Principal
from interlink.db.session import UnitOfWork
from interlink.errors import AppError, Conflict, PayloadTooLarge, RateLimited, ServiceUnavailable
from interlink.idempotency import service as idempotency
from interlink.observability import metrics
from interlink.observability.context import accept_or_new, bind_request_id

log = structlog.get_logger("interlink.http")

DB_DOWN = (OperationalError, PoolTimeout, ConnectionError, OSError, TimeoutError)


def error_response(
    error: AppError, request_id: str | None
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = orjson.dumps(error.body(request_id))
    headers = [(b"content-type", b"application/json")]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    return error.status, headers, body


def translate_db_error(exc: BaseException) -> AppError | None:
    if isinstance(exc, IntegrityError):
        return Conflict(
            "The request conflicts with the current state of the resource; fetch it and retry.",
            code="state_conflict",
        )
    if isinstance(exc, DB_DOWN) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return ServiceUnavailable(
            "The database is unreachable; retry shortly.",
            code="database_unavailable",
            headers={"Retry-After": "5"},
        )
    return None


def route_template(scope: Scope) -> str:
    """The matched route as a template (``/v1/api-keys/{key_id}``), so metrics stay bounded."""
    if scope.get("route") is None:
        return "unmatched"
    path: str = scope["path"]
    params = scope.get("path_params") or {}
    if not params:
        return path
    segments = path.split("/")
    by_value = {str(v): k for k, v in params.items()}
    return "/".join(f"{{{by_value[s]}}}" if s in by_value else s for s in segments)


class _BodyTooLarge(Exception):
    pass


class RequestPipeline:
    """``direct`` may name, for a ``/v1`` request, a plain ASGI handler to run in place of the
    routers (the inbound webhook receiver); it gets the same unit of work and the same commit."""

    def __init__(
        self, app: ASGIApp, direct: Callable[[Scope], ASGIApp | None] | None = None
    ) -> None:
        self.app = app
        self.direct = direct

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = accept_or_new(headers.get("x-request-id") or headers.get("x-correlation-id"))
        bind_request_id(request_id)
        structlog.contextvars.unbind_contextvars("tenant", "api_key")
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                raw = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                raw.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": raw}
            await send(message)

        try:
            if scope["path"].startswith("/v1/") or scope["path"] == "/v1":
                await self._api(scope, receive, send_with_id, headers, request_id)
            else:
                await self.app(scope, receive, send_with_id)
        except Exception as exc:
            error = translate_db_error(exc) or AppError("An internal error occurred.")
            if error.status >= 500 and not isinstance(error, ServiceUnavailable):
                log.exception("unhandled_error")
            await self._send_error(send_with_id, error, request_id)
        finally:
            template = route_template(scope)
            elapsed = time.perf_counter() - started
            method = scope["method"]
            metrics.child(
                metrics.HTTP_REQUESTS, method, template, str(status_holder["status"])
            ).inc()
            metrics.child(metrics.HTTP_LATENCY, method, template).observe(elapsed)
            log.info(
                "request",
                method=method,
                path=scope["path"],
                route=template,
                status=status_holder["status"],
                duration_ms=round(elapsed * 1000, 2),
            )
            bind_request_id(None)

    async def _send_error(self, send: Send, error: AppError, request_id: str | None) -> None:
        status, headers, body = error_response(error, request_id)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _read_body(self, receive: Receive, limit: int, declared: str | None) -> bytes:
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _api(
        self, scope: Scope, receive: Receive, send: Send, headers: Headers, request_id: str
    ) -> None:
        app_state = scope["app"].state
        settings = app_state.settings
        db = app_state.db
        state = scope["state"]
        try:
            body = await self._read_body(
                receive, settings.max_body_bytes, headers.get("content-length")
            )
        except _BodyTooLarge:
            await self._send_error(
                send,
                PayloadTooLarge(f"The request body exceeds {settings.max_body_bytes} bytes."),
                request_id,
            )
            return

        principal: Principal | None = None
        if "authorization" in headers:
            try:
                principal = await authenticate(
                    db, headers.get("authorization"), headers.get("interlink-tenant")
                )
            except AppError as exc:
                state["auth_error"] = exc
        state["principal"] = principal
        extra_headers: list[tuple[bytes, bytes]] = []
        if principal is not None:
            structlog.contextvars.bind_contextvars(
                tenant=principal.tenant_id, api_key=principal.key_id
            )
            decision = await app_state.rate_limiter.hit(principal.key_id, principal.rate_limit)
            extra_headers = [
                (k.lower().encode(), v.encode()) for k, v in decision.headers().items()
            ]
            if not decision.allowed:
                app_state.usage.record(principal.key_id, 429)
                await self._send_error(
                    send,
                    RateLimited(
                        f"Too many requests for this API key: the limit is {decision.limit} per "
                        f"window. Retry after {decision.reset_after} s.",
                        headers=decision.headers(),
                    ),
                    request_id,
                )
                return

        claim: idempotency.Claim | None = None
        idem_key = headers.get("idempotency-key")
        if principal is not None and idem_key is not None and scope["method"] == "POST":
            try:
                outcome = await idempotency.begin(
                    db,
                    app_state.keyring,
                    principal.key_id,
                    idem_key,
                    idempotency.fingerprint(
                        scope["method"],
                        scope["path"],
                        scope.get("query_string", b"").decode(),
                        body,
                    ),
                    timedelta(hours=settings.idempotency_ttl_hours),
                )
            except AppError as exc:
                app_state.usage.record(principal.key_id, exc.status)
                await self._send_error(send, exc, request_id)
                return
            if isinstance(outcome, idempotency.StoredResponse):
                app_state.usage.record(principal.key_id, outcome.status)
                raw = [(k.lower().encode(), v.encode()) for k, v in outcome.headers.items()]
                raw += [(b"idempotent-replayed", b"true"), *extra_headers]
                await send(
                    {"type": "http.response.start", "status": outcome.status, "headers": raw}
                )
                await send({"type": "http.response.body", "body": outcome.body})
                return
            claim = outcome

        uow = UnitOfWork(db)
        state["uow"] = uow
        start_message: dict[str, Any] = {}
        body_parts: list[bytes] = []
        delivered = False

        async def replay_receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start_message.update(message)
            elif message["type"] == "http.response.body":
                body_parts.append(message.get("body", b""))

        handler = (self.direct(scope) if self.direct is not None else None) or self.app
        try:
            try:
                await handler(scope, replay_receive, capture)
                status = int(start_message.get("status", 500))
                response_body = b"".join(body_parts)
                response_headers = [
                    (k, v) for k, v in start_message.get("headers", []) if k != b"content-length"
                ]
                if status < 400:
                    if claim is not None:
                        await idempotency.complete(
                            uow.session,
                            app_state.keyring,
                            claim,
                            idempotency.StoredResponse(
                                status,
                                {k.decode(): v.decode() for k, v in response_headers},
                                response_body,
                            ),
                            seal=bool(state.get("response_reveals_secret")),
                        )
                    await uow.commit()
                else:
                    await uow.rollback()
                    if claim is not None:
                        await self._settle_failed_claim(
                            db, app_state.keyring, claim, status, response_headers, response_body
                        )
            except Exception as exc:
                await uow.rollback()
                if claim is not None:
                    await idempotency.release(db, claim)
                error = translate_db_error(exc)
                if error is None:
                    raise
                status, response_headers, response_body = error_response(error, request_id)
        finally:
            await uow.close()
        if principal is not None:
            app_state.usage.record(principal.key_id, status)
        response_headers = response_headers + extra_headers
        response_headers.append((b"content-length", str(len(response_body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": response_body})

    async def _settle_failed_claim(
        self,
        db: Any,
        keyring: Any,
        claim: idempotency.Claim,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        # Stripe's rule: a request that ran and was refused replays the same refusal; conflicts,
        # rate limits and server errors are not stored, so a retry may succeed.
        if status in (409, 429) or status >= 500:
            await idempotency.release(db, claim)
            return
        async with db.session() as session:
            await idempotency.complete(
                session,
                keyring,
                claim,
                idempotency.StoredResponse(
                    status, {k.decode(): v.decode() for k, v in headers}, body
                ),
                seal=False,
            )
            await session.commit()
