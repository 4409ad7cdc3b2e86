"""Reconciliation: compare local intents with the provider's records over a window, store drift
findings, publish ``reconciliation.drift_detected`` when there is any, and expire authorizations
past their provider's validity. Provider calls happen with no transaction open."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.errors import ValidationFailed
from interlink.events.publish import publish
from interlink.integrations import repository as integrations
from interlink.integrations.runtime import ProviderRuntime, runtime_for
from interlink.jobs.registry import JobContext, job, schedule
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import (
    PaymentIntent,
    PaymentOperation,
    ReconciliationFinding,
    ReconciliationRun,
)
from interlink.payments import access, ledger, repository
from interlink.payments.exceptions import PaymentNotFound
from interlink.payments.schemas import FindingRead, ReconciliationCreate, ReconciliationRead
from interlink.providers.errors import ProviderFailure
from interlink.providers.payments import ProviderPayment

ACTOR = "job:payments.reconcile"
# local status → the provider statuses that agree with it
AGREES = {
    "authorized": ("authorized",),
    "partially_captured": ("authorized", "captured"),
    "captured": ("captured",),
    "partially_refunded": ("captured",),
    "refunded": ("captured",),
    "voided": ("canceled",),
    "expired": ("canceled", "authorized"),
    "requires_action": ("requires_action",),
}


def compare(intent: PaymentIntent, remote: ProviderPayment) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    wanted = AGREES.get(intent.status)
    if wanted is not None and remote.status not in wanted:
        found.append(
            ("status_mismatch", f"Interlink says {intent.status}, the provider {remote.status}.")
        )
    if remote.amount_captured != intent.captured_amount:
        found.append(
            (
                "captured_mismatch",
                f"Interlink recorded {intent.captured_amount} captured, the provider "
                f"{remote.amount_captured}.",
            )
        )
    if remote.amount_refunded != intent.refunded_amount:
        found.append(
            (
                "refunded_mismatch",
                f"Interlink recorded {intent.refunded_amount} refunded, the provider "
                f"{remote.amount_refunded}.",
            )
        )
    return found


def _local(intent: PaymentIntent) -> dict[str, Any]:
    return {
        "status": intent.status,
        "amount": intent.amount,
        "captured": intent.captured_amount,
        "refunded": intent.refunded_amount,
    }


def _remote(remote: ProviderPayment | None, error: str | None = None) -> dict[str, Any]:
    if remote is None:
        return {"error": error}
    return {
        "reference": remote.reference,
        "status": remote.status,
        "amount": remote.amount,
        "captured": remote.amount_captured,
        "refunded": remote.amount_refunded,
    }


async def _candidates(
    runtime: ProviderRuntime, tenant_id: str, start: datetime, end: datetime
) -> list[PaymentIntent]:
    async with runtime.db.read_session() as session:
        intents = await repository.intents_in_window(session, tenant_id, start, end)
        busy = set(
            (
                await session.scalars(
                    select(PaymentOperation.intent_id)
                    .where(
                        PaymentOperation.tenant_id == tenant_id,
                        PaymentOperation.status == "pending",
                    )
                    .distinct()
                )
            ).all()
        )
    # intents with work in flight are settled by the sync, not judged here
    return [i for i in intents if i.provider_reference and i.id not in busy]


async def run(runtime: ProviderRuntime, tenant_id: str, start: datetime, end: datetime) -> str:
    run_id = new_id("recon")
    async with runtime.db.session() as session:
        session.add(
            ReconciliationRun(
                id=run_id,
                tenant_id=tenant_id,
                status="running",
                window_start=start,
                window_end=end,
                created_at=now(),
            )
        )
        await session.commit()
    findings: list[ReconciliationFinding] = []
    intents = await _candidates(runtime, tenant_id, start, end)
    bound_by_integration: dict[str, access.Bound] = {}
    async with runtime.db.read_session() as session:
        for intent in intents:
            if intent.integration_id not in bound_by_integration:
                row = await integrations.get(session, tenant_id, intent.integration_id)
                if row is not None:
                    bound_by_integration[row.id] = access.bind(runtime, row)
    for intent in intents:
        bound = bound_by_integration.get(intent.integration_id)
        if bound is None:
            continue
        assert intent.provider_reference is not None
        try:
            remote = await bound.provider.retrieve(bound.ctx, intent.provider_reference)
        except ProviderFailure as exc:
            findings.append(_finding(run_id, intent, "lookup_failed", exc.message, None))
            continue
        for kind, message in compare(intent, remote):
            findings.append(_finding(run_id, intent, kind, message, remote))
    for bound in bound_by_integration.values():
        await bound.flush_audit(runtime)
    async with runtime.db.session() as session:
        expired = await expire_authorizations(session, tenant_id)
        record = await session.get(ReconciliationRun, run_id)
        assert record is not None
        session.add_all(findings)
        record.status = "completed"
        record.checked = len(intents)
        record.drift_count = len(findings)
        record.expired_count = expired
        record.finished_at = now()
        if findings:
            await publish(
                session,
                tenant_id,
                "reconciliation.drift_detected",
                {
                    "object": {
                        "id": run_id,
                        "object": "reconciliation_run",
                        "drift_count": len(findings),
                        "intents": sorted({f.intent_id for f in findings}),
                    }
                },
            )
        await session.commit()
    return run_id


def _finding(
    run_id: str,
    intent: PaymentIntent,
    kind: str,
    message: str,
    remote: ProviderPayment | None,
) -> ReconciliationFinding:
    return ReconciliationFinding(
        id=new_id("rcf"),
        run_id=run_id,
        tenant_id=intent.tenant_id,
        intent_id=intent.id,
        kind=kind,
        message=message,
        local=_local(intent),
        provider=_remote(remote, message if remote is None else None),
        created_at=now(),
    )


async def expire_authorizations(session: AsyncSession, tenant_id: str) -> int:
    """Authorizations past their provider's validity can no longer be captured: mark them."""
    who = ledger.Actor(source="reconciliation", actor=ACTOR, correlation_id=None)
    count = 0
    for stale in await repository.expired_authorizations(session, tenant_id, now()):
        intent = await repository.lock_intent(session, tenant_id, stale.id)
        if intent is None or intent.status != "authorized" or intent.captured_amount:
            continue
        await ledger.transition(session, intent, "expired", "authorization validity ended", who)
        intent.updated_at = now()
        count += 1
    return count


def to_read(row: ReconciliationRun, findings: list[ReconciliationFinding]) -> ReconciliationRead:
    return ReconciliationRead(
        id=row.id,
        status=row.status,
        window_start=row.window_start,
        window_end=row.window_end,
        checked=row.checked,
        drift_count=row.drift_count,
        expired_count=row.expired_count,
        error=row.error,
        findings=[
            FindingRead(
                id=f.id,
                intent_id=f.intent_id,
                kind=f.kind,
                message=f.message,
                local=f.local,
                provider=f.provider,
            )
            for f in findings
        ],
        created=row.created_at,
        finished_at=row.finished_at,
    )


async def get(session: AsyncSession, principal: Principal, run_id: str) -> ReconciliationRead:
    row = await repository.get_run(session, principal.tenant_id, run_id)
    if row is None:
        raise PaymentNotFound(
            f"No reconciliation run {run_id!r}.", param="run_id", code="reconciliation_run_missing"
        )
    return to_read(row, list(await repository.findings_of(session, row.id)))


async def run_for_api(
    runtime: ProviderRuntime, principal: Principal, body: ReconciliationCreate
) -> ReconciliationRead:
    end = body.window_end or now()
    start = body.window_start or end - timedelta(hours=runtime.settings.reconciliation_window_hours)
    if start >= end:
        raise ValidationFailed("window_start must be before window_end.", param="window_start")
    run_id = await run(runtime, principal.tenant_id, start, end)
    async with runtime.db.read_session() as session:
        return await get(session, principal, run_id)


@job("payments.reconcile", max_attempts=3, timeout=1800)
async def reconcile_all(ctx: JobContext) -> None:
    from interlink.payments.sync import revive_stalled

    runtime = runtime_for(ctx.db, ctx.settings)
    async with ctx.db.session() as session:
        revived = await revive_stalled(session)
        await session.commit()
    if revived:
        ctx.log.warning("payment_syncs_revived", operations=revived)
    end = now()
    start = end - timedelta(hours=ctx.settings.reconciliation_window_hours)
    async with ctx.db.read_session() as session:
        tenants = (
            await session.scalars(
                select(PaymentIntent.tenant_id).where(PaymentIntent.updated_at >= start).distinct()
            )
        ).all()
    for tenant_id in tenants:
        run_id = await run(runtime, tenant_id, start, end)
        ctx.log.info("payments_reconciled", tenant=tenant_id, run_id=run_id)


schedule("payments.reconcile", "17 * * * *", "payments.reconcile")
