"""Events: what happened in a tenant, published inside the transaction that made it happen."""

from interlink.events.publish import publish

__all__ = ["publish"]
