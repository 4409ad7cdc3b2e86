"""Authorization as a type: ``key: auth.PaymentsWrite`` in an endpoint's signature."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from interlink.auth.exceptions import MissingApiKey
from interlink.auth.principal import Principal
from interlink.errors import AppError, PermissionDenied


def current_principal(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None:
        return principal
    error: AppError | None = getattr(request.state, "auth_error", None)
    if error is not None:
        raise error
    raise MissingApiKey("No API key given. Send it as 'Authorization: Bearer ik_test_…'.")


def require_scope(scope: str) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if not principal.can(scope):
            raise PermissionDenied(f"This API key lacks the '{scope}' scope.", param=scope)
        return principal

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency


def scoped(scope: str) -> object:
    return Annotated[Principal, Depends(require_scope(scope))]


Authenticated = Annotated[Principal, Depends(current_principal)]
Platform = Annotated[Principal, Depends(require_scope("platform"))]
TenantsRead = Annotated[Principal, Depends(require_scope("tenants:read"))]
ApiKeysRead = Annotated[Principal, Depends(require_scope("api_keys:read"))]
ApiKeysWrite = Annotated[Principal, Depends(require_scope("api_keys:write"))]
IntegrationsRead = Annotated[Principal, Depends(require_scope("integrations:read"))]
IntegrationsWrite = Annotated[Principal, Depends(require_scope("integrations:write"))]
InboundRead = Annotated[Principal, Depends(require_scope("inbound:read"))]
InboundWrite = Annotated[Principal, Depends(require_scope("inbound:write"))]
FulfillmentRead = Annotated[Principal, Depends(require_scope("fulfillment:read"))]
FulfillmentWrite = Annotated[Principal, Depends(require_scope("fulfillment:write"))]


def _catalog_reader(request: Request) -> Principal:
    # configuring integrations needs the catalog, so integrations:read also reads it
    principal = current_principal(request)
    if not (principal.can("connections:read") or principal.can("integrations:read")):
        raise PermissionDenied(
            "This API key lacks the 'connections:read' (or 'integrations:read') scope.",
            param="connections:read",
        )
    return principal


ConnectionsRead = Annotated[Principal, Depends(_catalog_reader)]
# the catalog is shared by every tenant, so changing it is an operator's act: platform keys only
ConnectionsWrite = Annotated[Principal, Depends(require_scope("platform"))]
LogsRead = Annotated[Principal, Depends(require_scope("logs:read"))]
WebhooksRead = Annotated[Principal, Depends(require_scope("webhooks:read"))]
WebhooksWrite = Annotated[Principal, Depends(require_scope("webhooks:write"))]
EventsRead = Annotated[Principal, Depends(require_scope("events:read"))]
EventsWrite = Annotated[Principal, Depends(require_scope("events:write"))]
PaymentsRead = Annotated[Principal, Depends(require_scope("payments:read"))]
PaymentsWrite = Annotated[Principal, Depends(require_scope("payments:write"))]
