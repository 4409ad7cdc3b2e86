"""The automatic pipeline: a platform event ``order.created`` or ``order.paid`` carrying print
items becomes a fulfillment order, queued for submission, exactly once.

Which event submits is the lab integration's setting ``submit_on`` (``order.created`` by default,
``order.paid``, or ``manual``). The event's ``data.object`` is the order::

    {"id": "ord_1", "livemode": false,
     "items": [{"id": "li_1", "product_id": "prod_8x10", "variant_id": "glossy", "quantity": 2,
                "image_url": "https://…/a.jpg", "image_md5": "…"}],
     "ship_to": {"name": …, "line1": …, "city": …, "postal_code": …, "country": "US"},
     "fulfillment": {"integration_id": "int_…", "lab_attributes": ["…"]}}

Items without ``image_url`` are not prints and are left out. Without ``fulfillment.integration_id``
the tenant's default integration for purpose ``fulfillment`` is used, in the environment that
``livemode`` names (absent means sandbox).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.errors import AppError
from interlink.fulfillment import repository, service, transitions
from interlink.fulfillment.schemas import Address, ItemIn
from interlink.fulfillment.submission import queue_submission
from interlink.models import Event

log = structlog.get_logger(__name__)
TRIGGERS = ("order.created", "order.paid")
DEFAULT_TRIGGER = "order.created"


def _print_items(order: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = order.get("items")
    if not isinstance(items, list):
        return []
    return [dict(i) for i in items if isinstance(i, Mapping) and i.get("image_url")]


def _clean_items(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    fields = set(ItemIn.model_fields)
    cleaned = []
    for index, raw in enumerate(items):
        try:
            item = ItemIn.model_validate({k: v for k, v in raw.items() if k in fields})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return [], f"items.{index}.{where}: {first['msg']}"
        cleaned.append(item.model_dump(mode="json"))
    return cleaned, None


async def from_event(session: AsyncSession, event_id: str) -> str:
    """What became of the event (for the job's log)."""
    event = await session.get(Event, event_id)
    if event is None:
        return "event gone"
    data = event.data if isinstance(event.data, Mapping) else {}
    order = data.get("object") if isinstance(data.get("object"), Mapping) else data
    assert isinstance(order, Mapping)
    order_id = order.get("id")
    prints = _print_items(order)
    if not isinstance(order_id, str) or not order_id or not prints:
        return "no print items"
    options = order.get("fulfillment") if isinstance(order.get("fulfillment"), Mapping) else {}
    assert isinstance(options, Mapping)
    mode = "live" if order.get("livemode") is True or data.get("livemode") is True else "test"
    try:
        integration = await service.lab_integration(
            session, event.tenant_id, options.get("integration_id"), mode
        )
    except AppError as exc:
        log.warning("fulfillment_no_lab", event=event.id, order=order_id, reason=exc.message)
        return f"no lab: {exc.message}"
    trigger = integration.settings.get("submit_on", DEFAULT_TRIGGER)
    if trigger != event.type:
        return f"integration submits on {trigger}, not {event.type}"
    if await repository.by_order(session, event.tenant_id, order_id, integration.id) is not None:
        return "already created"
    items, item_problem = _clean_items(prints)
    ship_raw = order.get("ship_to") or order.get("shipping_address") or {}
    try:
        ship_to = Address.model_validate(ship_raw).model_dump(mode="json", exclude_none=True)
        address_problem = None
    except ValidationError as exc:
        first = exc.errors()[0]
        ship_to = dict(ship_raw) if isinstance(ship_raw, Mapping) else {}
        address_problem = f"ship_to.{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    if not items:
        items = prints
    resolved, missing = await service.resolve_items(session, event.tenant_id, integration.id, items)
    attributes = options.get("lab_attributes")
    row = service._new_order(
        event.tenant_id,
        order_id,
        integration,
        resolved,
        ship_to,
        [str(a) for a in attributes] if isinstance(attributes, list) else [],
        source="event",
        event_id=event.id,
    )
    if not await service._insert(session, row):
        return "already created"
    transitions.note(session, row, "pending", f"Created from event {event.type} {event.id}.")
    problem = item_problem or address_problem
    if problem is None and missing is not None:
        problem = (
            f"{missing}: product has no mapping to a product of this lab; create one with POST "
            "/v1/fulfillment/product-mappings, then resubmit."
        )
    if problem is not None:
        await transitions.needs_attention(session, row, problem, "invalid_order", rejected=False)
        return f"needs attention: {problem}"
    await queue_submission(session, row)
    return f"queued {row.id}"
