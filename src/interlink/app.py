"""``create_app()``: settings, database, keyring, limiter, error handlers, routers and — in the
embedded ``serve`` mode — a worker in the same process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from interlink import __version__
from interlink.api import v1
from interlink.auth.rate_limit import KeyRateLimiter
from interlink.auth.usage import UsageRecorder
from interlink.config import Settings, get_settings
from interlink.db.engine import Database
from interlink.errors import AppError, ErrorBody, InvalidRequest, NotFound, ValidationFailed
from interlink.integrations.runtime import close_runtime
from interlink.jobs import manifest
from interlink.jobs.worker import Worker
from interlink.keyring import load_keyring
from interlink.observability.endpoints import router as operations
from interlink.pipeline import RequestPipeline
from interlink.webhooks_in.cache import IntegrationCache
from interlink.webhooks_in.endpoints import direct_route
from interlink.webhooks_in.service import PROCESS_JOB
from interlink.webhooks_in.writer import InboundWriter
from interlink.webhooks_out.client import close_shared_clients

DESCRIPTION = """Interlink owns everything that talks to the outside world: payments, fulfillment,
outbound and inbound webhooks, API keys and the catalog of integrations.

Authenticate with `Authorization: Bearer ik_test_…`. Every error has the shape
`{"error": {"type", "code", "message", "param", "request_id"}}`."""


def import_job_modules(settings: Settings) -> None:
    """Every job module, built-in and configured: the API process imports them all at start (a
    worker imports only the configured ones, and a built-in one on its first job)."""
    manifest.import_modules((*manifest.JOB_MODULES, *settings.job_modules))


def _request_id(request: Request) -> str | None:
    value: str | None = request.scope.get("state", {}).get("request_id")
    return value


def _render(request: Request, error: AppError) -> JSONResponse:
    return JSONResponse(
        error.body(_request_id(request)), status_code=error.status, headers=error.headers
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = (
        [str(p) for p in loc[1:]]
        if loc and loc[0] in ("body", "query", "path", "header")
        else [str(p) for p in loc]
    )
    return ".".join(parts) or (str(loc[0]) if loc else "body")


async def _validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first: dict[str, Any] = (
        dict(errors[0]) if errors else {"loc": ("body",), "msg": "invalid request", "type": ""}
    )
    if first.get("type") == "json_invalid":
        return _render(
            request,
            InvalidRequest(
                f"The body is not valid JSON: {first.get('ctx', {}).get('error', 'parse error')}.",
                code="invalid_json",
            ),
        )
    loc = tuple(first.get("loc", ()))
    content_type = request.headers.get("content-type", "")
    if loc == ("body",) and "json" not in content_type:
        return _render(
            request,
            InvalidRequest(
                "Send the body as JSON with 'Content-Type: application/json'.",
                code="unsupported_media_type",
                status=415,
            ),
        )
    param = _field_path(loc)
    where = loc[0] if loc else "body"
    message = f"{param}: {first.get('msg', 'invalid')}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    error: AppError = ValidationFailed(message, param=param)
    if where == "body" and first.get("type") == "missing" and loc == ("body",):
        error = InvalidRequest("A JSON body is required.", code="missing_body")
    return _render(request, error)


async def _app_error_handler(request: Request, exc: AppError) -> JSONResponse:
    return _render(request, exc)


async def _http_error_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 404:
        return _render(
            request,
            NotFound(f"No route {request.method} {request.url.path}.", code="route_not_found"),
        )
    if exc.status_code == 405:
        return _render(
            request,
            InvalidRequest(
                f"{request.method} is not allowed on {request.url.path}.",
                code="method_not_allowed",
                status=405,
            ),
        )
    error = InvalidRequest(str(exc.detail), code="http_error", status=exc.status_code)
    return _render(request, error)


def create_app(settings: Settings | None = None, *, embedded_worker: bool = False) -> FastAPI:
    settings = settings or get_settings()
    import_job_modules(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings)
        app.state.settings = settings
        app.state.db = db
        app.state.keyring = load_keyring(settings)
        app.state.inbound_integrations = IntegrationCache(
            settings.inbound_integration_cache_seconds
        )
        app.state.inbound_writer = InboundWriter(db, PROCESS_JOB)
        app.state.rate_limiter = KeyRateLimiter(settings.rate_limit_default, settings.redis_url)
        app.state.usage = UsageRecorder(db)
        app.state.usage.start()
        worker = Worker(db, settings) if embedded_worker else None
        if worker is not None:
            await worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
                await close_shared_clients()
            await app.state.usage.stop()
            await app.state.rate_limiter.close()
            await close_runtime(db)
            await db.dispose()

    app = FastAPI(
        title="Interlink",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        responses={422: {"model": ErrorBody}},
        telemetry=None
        if settings.opentelemetry
        else {"tracing": False, "metrics": False, "logs": False},
    )
    app.add_exception_handler(AppError, _app_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)  # type: ignore[arg-type]
    app.include_router(operations)
    app.include_router(v1)
    app.add_middleware(RequestPipeline, direct=direct_route)
    return app
