"""The audit sink the client layer writes to: records are buffered during a provider call and
written afterwards in their own short transaction, so they survive an error response (which rolls
the request's own transaction back) and no write lock is held across network I/O."""

from __future__ import annotations

from interlink.db.engine import Database
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import IntegrationLog
from interlink.observability import metrics
from interlink.providers.http import CallRecord


class BufferedAuditSink:
    def __init__(self, tenant_id: str, integration_id: str | None, connection_code: str) -> None:
        self.tenant_id = tenant_id
        self.integration_id = integration_id
        self.connection_code = connection_code
        self.records: list[CallRecord] = []

    async def __call__(self, record: CallRecord) -> None:
        self.records.append(record)
        metrics.PROVIDER_CALLS.labels(self.connection_code, record.outcome).inc()
        metrics.PROVIDER_LATENCY.labels(self.connection_code).observe(record.latency_ms / 1000)
        if record.attempt > 1:
            metrics.PROVIDER_RETRIES.labels(self.connection_code).inc()

    def rows(self) -> list[IntegrationLog]:
        return [
            IntegrationLog(
                id=new_id("ilog"),
                tenant_id=self.tenant_id,
                integration_id=self.integration_id,
                connection_code=self.connection_code,
                operation=r.operation,
                method=r.method,
                url=r.url,
                status_code=r.status_code,
                outcome=r.outcome,
                error=r.error,
                latency_ms=r.latency_ms,
                attempt=r.attempt,
                correlation_id=r.correlation_id,
                request_excerpt=r.request_excerpt,
                response_excerpt=r.response_excerpt,
                created_at=now(),
            )
            for r in self.records
        ]

    async def write(self, db: Database) -> None:
        if not self.records:
            return
        async with db.session() as session:
            session.add_all(self.rows())
            await session.commit()
        self.records.clear()
