"""The built-in connection catalog: connection code → declaration and gateway."""

from __future__ import annotations

from types import MappingProxyType

from interlink.providers.base import ConnectionSpec
from interlink.providers.lab_connections import LAB_CONNECTIONS
from interlink.providers.preview import PREVIEW_CONNECTIONS
from interlink.providers.sandbox import SANDBOX_CONNECTIONS

_ALL = (*SANDBOX_CONNECTIONS, *PREVIEW_CONNECTIONS, *LAB_CONNECTIONS)
BUILTIN: MappingProxyType[str, ConnectionSpec] = MappingProxyType({s.code: s for s in _ALL})
if len(BUILTIN) != len(_ALL):
    raise RuntimeError("two built-in connections share a code")


def get(code: str) -> ConnectionSpec | None:
    return BUILTIN.get(code)


def all_connections() -> list[ConnectionSpec]:
    return sorted(BUILTIN.values(), key=lambda spec: spec.code)
