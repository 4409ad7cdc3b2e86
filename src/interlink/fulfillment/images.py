"""Fetching the platform's images (through the SSRF guard) and building the lab order from a
fulfillment order: each image's MD5 is computed here and handed to the lab."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from interlink.integrations.audit import BufferedAuditSink
from interlink.integrations.runtime import ProviderRuntime
from interlink.kit.ssrf import guarded_connector
from interlink.models import FulfillmentOrder
from interlink.observability.context import current_request_id
from interlink.providers.errors import ProviderUnavailable
from interlink.providers.http import ProviderClient, ProviderResponse, RetryPolicy
from interlink.providers.labs import LabAddress, LabAsset, LabItem, LabOrder


class OrderProblem(Exception):
    """The order cannot go to the lab as it is (an image, a mapping, the address): a person must
    fix it, so the order needs attention."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def image_client(runtime: ProviderRuntime, sink: BufferedAuditSink) -> ProviderClient:
    policy = runtime.policy
    return ProviderClient(
        key=f"images:{sink.integration_id}",
        audit=sink,
        retry=RetryPolicy(max_attempts=runtime.settings.provider_max_attempts),
        timeout=runtime.settings.provider_timeout_seconds,
        correlation_id=current_request_id(),
        connector_factory=lambda: guarded_connector(policy),
    )


MAX_REDIRECTS = 3


async def _get(client: ProviderClient, url: str, where: str) -> ProviderResponse:
    """GET following a few redirects; each hop is checked by the address guard again."""
    for _ in range(MAX_REDIRECTS + 1):
        response = await client.request("GET", url, operation="image.fetch")
        location = response.headers.get("Location")
        if response.status not in (301, 302, 303, 307, 308) or not location:
            return response
        url = urljoin(url, location)
    raise OrderProblem(
        f"{where}: the image URL redirects more than {MAX_REDIRECTS} times.", "image_missing"
    )


async def fetch(client: ProviderClient, url: str, expected_md5: str | None, where: str) -> LabAsset:
    response = await _get(client, url, where)
    if response.status in (404, 410):
        raise OrderProblem(
            f"{where}: the image {url} is missing ({response.status}).", "image_missing"
        )
    if not response.ok:
        raise ProviderUnavailable(
            f"{where}: fetching the image answered {response.status}.", retry_after=30
        )
    if not response.body:
        raise OrderProblem(f"{where}: the image {url} is empty.", "image_missing")
    md5 = hashlib.md5(response.body, usedforsecurity=False).hexdigest()
    if expected_md5 and expected_md5.lower() != md5:
        raise OrderProblem(
            f"{where}: the image at {url} has MD5 {md5}, but the order says {expected_md5.lower()}"
            " (the file changed after the order was placed).",
            "image_hash_mismatch",
        )
    name = urlsplit(url).path.rsplit("/", 1)[-1] or None
    content_type = response.headers.get("Content-Type", "application/octet-stream")
    return LabAsset(
        url=url,
        md5=md5,
        file_name=name,
        size=len(response.body),
        content_type=content_type.split(";")[0],
        content=response.body,
    )


def _address(raw: Mapping[str, Any]) -> LabAddress:
    fields = {k: raw.get(k) for k in LabAddress.__dataclass_fields__}
    return LabAddress(**{k: v for k, v in fields.items() if v is not None})


async def build(
    runtime: ProviderRuntime, sink: BufferedAuditSink, order: FulfillmentOrder
) -> LabOrder:
    """Raises ``OrderProblem`` (permanent) or ``ProviderUnavailable`` (retry)."""
    client = image_client(runtime, sink)
    items = []
    for index, item in enumerate(order.items):
        where = f"items.{index}"
        if not item.get("lab_product_id"):
            raise OrderProblem(
                f"{where}: product {item.get('product_id')!r} has no lab product; map it with "
                "POST /v1/fulfillment/product-mappings and resubmit.",
                "product_mapping_missing",
            )
        asset = await fetch(client, str(item["image_url"]), item.get("image_md5"), where)
        node = item.get("lab_node_id")
        asset = replace(asset, node_id=node)
        items.append(
            LabItem(
                reference=str(item.get("id") or f"{order.id}-{index + 1}"),
                product_id=str(item["lab_product_id"]),
                quantity=int(item["quantity"]),
                assets=(asset,),
                attributes=tuple(item.get("lab_attributes") or ()),
                our_product_id=item.get("product_id"),
                our_variant_id=item.get("variant_id"),
            )
        )
    try:
        ship_to = _address(order.ship_to)
    except TypeError:
        raise OrderProblem("ship_to: the address is incomplete.", "invalid_address") from None
    return LabOrder(
        reference=order.id,
        order_id=order.order_id,
        items=tuple(items),
        ship_to=ship_to,
        attributes=tuple(order.attributes),
    )
