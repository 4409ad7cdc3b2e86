from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from interlink.providers.base import AuthType as AuthType
from interlink.providers.base import Environment as Environment
from interlink.providers.base import Kind as Kind
from interlink.providers.base import Status as ConnectionStatus

IntegrationStatus = Literal["pending_configuration", "active", "inactive", "error", "needs_reauth"]
CODE = r"^[a-z][a-z0-9_]{1,63}$"
CAPABILITY_CODE = r"^[A-Z][A-Z0-9_]{1,63}$"
SLUG = r"^[a-z][a-z0-9_\-]{0,63}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CapabilityRead(BaseModel):
    object: str = "capability"
    code: str
    connection_code: str
    description: str
    parameters_schema: dict[str, Any]


class CapabilityCreate(Strict):
    capability_code: str = Field(pattern=CAPABILITY_CODE, description="e.g. SYNC_CONTACTS")
    description: str = Field(default="", max_length=2000)
    parameters_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})


class CapabilityUpdate(Strict):
    description: str | None = Field(default=None, max_length=2000)
    parameters_schema: dict[str, Any] | None = None


class ConnectionRead(BaseModel):
    object: str = "connection"
    code: str
    display_name: str
    description: str
    logo_url: str | None
    kind: str
    status: str
    auth_type: str
    credentials_schema: dict[str, Any]
    settings_schema: dict[str, Any]
    capabilities: list[CapabilityRead]
    environments: list[str]
    source: Literal["builtin", "custom"]
    executes: bool = Field(description="Whether execute reaches the provider today.")


class ConnectionCreate(Strict):
    connection_code: str = Field(pattern=CODE)
    display_name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    logo_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://")
    kind: Kind = "automation"
    status: ConnectionStatus = "active"
    auth_type: AuthType = "api_key"
    credentials_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    settings_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})


class ConnectionUpdate(Strict):
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    logo_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://")
    kind: Kind | None = None
    status: ConnectionStatus | None = None
    auth_type: AuthType | None = None
    credentials_schema: dict[str, Any] | None = None
    settings_schema: dict[str, Any] | None = None


class IntegrationCreate(Strict):
    connection_code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    environment: Environment | None = Field(
        default=None,
        description="Defaults to the API key's mode: test → sandbox, live → production.",
    )
    credentials: dict[str, Any] | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    credentials_expire_at: AwareDatetime | None = None


class IntegrationUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    credentials: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    status: Literal["active", "inactive"] | None = Field(
        default=None, description="Enable or disable; other states are set by Interlink."
    )
    credentials_expire_at: AwareDatetime | None = None


class IntegrationRead(BaseModel):
    object: str = "integration"
    id: str
    tenant: str
    connection_code: str
    kind: str
    name: str
    environment: str
    status: str
    has_credentials: bool
    credential_hints: dict[str, str]
    settings: dict[str, Any]
    metadata: dict[str, Any]
    credentials_expire_at: datetime | None
    last_checked_at: datetime | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    created: datetime
    updated: datetime


class TestOutcome(BaseModel):
    object: str = "integration_test"
    integration: str
    ok: bool
    status: str
    message: str
    checked_at: datetime


class ExecuteRequest(Strict):
    capability_code: str = Field(min_length=1, max_length=64)
    parameters: dict[str, Any] = Field(default_factory=dict)


class ExecuteResult(BaseModel):
    object: str = "execution"
    integration: str
    capability_code: str
    result: dict[str, Any]


class LinkCreate(Strict):
    integration_id: str = Field(min_length=1, max_length=40)
    purpose: str = Field(pattern=SLUG, description="e.g. payment_processing, fulfillment")
    is_default: bool = False


class LinkRead(BaseModel):
    object: str = "entity_integration"
    id: str
    entity_type: str
    entity_id: str
    integration_id: str
    purpose: str
    is_default: bool
    created: datetime


class IntegrationLogRead(BaseModel):
    object: str = "integration_log"
    id: str
    integration: str | None
    connection_code: str
    operation: str
    method: str
    url: str
    status_code: int | None
    outcome: str
    error: str | None
    latency_ms: float
    attempt: int
    correlation_id: str | None
    request_excerpt: str | None
    response_excerpt: str | None
    created: datetime


class IntegrationStatusRead(BaseModel):
    id: str
    name: str
    connection_code: str
    environment: str
    status: str
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    calls_24h: int
    errors_24h: int
    error_rate_24h: float
    credentials_expire_at: datetime | None
    credentials_expiring: bool


class StatusOverview(BaseModel):
    object: str = "integration_status"
    data: list[IntegrationStatusRead]
    counts: dict[str, int]
