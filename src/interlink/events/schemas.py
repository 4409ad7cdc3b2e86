from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class EventTypeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=100, examples=["invoice.paid"])
    description: str = Field(default="", max_length=500)
    schema_: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description="A JSON schema (draft 2020-12) that published `data` must satisfy.",
    )


class EventTypeRead(BaseModel):
    object: Literal["event_type"] = "event_type"
    name: str
    description: str
    built_in: bool
    schema_: dict[str, Any] | None = Field(default=None, serialization_alias="schema")
    created: datetime | None = None


class EventTypeList(BaseModel):
    object: Literal["list"] = "list"
    data: list[EventTypeRead]
    has_more: bool = False


class EventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(max_length=100, examples=["order.created"])
    data: dict[str, Any]
    id: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Your own id for the event: publishing it again returns the first event.",
    )
    channels: list[str] | None = Field(default=None, max_length=10)


class EventDeliveryRead(BaseModel):
    id: str
    endpoint: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None


class EventRead(BaseModel):
    object: Literal["event"] = "event"
    id: str
    type: str
    created: datetime
    tenant: str
    data: dict[str, Any]
    external_id: str | None
    source: str
    channels: list[str] | None
    deliveries: list[EventDeliveryRead] | None = None
