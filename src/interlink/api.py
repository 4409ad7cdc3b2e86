"""Every router of the public API, in one place."""

from __future__ import annotations

from fastapi import APIRouter

from interlink.auth.endpoints import router as api_keys
from interlink.events.endpoints import router as events
from interlink.fulfillment import endpoints as fulfillment
from interlink.integrations import endpoints as integrations
from interlink.payments import endpoints as payments
from interlink.tenants.endpoints import router as tenants
from interlink.webhooks_in import endpoints as inbound
from interlink.webhooks_out.endpoints import router as webhooks

v1 = APIRouter(prefix="/v1")
v1.include_router(tenants)
v1.include_router(api_keys)
v1.include_router(integrations.connections)
v1.include_router(integrations.integrations)
v1.include_router(integrations.entities)
v1.include_router(integrations.integration_logs)
v1.include_router(inbound.inbound)
v1.include_router(inbound.events)
v1.include_router(webhooks)
v1.include_router(events)
v1.include_router(payments.checkout)
v1.include_router(payments.payments)
v1.include_router(payments.orders)
v1.include_router(payments.reconciliation_runs)
v1.include_router(fulfillment.orders)
v1.include_router(fulfillment.product_mappings)
v1.include_router(fulfillment.labs)
