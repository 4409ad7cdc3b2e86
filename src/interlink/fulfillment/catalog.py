"""Syncing a lab's catalog into ``lab_products`` and reporting what changed since the last sync."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.fulfillment import repository
from interlink.fulfillment.labs import open_lab
from interlink.fulfillment.schemas import CatalogChanges, CatalogRead, LabProductRead
from interlink.integrations import service as integrations
from interlink.integrations.exceptions import IntegrationNotFound
from interlink.integrations.execute import to_app_error
from interlink.integrations.runtime import ProviderRuntime
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import LabIntegrationState, LabProductRow
from interlink.providers.errors import ProviderFailure
from interlink.providers.labs import LabProduct


def _data(product: LabProduct) -> dict[str, Any]:
    raw = asdict(product)
    return {k: raw[k] for k in ("nodes", "attributes", "details")}


def _digest(product: LabProduct) -> str:
    raw = json.dumps([product.name, _data(product)], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def _read(row: LabProductRow) -> LabProductRead:
    return LabProductRead(
        id=row.lab_product_id,
        name=row.name,
        nodes=row.data.get("nodes") or [],
        attributes=row.data.get("attributes") or [],
        details=row.data.get("details") or {},
        removed=row.removed_at is not None,
    )


async def products(
    runtime: ProviderRuntime,
    session: AsyncSession,
    principal: Principal,
    integration_id: str,
    *,
    refresh: bool,
) -> CatalogRead:
    """With ``refresh`` the lab is asked (no transaction open meanwhile) and the cache updated
    in the request's transaction; without it the cache is returned as last synced."""
    async with runtime.db.read_session() as read:
        row = await repository.integration(read, principal.tenant_id, integration_id)
        if row is None:
            raise IntegrationNotFound(f"No integration {integration_id!r}.", param="integration_id")
        integrations.check_environment(principal, row.environment, param="integration_id")
        lab = await open_lab(runtime, read, row)
    changes = CatalogChanges(added=[], changed=[], removed=[])
    fetched: list[LabProduct] | None = None
    if refresh:
        try:
            fetched = await lab.provider.catalog(lab.ctx)
        except ProviderFailure as exc:
            await lab.flush_audit(runtime.db)
            raise to_app_error(exc) from None
        await lab.flush_audit(runtime.db)
    state = await repository.state(session, row.id)
    previous = state.catalog_synced_at if state is not None else None
    if fetched is not None:
        changes = await _store(session, row.tenant_id, row.id, fetched)
        if state is None:
            state = LabIntegrationState(integration_id=row.id, tenant_id=row.tenant_id)
            session.add(state)
        state.catalog_synced_at = now()
        await session.flush()
    rows = await repository.catalog(session, row.id)
    return CatalogRead(
        integration_id=row.id,
        synced_at=state.catalog_synced_at if state is not None else None,
        previous_sync_at=previous,
        changes=changes,
        data=[_read(r) for r in rows],
    )


async def _store(
    session: AsyncSession, tenant_id: str, integration_id: str, fetched: list[LabProduct]
) -> CatalogChanges:
    existing = {r.lab_product_id: r for r in await repository.catalog(session, integration_id)}
    changes = CatalogChanges(added=[], changed=[], removed=[])
    stamp = now()
    seen = set()
    for product in fetched:
        seen.add(product.id)
        digest = _digest(product)
        row = existing.get(product.id)
        if row is None:
            session.add(
                LabProductRow(
                    id=new_id("lprod"),
                    tenant_id=tenant_id,
                    integration_id=integration_id,
                    lab_product_id=product.id,
                    name=product.name[:500],
                    data=_data(product),
                    digest=digest,
                    first_seen_at=stamp,
                    synced_at=stamp,
                )
            )
            changes.added.append(product.id)
            continue
        if row.digest != digest or row.removed_at is not None:
            changes.changed.append(product.id)
        row.name = product.name[:500]
        row.data = _data(product)
        row.digest = digest
        row.synced_at = stamp
        row.removed_at = None
    for product_id, row in existing.items():
        if product_id not in seen and row.removed_at is None:
            row.removed_at = stamp
            changes.removed.append(product_id)
    for ids in (changes.added, changes.changed, changes.removed):
        ids.sort()
    return changes


def as_lab_product(row: LabProductRow) -> LabProduct:
    return LabProduct(
        id=row.lab_product_id,
        name=row.name,
        nodes=tuple(row.data.get("nodes") or ()),
        attributes=tuple(row.data.get("attributes") or ()),
        details=row.data.get("details") or {},
    )
