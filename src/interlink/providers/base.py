"""The catalog's vocabulary: connection and capability declarations and the Gateway protocol."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from interlink.providers.http import ProviderClient

KINDS = (
    "payment",
    "lab",
    "shipping",
    "tax",
    "commerce",
    "social",
    "bookkeeping",
    "calendar",
    "email",
    "automation",
)
Kind = Literal[
    "payment",
    "lab",
    "shipping",
    "tax",
    "commerce",
    "social",
    "bookkeeping",
    "calendar",
    "email",
    "automation",
]
Status = Literal["active", "beta", "deprecated"]
AuthType = Literal["api_key", "oauth2", "basic", "none"]
Environment = Literal["sandbox", "production"]

EMPTY_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {},
    "additionalProperties": False,
}


@dataclass(frozen=True)
class CapabilitySpec:
    code: str
    description: str
    parameters_schema: Mapping[str, Any] = field(default_factory=lambda: dict(EMPTY_SCHEMA))


@dataclass(frozen=True)
class TestResult:
    ok: bool
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class GatewayContext:
    """Everything a gateway may use for one operation; credentials are already decrypted and
    must not outlive the call."""

    tenant_id: str
    integration_id: str
    environment: Environment
    credentials: Mapping[str, Any]
    settings: Mapping[str, Any]
    client: ProviderClient


class Gateway(Protocol):
    async def test(self, ctx: GatewayContext) -> TestResult:
        """The cheapest authenticated request the provider offers."""
        ...

    async def execute(
        self, ctx: GatewayContext, capability: str, parameters: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Run a capability whose parameters were already validated against its schema."""
        ...


@dataclass(frozen=True)
class ConnectionSpec:
    code: str
    display_name: str
    description: str
    kind: Kind
    status: Status
    auth_type: AuthType
    credentials_schema: Mapping[str, Any]
    settings_schema: Mapping[str, Any]
    capabilities: tuple[CapabilitySpec, ...]
    gateway: Callable[[], Gateway]
    logo_url: str | None = None
    # whether execute really reaches the provider (False: a typed "not available yet")
    executes: bool = True
    # environments an integration of this connection may live in
    environments: tuple[Environment, ...] = ("sandbox", "production")
    # the provider's documented limit for one account, in ``limits`` notation
    rate_limit: str = "25/second"
    # credential fields whose masked hint is shown (all string fields when empty)
    hint_fields: tuple[str, ...] = ()
    # checks of the settings beyond their JSON schema; raises ValueError (with ``param``)
    settings_check: Callable[[Mapping[str, Any]], None] | None = None

    def capability(self, code: str) -> CapabilitySpec | None:
        return next((c for c in self.capabilities if c.code == code), None)
