"""What receiving a webhook needs from its integration (tenant, connection, verifier options and
the unsealed secrets), kept per process so that a delivery does not read the integration row and
open its AES-GCM envelope every time.

Freshness:
- a write to the integration through the ORM in this process (update, credential rotation,
  re-sealing, deletion) drops its entry when it is flushed and again when it commits (a delivery
  read between the two cannot keep the old values);
- an entry older than ``INTERLINK_INBOUND_INTEGRATION_CACHE_SECONDS`` is checked against the row
  again before it is used: the row is read (one indexed select), and the credentials are opened
  again only if the sealed envelope or the settings changed. A change made by another process (or
  by a bulk SQL update) is therefore seen within that many seconds; 0 reads the row on every
  delivery, as if there were no cache, but still skips re-opening unchanged credentials.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, Session, object_session

from interlink.db.engine import Database
from interlink.integrations import credentials as sealed
from interlink.kit.crypto import Keyring
from interlink.models import Integration
from interlink.webhooks_in import repository, verification

MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class ReceivingIntegration:
    id: str
    tenant_id: str
    connection_code: str
    settings: Mapping[str, Any]
    config: verification.InboundConfig | None
    credentials: Mapping[str, Any]
    credentials_sealed: str | None
    checked_at: float


class IntegrationCache:
    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries: dict[str, ReceivingIntegration] = {}
        self._loading: dict[str, asyncio.Future[ReceivingIntegration | None]] = {}
        self._invalidations = 0
        _caches.add(self)

    async def get(
        self, db: Database, keyring: Keyring, integration_id: str
    ) -> ReceivingIntegration | None:
        entry = self._entries.get(integration_id)
        if entry is not None and time.monotonic() - entry.checked_at < self.ttl_seconds:
            return entry
        # one read per integration at a time: the deliveries that arrive meanwhile wait for it
        loading = self._loading.get(integration_id)
        if loading is not None:
            return await asyncio.shield(loading)
        future: asyncio.Future[ReceivingIntegration | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._loading[integration_id] = future
        try:
            found = await self._load(db, keyring, integration_id, entry)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a lone failed load must not warn when collected
            raise
        else:
            future.set_result(found)
            return found
        finally:
            if self._loading.get(integration_id) is future:
                del self._loading[integration_id]

    async def _load(
        self,
        db: Database,
        keyring: Keyring,
        integration_id: str,
        entry: ReceivingIntegration | None,
    ) -> ReceivingIntegration | None:
        checked_at = time.monotonic()
        invalidations = self._invalidations
        async with db.read_session() as read:
            row = await repository.receiving_row(read, integration_id)
        if row is None:
            self._entries.pop(integration_id, None)
            return None
        if (
            entry is not None
            and entry.credentials_sealed == row.credentials_sealed
            and entry.settings == row.settings
            and entry.tenant_id == row.tenant_id
            and entry.connection_code == row.connection_code
        ):
            entry = replace(entry, checked_at=checked_at)
        else:
            entry = _open(keyring, row, checked_at)
        if invalidations != self._invalidations:
            return entry  # written meanwhile: what was read may predate the write; keep none
        if len(self._entries) >= MAX_ENTRIES and integration_id not in self._entries:
            self._entries.clear()  # a crude bound; a real deployment has far fewer integrations
        self._entries[integration_id] = entry
        return entry

    def invalidate(self, integration_id: str) -> None:
        self._invalidations += 1
        self._entries.pop(integration_id, None)
        self._loading.pop(integration_id, None)  # later deliveries read the row again


def _open(keyring: Keyring, row: Any, checked_at: float) -> ReceivingIntegration:
    settings: Mapping[str, Any] = row.settings or {}
    config = verification.config_for(row.connection_code, settings)
    # without a verifier the delivery is refused before any secret is needed
    creds = (
        sealed.unseal(keyring, row.tenant_id, row.id, row.credentials_sealed)
        if config is not None and row.credentials_sealed
        else {}
    )
    return ReceivingIntegration(
        id=row.id,
        tenant_id=row.tenant_id,
        connection_code=row.connection_code,
        settings=settings,
        config=config,
        credentials=creds,
        credentials_sealed=row.credentials_sealed,
        checked_at=checked_at,
    )


_caches: weakref.WeakSet[IntegrationCache] = weakref.WeakSet()


def invalidate_everywhere(integration_id: str) -> None:
    for cache in list(_caches):
        cache.invalidate(integration_id)


_WRITTEN = "inbound_cache_written_integrations"


@event.listens_for(Integration, "after_update")
@event.listens_for(Integration, "after_delete")
def _integration_written(_mapper: Mapper[Any], _conn: Connection, target: Integration) -> None:
    invalidate_everywhere(target.id)
    session = object_session(target)
    if session is not None:
        session.info.setdefault(_WRITTEN, set()).add(target.id)


@event.listens_for(Session, "after_commit")
def _integrations_committed(session: Session) -> None:
    for integration_id in session.info.pop(_WRITTEN, ()):
        invalidate_everywhere(integration_id)


@event.listens_for(Session, "after_soft_rollback")
def _integrations_rolled_back(session: Session, _previous: Any) -> None:
    session.info.pop(_WRITTEN, None)
