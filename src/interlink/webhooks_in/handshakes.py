"""Handshakes: unsigned requests a provider sends to a webhook URL to prove it is reachable
(WHCC posts a ``verifier`` to a callback URL being registered). A handshake answers before the
signature check and only while the integration expects one; anything else goes on to be verified.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.db.engine import Database
from interlink.models import Integration
from interlink.webhooks_in.schemas import Receipt

# (database for reads, the request's session for writes, integration, headers, body); the
# request's session must stay untouched unless the handshake answers (SQLite write lock)
Handshake = Callable[
    [Database, AsyncSession, Integration, Mapping[str, str], bytes], Awaitable[Receipt | None]
]

_handshakes: dict[str, Handshake] = {}


def handshake(connection_code: str) -> Callable[[Handshake], Handshake]:
    def register(fn: Handshake) -> Handshake:
        _handshakes[connection_code] = fn
        return fn

    return register


def expects(connection_code: str) -> bool:
    return connection_code in _handshakes


async def answer(
    db: Database,
    session: AsyncSession,
    integration: Integration,
    headers: Mapping[str, str],
    body: bytes,
) -> Receipt | None:
    fn = _handshakes.get(integration.connection_code)
    if fn is None:
        return None
    return await fn(db, session, integration, headers, body)
