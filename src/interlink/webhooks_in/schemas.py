from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

InboundStatus = Literal["received", "retrying", "processed", "ignored", "dead", "rejected"]


class Receipt(BaseModel):
    object: Literal["inbound_receipt"] = "inbound_receipt"
    id: str
    duplicate: bool


class InboundEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    object: Literal["inbound_event"] = "inbound_event"
    id: str
    integration_id: str
    connection_code: str
    provider_event_id: str | None
    type: str | None = Field(validation_alias=AliasChoices("event_type", "type"))
    status: InboundStatus
    status_reason: str | None
    signature_valid: bool
    attempts: int
    last_error: str | None
    replays: int
    received_at: datetime
    next_attempt_at: datetime | None
    processed_at: datetime | None


class InboundEventDetail(InboundEventRead):
    headers: dict[str, str]
    # the raw body as text (undecodable bytes replaced); ``payload`` when it is a JSON object
    body: str
    payload: dict[str, Any] | None


class BulkReplay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime
    integration_id: str | None = Field(default=None, max_length=64)


class BulkReplayResult(BaseModel):
    object: Literal["inbound_replay"] = "inbound_replay"
    replayed: int
    ids: list[str]
    has_more: bool
