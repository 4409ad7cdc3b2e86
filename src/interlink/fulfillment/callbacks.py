"""Lab callbacks: registering Interlink's inbound URL with a lab that pushes status (WHCC), and
WHCC's verifier handshake (WHCC posts a ``verifier`` to the URL being registered; we confirm it
with ``POST /api/callback/verify``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from urllib.parse import parse_qs

from sqlalchemy.ext.asyncio import AsyncSession

from interlink.auth.principal import Principal
from interlink.db.engine import Database
from interlink.fulfillment import repository
from interlink.fulfillment.exceptions import NotALab
from interlink.fulfillment.labs import open_lab
from interlink.fulfillment.schemas import CallbackRead, CallbackRegister
from interlink.integrations import service as integrations
from interlink.integrations.exceptions import IntegrationNotFound
from interlink.integrations.execute import to_app_error
from interlink.integrations.runtime import ProviderRuntime, runtime_for
from interlink.jobs.enqueue import enqueue
from interlink.jobs.registry import JobContext
from interlink.kit.clock import now
from interlink.models import Integration, LabIntegrationState
from interlink.providers.errors import ProviderFailure
from interlink.providers.labs import CallbackLab
from interlink.webhooks_in.handshakes import handshake
from interlink.webhooks_in.schemas import Receipt

VERIFY_JOB = "fulfillment.verify_callback"


def to_read(state: LabIntegrationState) -> CallbackRead:
    return CallbackRead(
        integration_id=state.integration_id,
        url=state.callback_url,
        status=state.callback_status,
        verified_at=state.callback_verified_at,
    )


async def _state(session: AsyncSession, row: Integration) -> LabIntegrationState:
    state = await repository.state(session, row.id)
    if state is None:
        state = LabIntegrationState(integration_id=row.id, tenant_id=row.tenant_id)
        session.add(state)
    return state


async def register(
    runtime: ProviderRuntime, principal: Principal, integration_id: str, body: CallbackRegister
) -> CallbackRead:
    """Marks the callback pending (committed first: the lab may post its verifier while the
    registration call is still in flight), then asks the lab to register it."""
    async with runtime.db.session() as session:
        row = await repository.integration(session, principal.tenant_id, integration_id)
        if row is None:
            raise IntegrationNotFound(f"No integration {integration_id!r}.", param="integration_id")
        integrations.check_environment(principal, row.environment, param="integration_id")
        lab = await open_lab(runtime, session, row)
        if not isinstance(lab.provider, CallbackLab):
            raise NotALab(
                f"{lab.spec.display_name} takes no callback registration through its API.",
                param="integration_id",
            )
        provider = lab.provider
        state = await _state(session, row)
        state.callback_url = str(body.url)
        state.callback_status = "pending"
        state.callback_verified_at = None
        await session.commit()
    try:
        await provider.register_callback(lab.ctx, str(body.url))
    except ProviderFailure as exc:
        await lab.flush_audit(runtime.db)
        raise to_app_error(exc) from None
    await lab.flush_audit(runtime.db)
    async with runtime.db.read_session() as session:
        found = await repository.state(session, row.id)
        assert found is not None
        return to_read(found)


def _verifier(headers: Mapping[str, str], body: bytes) -> str | None:
    text = body.decode("utf-8", errors="replace").strip()
    value: object = None
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return None
        if isinstance(parsed, Mapping):
            value = parsed.get("verifier") or parsed.get("Verifier")
    else:
        form = parse_qs(text)
        found = form.get("verifier") or form.get("Verifier")
        value = found[0] if found else None
    return value if isinstance(value, str) and 0 < len(value) <= 500 else None


@handshake("whcc")
async def whcc_verifier(
    db: Database,
    session: AsyncSession,
    integration: Integration,
    headers: Mapping[str, str],
    body: bytes,
) -> Receipt | None:
    verifier = _verifier(headers, body)
    if verifier is None:
        return None
    async with db.read_session() as read:
        state = await repository.state(read, integration.id)
    if state is None or state.callback_status != "pending":
        return None
    digest = hashlib.sha256(verifier.encode()).hexdigest()[:24]
    job_id = await enqueue(
        session,
        VERIFY_JOB,
        key=f"{VERIFY_JOB}:{integration.id}:{digest}",
        integration_id=integration.id,
        verifier=verifier,
    )
    return Receipt(id=job_id, duplicate=False)


async def confirm(ctx: JobContext, integration_id: str, verifier: str) -> None:
    runtime = runtime_for(ctx.db, ctx.settings)
    async with ctx.db.read_session() as read:
        row = await read.get(Integration, integration_id)
        if row is None:
            return
        lab = await open_lab(runtime, read, row)
    if not isinstance(lab.provider, CallbackLab):
        return
    try:
        await lab.provider.confirm_callback(lab.ctx, verifier)
    finally:
        await lab.flush_audit(ctx.db)
    state = await repository.state(ctx.session, integration_id)
    if state is not None and state.callback_status == "pending":
        state.callback_status = "verified"
        state.callback_verified_at = now()
