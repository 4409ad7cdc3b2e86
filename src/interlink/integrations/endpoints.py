from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import AwareDatetime

from interlink.auth.dependencies import (
    ConnectionsRead,
    ConnectionsWrite,
    IntegrationsRead,
    IntegrationsWrite,
    LogsRead,
)
from interlink.db.pagination import ListResponse, PageParams, list_body, page_params
from interlink.db.session import Session
from interlink.errors import ErrorBody
from interlink.integrations import catalog, execute, health, links, logs, service
from interlink.integrations.runtime import ProviderRuntime, runtime_for
from interlink.integrations.schemas import (
    CapabilityCreate,
    CapabilityRead,
    CapabilityUpdate,
    ConnectionCreate,
    ConnectionRead,
    ConnectionUpdate,
    Environment,
    ExecuteRequest,
    ExecuteResult,
    IntegrationCreate,
    IntegrationLogRead,
    IntegrationRead,
    IntegrationStatus,
    IntegrationStatusRead,
    IntegrationUpdate,
    Kind,
    LinkCreate,
    LinkRead,
    StatusOverview,
    TestOutcome,
)
from interlink.kit.crypto import Keyring

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409)
}
PROVIDER_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    **{code: {"model": ErrorBody} for code in (402, 501, 502, 503)},
}


def get_runtime(request: Request) -> ProviderRuntime:
    state = request.app.state
    return runtime_for(state.db, state.settings, state.keyring)


def get_keyring(request: Request) -> Keyring:
    keyring: Keyring = request.app.state.keyring
    return keyring


Runtime = Annotated[ProviderRuntime, Depends(get_runtime)]
Keys = Annotated[Keyring, Depends(get_keyring)]
Page = Annotated[PageParams, Depends(page_params)]

connections = APIRouter(prefix="/connections", tags=["connections"])


@connections.get("", response_model=ListResponse[ConnectionRead], responses=ERRORS)
async def list_connections(key: ConnectionsRead, session: Session, kind: Kind | None = None) -> Any:
    return list_body(await catalog.list_all(session, kind), False)


@connections.post(
    "", response_model=ConnectionRead, status_code=status.HTTP_201_CREATED, responses=ERRORS
)
async def create_connection(body: ConnectionCreate, key: ConnectionsWrite, session: Session) -> Any:
    return await catalog.create(session, body)


@connections.get("/{code}", response_model=ConnectionRead, responses=ERRORS)
async def get_connection(code: str, key: ConnectionsRead, session: Session) -> Any:
    return await catalog.get(session, code)


@connections.put("/{code}", response_model=ConnectionRead, responses=ERRORS)
async def update_connection(
    code: str, body: ConnectionUpdate, key: ConnectionsWrite, session: Session
) -> Any:
    return await catalog.update(session, code, body)


@connections.delete("/{code}", response_model=ConnectionRead, responses=ERRORS)
async def delete_connection(code: str, key: ConnectionsWrite, session: Session) -> Any:
    return await catalog.delete(session, code)


@connections.get(
    "/{code}/capabilities", response_model=ListResponse[CapabilityRead], responses=ERRORS
)
async def list_connection_capabilities(code: str, key: ConnectionsRead, session: Session) -> Any:
    return list_body(await catalog.list_capabilities(session, code), False)


@connections.post(
    "/{code}/capabilities",
    response_model=CapabilityRead,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
)
async def create_capability(
    code: str, body: CapabilityCreate, key: ConnectionsWrite, session: Session
) -> Any:
    return await catalog.create_capability(session, code, body)


@connections.get(
    "/{code}/capabilities/{capability_code}", response_model=CapabilityRead, responses=ERRORS
)
async def get_capability(
    code: str, capability_code: str, key: ConnectionsRead, session: Session
) -> Any:
    return await catalog.get_capability(session, code, capability_code)


@connections.put(
    "/{code}/capabilities/{capability_code}", response_model=CapabilityRead, responses=ERRORS
)
async def update_capability(
    code: str,
    capability_code: str,
    body: CapabilityUpdate,
    key: ConnectionsWrite,
    session: Session,
) -> Any:
    return await catalog.update_capability(session, code, capability_code, body)


@connections.delete(
    "/{code}/capabilities/{capability_code}", response_model=CapabilityRead, responses=ERRORS
)
async def delete_capability(
    code: str, capability_code: str, key: ConnectionsWrite, session: Session
) -> Any:
    return await catalog.delete_capability(session, code, capability_code)


integrations = APIRouter(prefix="/integrations", tags=["integrations"])


@integrations.post(
    "", response_model=IntegrationRead, status_code=status.HTTP_201_CREATED, responses=ERRORS
)
async def create_integration(
    body: IntegrationCreate, key: IntegrationsWrite, session: Session, keyring: Keys
) -> Any:
    return await service.create(session, keyring, key, body)


@integrations.get("", response_model=ListResponse[IntegrationRead], responses=ERRORS)
async def list_integrations(
    key: IntegrationsRead,
    session: Session,
    page: Page,
    connection_code: str | None = None,
    kind: Kind | None = None,
    status: IntegrationStatus | None = None,
    environment: Environment | None = None,
) -> Any:
    data, has_more = await service.page(
        session,
        key,
        page,
        connection_code=connection_code,
        kind=kind,
        status=status,
        environment=environment,
    )
    return list_body(data, has_more)


@integrations.get("/status", response_model=StatusOverview, responses=ERRORS)
async def integrations_status(key: IntegrationsRead, session: Session, request: Request) -> Any:
    warning = timedelta(days=request.app.state.settings.integration_expiry_warning_days)
    return await health.overview(session, key.tenant_id, service.environment_of(key), warning)


@integrations.get("/{integration_id}", response_model=IntegrationRead, responses=ERRORS)
async def get_integration(integration_id: str, key: IntegrationsRead, session: Session) -> Any:
    return service.to_read(await service.get_row(session, key, integration_id))


@integrations.get(
    "/{integration_id}/health", response_model=IntegrationStatusRead, responses=ERRORS
)
async def integration_health(
    integration_id: str, key: IntegrationsRead, session: Session, request: Request
) -> Any:
    warning = timedelta(days=request.app.state.settings.integration_expiry_warning_days)
    return await health.one(session, await service.get_row(session, key, integration_id), warning)


@integrations.put("/{integration_id}", response_model=IntegrationRead, responses=ERRORS)
async def update_integration(
    integration_id: str,
    body: IntegrationUpdate,
    key: IntegrationsWrite,
    session: Session,
    keyring: Keys,
) -> Any:
    return await service.update(session, keyring, key, integration_id, body)


@integrations.delete("/{integration_id}", response_model=IntegrationRead, responses=ERRORS)
async def delete_integration(integration_id: str, key: IntegrationsWrite, session: Session) -> Any:
    return await service.delete(session, key, integration_id)


@integrations.post("/{integration_id}/test", response_model=TestOutcome, responses=ERRORS)
async def test_integration(integration_id: str, key: IntegrationsWrite, runtime: Runtime) -> Any:
    return await execute.test(runtime, key, integration_id)


@integrations.get(
    "/{integration_id}/capabilities",
    response_model=ListResponse[CapabilityRead],
    responses=ERRORS,
)
async def integration_capabilities(
    integration_id: str, key: IntegrationsRead, runtime: Runtime
) -> Any:
    return list_body(await execute.list_capabilities(runtime, key, integration_id), False)


@integrations.post(
    "/{integration_id}/execute", response_model=ExecuteResult, responses=PROVIDER_ERRORS
)
async def execute_capability(
    integration_id: str, body: ExecuteRequest, key: IntegrationsWrite, runtime: Runtime
) -> Any:
    return await execute.execute(runtime, key, integration_id, body)


entities = APIRouter(prefix="/entities", tags=["entity links"])


@entities.post(
    "/{entity_type}/{entity_id}/integrations",
    response_model=LinkRead,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
)
async def link_integration(
    entity_type: str, entity_id: str, body: LinkCreate, key: IntegrationsWrite, session: Session
) -> Any:
    return await links.create(session, key, entity_type, entity_id, body)


@entities.get(
    "/{entity_type}/{entity_id}/integrations",
    response_model=ListResponse[LinkRead],
    responses=ERRORS,
)
async def list_links(
    entity_type: str, entity_id: str, key: IntegrationsRead, session: Session
) -> Any:
    return list_body(await links.list_for_entity(session, key, entity_type, entity_id), False)


@entities.delete(
    "/{entity_type}/{entity_id}/integrations/{integration_id}",
    response_model=ListResponse[LinkRead],
    responses=ERRORS,
)
async def unlink_integration(
    entity_type: str,
    entity_id: str,
    integration_id: str,
    key: IntegrationsWrite,
    session: Session,
    purpose: str | None = None,
) -> Any:
    removed = await links.delete(session, key, entity_type, entity_id, integration_id, purpose)
    return list_body(removed, False)


integration_logs = APIRouter(prefix="/integration-logs", tags=["integration logs"])


@integration_logs.get("", response_model=ListResponse[IntegrationLogRead], responses=ERRORS)
async def list_integration_logs(
    key: LogsRead,
    session: Session,
    page: Page,
    integration: str | None = None,
    outcome: Annotated[
        str | None, Query(pattern="^(ok|http_error|network_error|timeout|blocked)$")
    ] = None,
    status_code: Annotated[int | None, Query(ge=100, le=599)] = None,
    since: AwareDatetime | None = None,
    correlation_id: str | None = None,
) -> Any:
    data, has_more = await logs.page(
        session,
        key,
        page,
        integration_id=integration,
        outcome=outcome,
        status_code=status_code,
        since=since,
        correlation_id=correlation_id,
    )
    return list_body(data, has_more)
