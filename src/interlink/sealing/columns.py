"""Every sealed column Interlink stores."""

from __future__ import annotations

from interlink.models import IdempotencyRecord, Integration
from interlink.sealing.registry import SealedColumn, register

register(
    SealedColumn(
        name="integrations.credentials",
        key=Integration.id,
        token=Integration.credentials_sealed,
        aad_columns=(Integration.tenant_id, Integration.id),
        aad=lambda values: f"integration|{values[0]}|{values[1]}".encode(),
    )
)
register(
    SealedColumn(
        name="idempotency_keys.response_body",
        key=IdempotencyRecord.id,
        token=IdempotencyRecord.response_body,
        aad_columns=(IdempotencyRecord.id,),
        aad=lambda values: str(values[0]).encode(),
        where=IdempotencyRecord.response_sealed.is_(True),
        as_bytes=True,
    )
)
