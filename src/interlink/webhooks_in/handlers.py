"""The handler registry: ``@inbound_handler("stripe", "payment_intent.succeeded")``.

A handler runs inside the processing job's transaction (in a savepoint), receives the verified
event and returns what became of it. Raising means "try again later" (with backoff, then dead
letter); an event that needs nothing from us is ``Handled.ignored(reason)``. Handlers must be
safe to run twice and apply only forward state transitions: a replay re-runs them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession


class MalformedEvent(ValueError):
    """The verified event lacks what the handler needs: retrying cannot help, so the event is
    dead-lettered at once with this message."""


@dataclass(frozen=True)
class Handled:
    status: Literal["processed", "ignored"]
    reason: str | None = None

    @classmethod
    def processed(cls, reason: str | None = None) -> Handled:
        return cls("processed", reason)

    @classmethod
    def ignored(cls, reason: str) -> Handled:
        return cls("ignored", reason)


@dataclass(frozen=True)
class InboundContext:
    session: AsyncSession
    tenant_id: str
    integration_id: str
    connection_code: str
    inbound_event_id: str
    provider_event_id: str | None
    event_type: str
    payload: dict[str, Any]


Handler = Callable[[InboundContext], Awaitable[Handled]]

_handlers: dict[tuple[str, str], Handler] = {}


def inbound_handler(connection_code: str, event_type: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        key = (connection_code, event_type)
        if key in _handlers and _handlers[key] is not fn:
            raise ValueError(f"an inbound handler for {key!r} is registered twice")
        _handlers[key] = fn
        return fn

    return register


def find(connection_code: str, event_type: str) -> Handler | None:
    return _handlers.get((connection_code, event_type))


def registered() -> list[tuple[str, str]]:
    return sorted(_handlers)


def replace(connection_code: str, event_type: str, fn: Handler | None) -> Handler | None:
    """Swap a handler (tests); ``None`` removes it. Returns the previous one."""
    key = (connection_code, event_type)
    previous = _handlers.pop(key, None)
    if fn is not None:
        _handlers[key] = fn
    return previous
