"""The compatibility route: authorize and capture in one call."""

from __future__ import annotations

from interlink.auth.principal import Principal
from interlink.integrations.runtime import ProviderRuntime
from interlink.payments import flow
from interlink.payments.authorize import authorize
from interlink.payments.capture import capture
from interlink.payments.schemas import AuthorizeRequest, CaptureRequest, SubmitPaymentRequest


async def submit(
    runtime: ProviderRuntime,
    principal: Principal,
    order_id: str,
    body: SubmitPaymentRequest,
    idempotency_key: str,
) -> flow.Result:
    authorized = await authorize(
        runtime,
        principal,
        AuthorizeRequest(
            order_id=order_id,
            snapshot_id=body.snapshot_id,
            payment_method=body.payment_method,
            amount=body.amount,
            currency=body.currency,
            integration_id=body.integration_id,
        ),
        idempotency_key,
    )
    if authorized.pending or authorized.intent.status != "authorized":
        return authorized
    return await capture(
        runtime, principal, authorized.intent.id, CaptureRequest(), idempotency_key
    )
