"""The one seam between inbound provider events and the payments domain.

Handlers normalise a provider's payment event into a ``ProviderPaymentUpdate`` and call
``apply``. An event alone is not trusted to move a ledger: it names the intent, and the intent's
pending operations are settled by the payments sync, which reads the provider's own record and
applies only forward transitions. So a forged, stale or replayed event can at most cause one more
read of the provider; a late ``succeeded`` never overwrites ``refunded``. An event about an intent
with nothing pending (a refund made in the provider's dashboard, say) is left to reconciliation,
which compares the whole payment with the provider's records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.jobs.enqueue import enqueue
from interlink.payments import repository as payments_repository
from interlink.payments.flow import SYNC_JOB

PaymentStatus = Literal[
    "authorized", "captured", "failed", "canceled", "refunded", "partially_refunded"
]


@dataclass(frozen=True)
class ProviderPaymentUpdate:
    provider: str
    # the provider's object the update is about: a Stripe PaymentIntent (pi_…), a PayPal
    # authorization or capture id
    provider_reference: str
    status: PaymentStatus
    # minor units (cents); None when the event does not say
    amount: int | None
    currency: str | None
    amount_captured: int | None = None
    amount_refunded: int | None = None
    # the object it belongs to when that differs (a PayPal capture's authorization, a Stripe
    # charge's id)
    related_reference: str | None = None
    provider_event_id: str | None = None
    failure_reason: str | None = None


@dataclass(frozen=True)
class BridgeResult:
    matched: bool
    reason: str


NO_MATCH = BridgeResult(matched=False, reason="no matching intent")


async def apply(
    session: AsyncSession, tenant_id: str, integration_id: str, update: ProviderPaymentUpdate
) -> BridgeResult:
    references = [r for r in (update.provider_reference, update.related_reference) if r]
    intent = await payments_repository.intent_by_provider_reference(
        session, tenant_id, integration_id, references
    )
    if intent is None:
        return NO_MATCH
    pending = await payments_repository.pending_operations_of(session, intent.id)
    for op in pending:
        # a sync now, beside the one already scheduled with its backoff; keyed by the event so a
        # replayed event queues nothing more
        await enqueue(
            session,
            SYNC_JOB,
            key=f"paysync:{op.id}:{update.provider_event_id or update.status}",
            tenant_id=tenant_id,
            intent_id=intent.id,
            operation_id=op.id,
        )
    if pending:
        return BridgeResult(
            matched=True,
            reason=f"{len(pending)} pending operation(s) of {intent.id} queued to sync",
        )
    return BridgeResult(
        matched=True, reason=f"{intent.id} has nothing pending; reconciliation compares it"
    )
