from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from interlink.db.migrations import current_revision, head_revision
from interlink.jobs import queue
from interlink.kit.clock import now
from interlink.models import WorkerHeartbeat
from interlink.observability import metrics
from interlink.webhooks_out import stats as webhook_stats

router = APIRouter(tags=["operations"])

HEARTBEAT_FRESH = timedelta(seconds=60)


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Database reachable, migrations current, a worker alive")
async def readyz(request: Request) -> JSONResponse:
    db = request.app.state.db
    checks: dict[str, Any] = {}
    try:
        async with db.read_session() as session:
            await session.execute(text("SELECT 1"))
            checks["database"] = "ok"
            revision = await current_revision(session)
            head = head_revision()
            checks["migrations"] = "ok" if revision == head else f"at {revision}, head is {head}"
            fresh_since = now() - HEARTBEAT_FRESH
            alive = await session.scalar(
                select(func.count()).where(WorkerHeartbeat.heartbeat_at >= fresh_since)
            )
            checks["workers"] = "ok" if alive else "no worker heartbeat in the last 60 s"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values()) and "migrations" in checks
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus_metrics(request: Request) -> Response:
    db = request.app.state.db
    try:
        async with db.read_session() as session:
            rows, ready, oldest = await queue.stats(session)
        metrics.JOBS_BY_STATE.clear()
        for name, state, count in rows:
            metrics.JOBS_BY_STATE.labels(name, state).set(count)
        metrics.QUEUE_DEPTH.set(ready)
        metrics.OLDEST_READY_AGE.set(oldest or 0.0)
        async with db.read_session() as session:
            await webhook_stats.refresh(session)
    except Exception:  # noqa: S110 - the scrape still reports the request metrics of this process
        pass
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
