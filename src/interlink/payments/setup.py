"""Setup intents: save a payment method at the provider for later charges."""

from __future__ import annotations

from interlink.auth.principal import Principal
from interlink.integrations.runtime import ProviderRuntime
from interlink.payments import access
from interlink.payments.flow import refusal
from interlink.payments.schemas import SetupIntentRead, SetupIntentRequest
from interlink.providers.errors import ProviderFailure


async def create(
    runtime: ProviderRuntime, principal: Principal, body: SetupIntentRequest, idempotency_key: str
) -> SetupIntentRead:
    async with runtime.db.read_session() as session:
        integration = await access.choose(session, principal, body.integration_id, None)
    bound = access.bind(runtime, integration)
    try:
        # the caller's Idempotency-Key, scoped to the tenant, is the provider's key
        setup = await bound.provider.setup(
            bound.ctx,
            body.payment_method,
            body.customer,
            f"{principal.tenant_id}:{principal.key_id}:{idempotency_key}",
        )
    except ProviderFailure as exc:
        raise refusal(exc) from None
    finally:
        await bound.flush_audit(runtime)
    return SetupIntentRead(
        integration_id=integration.id,
        provider_reference=setup.reference,
        status=setup.status,
        payment_method=setup.payment_method,
        client_secret=setup.client_secret,
        next_action=dict(setup.next_action) if setup.next_action else None,
    )
