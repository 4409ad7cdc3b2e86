"""Receiving a provider's webhook: verify the signature on the raw body, store the event once,
queue its processing in the same transaction, answer at once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.config import Settings
from interlink.db.engine import Database
from interlink.errors import PayloadTooLarge, ServiceUnavailable
from interlink.kit.clock import now
from interlink.kit.crypto import Keyring
from interlink.kit.ids import new_id
from interlink.kit.ssrf import AddressPolicy, guarded_connector
from interlink.models import InboundEvent
from interlink.observability import metrics
from interlink.observability.context import current_request_id
from interlink.providers.http import ProviderClient, RetryPolicy
from interlink.providers.paypal_certs import CACHE, CertificateFetcher, CertificateUnavailable
from interlink.providers.verifiers import SignatureInvalid
from interlink.webhooks_in import handshakes, repository, verification
from interlink.webhooks_in.cache import IntegrationCache, ReceivingIntegration
from interlink.webhooks_in.exceptions import InboundIntegrationNotFound, SignatureRejected
from interlink.webhooks_in.schemas import Receipt
from interlink.webhooks_in.writer import InboundWriter

log = structlog.get_logger(__name__)

PROCESS_JOB = "inbound.process"


@dataclass
class Receiver:
    """What receiving needs beyond the request's transaction."""

    db: Database
    settings: Settings
    keyring: Keyring
    integrations: IntegrationCache
    writer: InboundWriter

    def certificates(self) -> CertificateFetcher:
        policy = AddressPolicy(self.settings.provider_allowed_networks)

        def client() -> ProviderClient:
            return ProviderClient(
                key="paypal-webhook-certificates",
                retry=RetryPolicy(max_attempts=2),
                timeout=self.settings.provider_timeout_seconds,
                secrets=(),
                correlation_id=current_request_id(),
                connector_factory=lambda: guarded_connector(policy),
            )

        CACHE.ttl_seconds = self.settings.inbound_paypal_cert_ttl_seconds
        return CertificateFetcher(
            allowed_hosts=self.settings.inbound_paypal_cert_hosts,
            https_only=self.settings.inbound_paypal_cert_https_only,
            client_factory=client,
        )


async def receive(
    receiver: Receiver,
    request_session: Callable[[], AsyncSession],
    integration_id: str,
    headers: Mapping[str, str],
    body: bytes,
) -> Receipt:
    """Store a verified delivery once and queue it. A redelivery answers the first receipt;
    a delivery that fails verification is recorded as rejected (in its own transaction, since
    the request's is rolled back) and refused. The event is written by the receiver's group
    commit and committed before this returns; ``request_session`` (the request's transaction)
    is used only by a handshake that answers."""
    settings = receiver.settings
    if len(body) > settings.inbound_max_body_bytes:
        raise PayloadTooLarge(
            f"The webhook body exceeds {settings.inbound_max_body_bytes} bytes.", param="body"
        )
    # read without a write transaction: PayPal's check may fetch a certificate over the network
    integration = await receiver.integrations.get(receiver.db, receiver.keyring, integration_id)
    if integration is None:
        raise InboundIntegrationNotFound(
            f"No integration {integration_id!r}.", param="integration_id"
        )
    if handshakes.expects(integration.connection_code):
        async with receiver.db.read_session() as read:
            row = await repository.integration(read, integration_id)
        if row is not None:
            answered = await handshakes.answer(receiver.db, request_session(), row, headers, body)
            if answered is not None:
                return answered
    config = integration.config
    try:
        if config is None:
            raise SignatureInvalid(
                "not_configured",
                f"connection {integration.connection_code!r} has no webhook verifier; set "
                "settings.inbound.verifier",
            )
        await verification.verify(
            config,
            integration.credentials,
            headers,
            body,
            now=now(),
            tolerance=settings.inbound_tolerance_seconds,
            certificates=receiver.certificates,
            lexoffice_public_key=settings.inbound_lexoffice_public_key,
        )
    except SignatureInvalid as exc:
        await _record_rejection(receiver.db, integration, config, headers, body, exc)
        raise SignatureRejected(
            f"The webhook signature check failed: {exc.reason}.", param="signature"
        ) from None
    except CertificateUnavailable as exc:
        raise ServiceUnavailable(
            f"{exc} Retry later.", code="certificate_unavailable", headers={"Retry-After": "30"}
        ) from None
    return await _store(receiver.writer, integration, config, headers, body)


async def _store(
    writer: InboundWriter,
    integration: ReceivingIntegration,
    config: verification.InboundConfig,
    headers: Mapping[str, str],
    body: bytes,
) -> Receipt:
    identity = verification.identify(config, headers, body)
    event_id = new_id("inev")
    received_at = now()
    stored_id, duplicate = await writer.store(
        {
            "id": event_id,
            "tenant_id": integration.tenant_id,
            "integration_id": integration.id,
            "connection_code": integration.connection_code,
            "provider_event_id": identity.provider_event_id,
            "event_type": identity.event_type,
            "signature_valid": True,
            "status": "received",
            "body": body,
            "headers": verification.kept_headers(
                config.verifier, headers, verification.hmac_headers(config)
            ),
            "attempts": 0,
            "replays": 0,
            "received_at": received_at,
            "request_id": current_request_id(),
        },
    )
    connection = integration.connection_code
    if duplicate:
        metrics.child(metrics.INBOUND_RECEIVED, connection, "duplicate").inc()
        return Receipt(id=stored_id, duplicate=True)
    metrics.child(metrics.INBOUND_RECEIVED, connection, "stored").inc()
    log.info(
        "inbound_event_stored",
        inbound_event=event_id,
        integration=integration.id,
        provider_event=identity.provider_event_id,
        type=identity.event_type,
    )
    return Receipt(id=event_id, duplicate=False)


async def _record_rejection(
    db: Database,
    integration: ReceivingIntegration,
    config: verification.InboundConfig | None,
    headers: Mapping[str, str],
    body: bytes,
    error: SignatureInvalid,
) -> None:
    connection = integration.connection_code
    metrics.child(metrics.INBOUND_RECEIVED, connection, "rejected").inc()
    metrics.child(metrics.INBOUND_REJECTED, connection, error.code).inc()
    log.warning(
        "inbound_signature_rejected",
        integration=integration.id,
        reason=error.code,
        detail=error.reason,
    )
    verifier = config.verifier if config is not None else None
    async with db.session() as session:
        session.add(
            InboundEvent(
                id=new_id("inev"),
                tenant_id=integration.tenant_id,
                integration_id=integration.id,
                connection_code=connection,
                provider_event_id=None,
                event_type=None,
                signature_valid=False,
                status="rejected",
                status_reason=f"{error.code}: {error.reason}",
                body=body,
                headers=verification.kept_headers(
                    verifier, headers, verification.hmac_headers(config)
                ),
                attempts=0,
                replays=0,
                received_at=now(),
                request_id=current_request_id(),
            )
        )
        await session.commit()
