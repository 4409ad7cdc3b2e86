from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Header, Path, Request, Response, status

from interlink.auth.dependencies import PaymentsRead, PaymentsWrite
from interlink.db.session import Session
from interlink.errors import ErrorBody
from interlink.integrations.endpoints import get_runtime
from interlink.integrations.runtime import ProviderRuntime
from interlink.observability.context import current_request_id
from interlink.payments import authorize as authorize_service
from interlink.payments import capture as capture_service
from interlink.payments import flow, reads, reconciliation, setup, snapshots, submit
from interlink.payments import refund as refund_service
from interlink.payments import void as void_service
from interlink.payments.exceptions import IdempotencyKeyRequired
from interlink.payments.schemas import (
    AuthorizeRequest,
    CaptureRequest,
    OrderHistory,
    OrderPayments,
    PaymentRead,
    QuoteRequest,
    ReconciliationCreate,
    ReconciliationRead,
    RefundRequest,
    SetupIntentRead,
    SetupIntentRequest,
    SnapshotRead,
    SubmitPaymentRequest,
    VoidRequest,
)

log = structlog.get_logger("interlink.payments")

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 402, 403, 404, 409, 422, 502, 503)
}

PENDING: dict[int | str, dict[str, Any]] = {
    202: {
        "model": PaymentRead,
        "description": "The provider's answer is unknown: the operation is pending and the sync "
        "job settles it. Poll GET /v1/payments/{id}.",
    }
}


def require_idempotency_key(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=255,
            description="Required: a retry with the same key and body replays the first answer.",
        ),
    ] = None,
) -> str:
    if not idempotency_key:
        raise IdempotencyKeyRequired(
            "Payment mutations require an Idempotency-Key header (a unique value per intended "
            "operation, reused on retries).",
            param="Idempotency-Key",
        )
    return idempotency_key


IdempotencyKey = Annotated[str, Depends(require_idempotency_key)]
Runtime = Annotated[ProviderRuntime, Depends(get_runtime)]
PaymentId = Annotated[str, Path(min_length=1, max_length=40)]
OrderIdPath = Annotated[str, Path(min_length=1, max_length=128)]


async def payment_log_context(request: Request) -> AsyncIterator[None]:
    """Every log line of a payment request carries its correlation id, order id and intent id
    (when the path names them; authorize binds the body's order id), and the request itself is
    logged once on arrival, so refusals are traceable too."""
    params = request.path_params
    fields = {
        "correlation_id": current_request_id(),
        "order_id": params.get("order_id"),
        "intent_id": params.get("payment_id"),
    }
    structlog.contextvars.bind_contextvars(**fields)
    log.info("payment_request_received", method=request.method, path=request.url.path)
    try:
        yield
    finally:
        structlog.contextvars.unbind_contextvars(*fields)


LogContext = [Depends(payment_log_context)]
checkout = APIRouter(
    prefix="/checkout", tags=["checkout"], responses=ERRORS, dependencies=LogContext
)
payments = APIRouter(
    prefix="/payments", tags=["payments"], responses=ERRORS, dependencies=LogContext
)
orders = APIRouter(prefix="/orders", tags=["payments"], responses=ERRORS, dependencies=LogContext)
reconciliation_runs = APIRouter(prefix="/reconciliation", tags=["reconciliation"], responses=ERRORS)


async def answer(
    runtime: ProviderRuntime, result: flow.Result, response: Response, action: str
) -> PaymentRead:
    """The intent as it is now; 202 while the provider's answer is still unknown."""
    async with runtime.db.read_session() as session:
        read = await reads.fresh(session, result.intent.tenant_id, result.intent.id)
    if result.pending:
        response.status_code = status.HTTP_202_ACCEPTED
    structlog.contextvars.bind_contextvars(order_id=read.order_id, intent_id=read.id)
    log.info("payment_request", action=action, status=read.status, pending=result.pending)
    return read


@checkout.post("/quote", status_code=status.HTTP_201_CREATED, response_model=SnapshotRead)
async def quote(
    body: QuoteRequest, key: PaymentsWrite, session: Session, request: Request
) -> SnapshotRead:
    return await snapshots.create(session, key, request.app.state.settings, body)


@checkout.post("/orders/{order_id}/submit-payment", response_model=PaymentRead, responses=PENDING)
async def submit_payment(
    order_id: OrderIdPath,
    body: SubmitPaymentRequest,
    key: PaymentsWrite,
    idempotency_key: IdempotencyKey,
    runtime: Runtime,
    response: Response,
) -> PaymentRead:
    """Authorize and capture in one call (compatibility with single-step checkouts)."""
    result = await submit.submit(runtime, key, order_id, body, idempotency_key)
    return await answer(runtime, result, response, "submit_payment")


@payments.post("/authorize", response_model=PaymentRead, responses=PENDING)
async def authorize(
    body: AuthorizeRequest,
    key: PaymentsWrite,
    idempotency_key: IdempotencyKey,
    runtime: Runtime,
    response: Response,
) -> PaymentRead:
    structlog.contextvars.bind_contextvars(order_id=body.order_id)
    result = await authorize_service.authorize(runtime, key, body, idempotency_key)
    return await answer(runtime, result, response, "authorize")


@payments.post("/setup-intents", response_model=SetupIntentRead)
async def create_setup_intent(
    body: SetupIntentRequest, key: PaymentsWrite, idempotency_key: IdempotencyKey, runtime: Runtime
) -> SetupIntentRead:
    return await setup.create(runtime, key, body, idempotency_key)


@payments.get("/{payment_id}", response_model=PaymentRead)
async def get_payment(payment_id: PaymentId, key: PaymentsRead, session: Session) -> PaymentRead:
    return await reads.get_payment(session, key, payment_id)


@payments.post("/{payment_id}/capture", response_model=PaymentRead, responses=PENDING)
async def capture(
    payment_id: PaymentId,
    key: PaymentsWrite,
    idempotency_key: IdempotencyKey,
    runtime: Runtime,
    response: Response,
    body: CaptureRequest | None = None,
) -> PaymentRead:
    result = await capture_service.capture(
        runtime, key, payment_id, body or CaptureRequest(), idempotency_key
    )
    return await answer(runtime, result, response, "capture")


@payments.post("/{payment_id}/void", response_model=PaymentRead, responses=PENDING)
async def void(
    payment_id: PaymentId,
    key: PaymentsWrite,
    idempotency_key: IdempotencyKey,
    runtime: Runtime,
    response: Response,
    body: VoidRequest | None = None,
) -> PaymentRead:
    result = await void_service.void(
        runtime, key, payment_id, body or VoidRequest(), idempotency_key
    )
    return await answer(runtime, result, response, "void")


@payments.post("/{payment_id}/refund", response_model=PaymentRead, responses=PENDING)
async def refund(
    payment_id: PaymentId,
    key: PaymentsWrite,
    idempotency_key: IdempotencyKey,
    runtime: Runtime,
    response: Response,
    body: RefundRequest | None = None,
) -> PaymentRead:
    result = await refund_service.refund(
        runtime, key, payment_id, body or RefundRequest(), idempotency_key
    )
    return await answer(runtime, result, response, "refund")


@orders.get("/{order_id}/payments", response_model=OrderPayments)
async def order_payments(
    order_id: OrderIdPath, key: PaymentsRead, session: Session
) -> OrderPayments:
    """Every intent of the order with every transaction (the ledger)."""
    return await reads.order_payments(session, key, order_id)


@orders.get("/{order_id}/history", response_model=OrderHistory)
async def order_history(order_id: OrderIdPath, key: PaymentsRead, session: Session) -> OrderHistory:
    return await reads.order_history(session, key, order_id)


@reconciliation_runs.post(
    "/runs", status_code=status.HTTP_201_CREATED, response_model=ReconciliationRead
)
async def start_reconciliation(
    key: PaymentsWrite, runtime: Runtime, body: ReconciliationCreate | None = None
) -> ReconciliationRead:
    """Compare local intents with the provider's records over a window and report drift."""
    return await reconciliation.run_for_api(runtime, key, body or ReconciliationCreate())


@reconciliation_runs.get("/runs/{run_id}", response_model=ReconciliationRead)
async def get_reconciliation(
    run_id: Annotated[str, Path(max_length=40)], key: PaymentsRead, session: Session
) -> ReconciliationRead:
    return await reconciliation.get(session, key, run_id)
