"""The print-lab capability: the ``LabProvider`` protocol and the normalized order, status and
catalog models every lab adapter speaks (sandbox_lab, whcc, generic_lab and its mpix preset).

Submission is two-phase so that a retry never places an order twice: ``prepare`` does everything
the lab allows to repeat (an import, a session, image uploads) and returns a draft that the caller
stores; ``submit`` places the order from that draft, and a lab saying "already submitted" is a
success, not an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from interlink.providers.base import GatewayContext
from interlink.providers.errors import ProviderDeclined, ProviderFailure

LabState = Literal["submitted", "accepted", "in_production", "shipped", "cancelled", "rejected"]
LAB_STATES: tuple[LabState, ...] = (
    "submitted",
    "accepted",
    "in_production",
    "shipped",
    "cancelled",
    "rejected",
)


@dataclass(frozen=True)
class LabAddress:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str | None = None
    state: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class LabAsset:
    url: str
    md5: str
    node_id: str | None = None
    file_name: str | None = None
    size: int = 0
    content_type: str = "application/octet-stream"
    # the image itself, for labs that want an upload rather than a URL to fetch
    content: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class LabItem:
    reference: str
    product_id: str
    quantity: int
    assets: tuple[LabAsset, ...]
    attributes: tuple[str, ...] = ()
    our_product_id: str | None = None
    our_variant_id: str | None = None


@dataclass(frozen=True)
class LabOrder:
    reference: str  # our fulfillment order id: the lab echoes it back in its callbacks
    order_id: str  # the platform's order id
    items: tuple[LabItem, ...]
    ship_to: LabAddress
    ship_from: LabAddress | None = None
    attributes: tuple[str, ...] = ()  # order-level lab attributes (shipping method …)

    def as_template_data(self) -> dict[str, Any]:
        """The order as the generic adapter's field mapping sees it (no image bytes)."""
        data = asdict(self)
        for item in data["items"]:
            for asset in item["assets"]:
                asset.pop("content", None)
        return data


@dataclass(frozen=True)
class Tracking:
    carrier: str | None
    number: str | None
    url: str | None = None
    shipped_at: str | None = None


@dataclass(frozen=True)
class LabStatus:
    state: LabState
    message: str | None = None
    tracking: tuple[Tracking, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LabSubmission:
    lab_order_id: str
    state: LabState = "submitted"
    totals: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LabProduct:
    id: str
    name: str
    nodes: tuple[Mapping[str, Any], ...] = ()
    attributes: tuple[Mapping[str, Any], ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


class LabRejected(ProviderDeclined):
    """The lab refused the order on its merits (image hash mismatch, a business rule). Retrying
    the same order cannot help: a person must look at it."""

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message, param=param)
        self.code = code


class LabDraftInvalid(ProviderFailure):
    """The lab no longer knows the prepared draft (an expired import): prepare again."""


@runtime_checkable
class LabProvider(Protocol):
    def poll_interval(self, ctx: GatewayContext) -> float | None:
        """Seconds between status polls, or None when status arrives only by callback."""
        ...

    async def prepare(self, ctx: GatewayContext, order: LabOrder) -> dict[str, Any]:
        """Everything that is safe to repeat; the returned draft is stored before ``submit``."""
        ...

    async def submit(
        self, ctx: GatewayContext, order: LabOrder, draft: Mapping[str, Any]
    ) -> LabSubmission:
        """Place the order. Raises ``LabRejected`` for a permanent refusal, ``ProviderUnavailable``
        when it may be retried, ``LabDraftInvalid`` when the draft must be prepared again."""
        ...

    async def status(self, ctx: GatewayContext, lab_order_id: str) -> LabStatus | None:
        """The lab's current view of the order (None when the lab offers no status query)."""
        ...

    async def cancel(self, ctx: GatewayContext, lab_order_id: str) -> LabStatus:
        """Raises ``ProviderConflict`` when the lab cannot (or no longer) cancel."""
        ...

    async def catalog(self, ctx: GatewayContext) -> list[LabProduct]: ...

    def check_mapping(
        self, product: LabProduct, attributes: Sequence[str], node_id: str | None
    ) -> str | None:
        """Why the mapping does not fit the lab's product (None when it fits)."""
        ...


def check_mapping_against(
    product: LabProduct, attributes: Sequence[str], node_id: str | None
) -> str | None:
    """The shared rule: a node must be one of the product's nodes, and attributes must be ones
    the product lists (when the lab lists any)."""
    if node_id is not None and product.nodes:
        nodes = {str(n.get("id")) for n in product.nodes}
        if node_id not in nodes:
            return (
                f"node {node_id!r} is not a node of lab product {product.id!r} "
                f"(nodes: {', '.join(sorted(nodes))})"
            )
    known = {str(a.get("id")) for a in product.attributes}
    if known:
        unknown = [a for a in attributes if a not in known]
        if unknown:
            return (
                f"attribute {unknown[0]!r} is not offered for lab product {product.id!r} "
                f"(attributes: {', '.join(sorted(known))})"
            )
    return None


@runtime_checkable
class CallbackLab(Protocol):
    """A lab that pushes status to a URL registered through its API, after a handshake."""

    async def register_callback(self, ctx: GatewayContext, url: str) -> None: ...

    async def confirm_callback(self, ctx: GatewayContext, verifier: str) -> None: ...
