"""Product mappings: our product (or one variant) → the lab's product, attributes and node. When
the lab's catalog was synced, a mapping must name a product, node and attributes it offers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.db.pagination import PageParams, paginate
from interlink.fulfillment import catalog, repository
from interlink.fulfillment.exceptions import MappingInvalid
from interlink.fulfillment.labs import require_lab
from interlink.fulfillment.schemas import MappingCreate, MappingRead
from interlink.integrations import catalog as connections
from interlink.integrations import service as integrations
from interlink.integrations.exceptions import IntegrationNotFound
from interlink.kit.clock import now
from interlink.kit.ids import new_id
from interlink.models import ProductMapping


def to_read(row: ProductMapping) -> MappingRead:
    return MappingRead(
        id=row.id,
        integration_id=row.integration_id,
        product_id=row.product_id,
        variant_id=row.variant_id or None,
        lab_product_id=row.lab_product_id,
        lab_attributes=row.lab_attributes,
        lab_node_id=row.lab_node_id,
        created=row.created_at,
        updated=row.updated_at,
    )


async def upsert(session: AsyncSession, principal: Principal, body: MappingCreate) -> MappingRead:
    """Create the mapping, or replace the one for the same product and variant."""
    row = await repository.integration(session, principal.tenant_id, body.integration_id)
    if row is None:
        raise IntegrationNotFound(
            f"No integration {body.integration_id!r}.", param="integration_id"
        )
    integrations.check_environment(principal, row.environment, param="integration_id")
    spec = await connections.require(session, row.connection_code, param="integration_id")
    provider = require_lab(row, spec)
    synced = await repository.catalog(session, row.id)
    if synced:
        product = await repository.lab_product(session, row.id, body.lab_product_id)
        if product is None or product.removed_at is not None:
            raise MappingInvalid(
                f"lab_product_id: {body.lab_product_id!r} is not in the lab's catalog as last "
                f"synced (GET /v1/integrations/{row.id}/products).",
                param="lab_product_id",
            )
        problem = provider.check_mapping(
            catalog.as_lab_product(product), body.lab_attributes, body.lab_node_id
        )
        if problem is not None:
            param = "lab_node_id" if problem.startswith("node") else "lab_attributes"
            raise MappingInvalid(f"{param}: {problem}.", param=param)
    variant = body.variant_id or ""
    mapping = await repository.mapping(
        session, principal.tenant_id, row.id, body.product_id, variant
    )
    if mapping is None:
        mapping = ProductMapping(
            id=new_id("fpm"),
            tenant_id=principal.tenant_id,
            integration_id=row.id,
            product_id=body.product_id,
            variant_id=variant,
            created_at=now(),
        )
        session.add(mapping)
    mapping.lab_product_id = body.lab_product_id
    mapping.lab_attributes = list(body.lab_attributes)
    mapping.lab_node_id = body.lab_node_id
    mapping.updated_at = now()
    await session.flush()
    return to_read(mapping)


async def page(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    integration_id: str | None,
    product_id: str | None,
) -> tuple[list[MappingRead], bool]:
    stmt = repository.mappings_stmt(principal.tenant_id, integration_id, product_id)
    rows, has_more = await paginate(session, stmt, ProductMapping.id, params)
    return [to_read(r) for r in rows], has_more
