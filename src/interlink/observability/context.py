from __future__ import annotations

import re
from contextvars import ContextVar

import structlog

from interlink.kit.ids import new_id

_request_id: ContextVar[str | None] = ContextVar("interlink_request_id", default=None)
_SAFE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def current_request_id() -> str | None:
    return _request_id.get()


def accept_or_new(incoming: str | None) -> str:
    """Keep a caller's id when it is a sane token, otherwise make one."""
    if incoming and _SAFE.match(incoming):
        return incoming
    return new_id("req")


def bind_request_id(request_id: str | None) -> None:
    _request_id.set(request_id)
    if request_id is None:
        structlog.contextvars.unbind_contextvars("request_id")
    else:
        structlog.contextvars.bind_contextvars(request_id=request_id)
