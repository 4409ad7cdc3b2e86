"""Every ORM table; Alembic imports this package to see the whole schema."""

from interlink.models.api_key import ApiKey, ApiKeyUsage
from interlink.models.event import Event
from interlink.models.fulfillment import (
    FulfillmentEvent,
    FulfillmentOrder,
    LabIntegrationState,
    LabProductRow,
    ProductMapping,
)
from interlink.models.idempotency import IdempotencyRecord
from interlink.models.inbound_event import InboundEvent
from interlink.models.integration import (
    CustomCapability,
    CustomConnection,
    EntityIntegrationLink,
    Integration,
    IntegrationLog,
)
from interlink.models.job import Job, Schedule, WorkerHeartbeat
from interlink.models.payment import (
    CheckoutSnapshot,
    OrderStatusHistory,
    PaymentIntent,
    PaymentOperation,
    ReconciliationFinding,
    ReconciliationRun,
)
from interlink.models.system import SystemState
from interlink.models.tenant import Tenant
from interlink.models.webhook import EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "ApiKeyUsage",
    "CheckoutSnapshot",
    "CustomCapability",
    "CustomConnection",
    "EntityIntegrationLink",
    "Event",
    "EventType",
    "FulfillmentEvent",
    "FulfillmentOrder",
    "IdempotencyRecord",
    "InboundEvent",
    "Integration",
    "IntegrationLog",
    "Job",
    "LabIntegrationState",
    "LabProductRow",
    "OrderStatusHistory",
    "PaymentIntent",
    "PaymentOperation",
    "ProductMapping",
    "ReconciliationFinding",
    "ReconciliationRun",
    "Schedule",
    "SystemState",
    "Tenant",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WorkerHeartbeat",
]
