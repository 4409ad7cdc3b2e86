from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

ID = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")
MD5 = Field(default=None, pattern=r"^[0-9a-fA-F]{32}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Address(Strict):
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    state: str | None = Field(default=None, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2.")
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)


class ItemIn(Strict):
    id: str | None = Field(default=None, max_length=128, description="The platform's line id.")
    product_id: str | None = Field(default=None, max_length=128)
    variant_id: str | None = Field(default=None, max_length=128)
    lab_product_id: str | None = Field(
        default=None, max_length=128, description="The lab's product, when no mapping is used."
    )
    lab_attributes: list[str] | None = Field(default=None, max_length=50)
    lab_node_id: str | None = Field(default=None, max_length=64)
    quantity: int = Field(ge=1, le=10_000)
    image_url: HttpUrl
    image_md5: str | None = MD5


class FulfillmentOrderCreate(Strict):
    order_id: str = ID
    integration_id: str | None = Field(
        default=None,
        max_length=40,
        description="The lab integration; default: the tenant's default for 'fulfillment'.",
    )
    items: list[ItemIn] = Field(min_length=1, max_length=500)
    ship_to: Address
    lab_attributes: list[str] = Field(
        default_factory=list, max_length=50, description="Order-level (e.g. shipping method)."
    )


class TimelineEntry(BaseModel):
    status: str
    message: str | None
    data: dict[str, Any]
    created: datetime


class TrackingRead(BaseModel):
    carrier: str | None
    number: str | None
    url: str | None
    shipped_at: str | None


class FulfillmentOrderRead(BaseModel):
    id: str
    object: str = "fulfillment_order"
    order_id: str
    integration_id: str
    connection_code: str
    status: str
    source: str
    lab_order_id: str | None
    items: list[dict[str, Any]]
    ship_to: dict[str, Any]
    lab_attributes: list[str]
    totals: dict[str, Any]
    tracking: list[TrackingRead]
    error_code: str | None
    last_error: str | None
    submissions: int
    submitted_at: datetime | None
    shipped_at: datetime | None
    created: datetime
    updated: datetime
    timeline: list[TimelineEntry] | None = None


class MappingCreate(Strict):
    integration_id: str = Field(min_length=1, max_length=40)
    product_id: str = ID
    variant_id: str | None = Field(default=None, max_length=128)
    lab_product_id: str = Field(min_length=1, max_length=128)
    lab_attributes: list[str] = Field(default_factory=list, max_length=50)
    lab_node_id: str | None = Field(default=None, max_length=64)


class MappingRead(BaseModel):
    id: str
    object: str = "product_mapping"
    integration_id: str
    product_id: str
    variant_id: str | None
    lab_product_id: str
    lab_attributes: list[str]
    lab_node_id: str | None
    created: datetime
    updated: datetime


class LabProductRead(BaseModel):
    id: str
    name: str
    nodes: list[dict[str, Any]]
    attributes: list[dict[str, Any]]
    details: dict[str, Any]
    removed: bool = False


class CatalogChanges(BaseModel):
    added: list[str]
    changed: list[str]
    removed: list[str]


class CatalogRead(BaseModel):
    object: str = "lab_catalog"
    integration_id: str
    synced_at: datetime | None
    previous_sync_at: datetime | None
    changes: CatalogChanges
    data: list[LabProductRead]


class CallbackRegister(Strict):
    url: HttpUrl = Field(description="Where the lab posts status: /v1/inbound/{integration_id}.")


class CallbackRead(BaseModel):
    object: str = "lab_callback"
    integration_id: str
    url: str | None
    status: str | None
    verified_at: datetime | None
