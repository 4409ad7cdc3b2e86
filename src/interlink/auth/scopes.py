"""Scope names. ``x:write`` includes ``x:read``; ``admin`` is everything inside the key's tenant;
``platform`` is everything, across tenants (the operator's key)."""

from __future__ import annotations

from collections.abc import Iterable

ADMIN = "admin"
PLATFORM = "platform"

RESOURCES = (
    "tenants",
    "api_keys",
    "integrations",
    "connections",
    "payments",
    "webhooks",
    "events",
    "inbound",
    "fulfillment",
    "shipping",
    "tax",
    "oauth",
    "logs",
)

ALL_SCOPES: frozenset[str] = frozenset(
    {ADMIN, PLATFORM}
    | {f"{resource}:{access}" for resource in RESOURCES for access in ("read", "write")}
)


def unknown_scopes(scopes: Iterable[str]) -> list[str]:
    return sorted(set(scopes) - ALL_SCOPES)


def grants(held: frozenset[str], wanted: str) -> bool:
    """Whether a key holding ``held`` may do what ``wanted`` names."""
    if PLATFORM in held:
        return True
    if wanted == PLATFORM:
        return False
    if ADMIN in held or wanted in held:
        return True
    resource, _, access = wanted.partition(":")
    return access == "read" and f"{resource}:write" in held


def may_grant(held: frozenset[str], requested: Iterable[str]) -> list[str]:
    """The requested scopes that a key holding ``held`` may not hand to a new key."""
    return sorted(s for s in set(requested) if not grants(held, s))
