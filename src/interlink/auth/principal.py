from __future__ import annotations

from dataclasses import dataclass

from interlink.auth import scopes as scope_names


@dataclass(frozen=True)
class Principal:
    """Who is calling: the API key, the tenant it acts for, its mode and scopes.

    A platform key may act for another tenant through the ``Interlink-Tenant`` header; then
    ``tenant_id`` is that tenant and ``home_tenant_id`` the key's own.
    """

    key_id: str
    tenant_id: str
    home_tenant_id: str
    mode: str
    scopes: frozenset[str]
    rate_limit: str | None = None

    def can(self, scope: str) -> bool:
        return scope_names.grants(self.scopes, scope)

    @property
    def is_platform(self) -> bool:
        return scope_names.PLATFORM in self.scopes

    @property
    def is_live(self) -> bool:
        return self.mode == "live"
