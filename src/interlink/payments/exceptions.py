from __future__ import annotations

from interlink.errors import AppError, Conflict, InvalidRequest, NotFound


class IdempotencyKeyRequired(InvalidRequest):
    code = "idempotency_key_required"


class SnapshotNotFound(NotFound):
    code = "snapshot_missing"


class SnapshotExpired(InvalidRequest):
    code = "snapshot_expired"


class SnapshotUsed(Conflict):
    code = "snapshot_used"


class AmountMismatch(InvalidRequest):
    code = "amount_mismatch"


class CurrencyMismatch(InvalidRequest):
    code = "currency_mismatch"


class OrderMismatch(InvalidRequest):
    code = "order_mismatch"


class PaymentNotFound(NotFound):
    code = "payment_missing"


class NotAPaymentIntegration(InvalidRequest):
    code = "not_a_payment_integration"


class ActivePaymentExists(Conflict):
    code = "active_payment_exists"


class InvalidTransition(Conflict):
    """The intent's state does not allow the operation (capture of a voided intent …)."""

    code = "invalid_state"


class OperationInProgress(Conflict):
    code = "operation_in_progress"


class OperationFailed(Conflict):
    """The operation an Idempotency-Key names failed (its first answer is no longer stored)."""

    code = "operation_failed"


class AmountExceedsRemaining(Conflict):
    """More than is left to capture or refund, given what succeeded or is pending. A 409 (not a
    400) so that a retry with the same Idempotency-Key is re-evaluated once pending work
    settles."""

    code = "amount_exceeds_remaining"


class UnsupportedByProvider(InvalidRequest):
    code = "unsupported_by_provider"


class PaymentDeclined(AppError):
    status = 402
    type = "provider"
    code = "card_declined"
