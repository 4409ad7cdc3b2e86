from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

HTTPS_ONLY_NOTE = "https is required for live keys; test keys may use http."


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must include a timezone (RFC 3339, e.g. 2026-01-15T10:30:00Z)")
    return value


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048, description=HTTPS_ONLY_NOTE)
    description: str = Field(default="", max_length=500)
    event_types: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Exact names or wildcards such as 'order.*'; empty means every type.",
    )
    channels: list[str] | None = Field(default=None, max_length=10)
    headers: dict[str, str] = Field(default_factory=dict, max_length=20)
    rate_limit: int | None = Field(
        default=None, ge=1, le=10_000, description="Deliveries per second at most."
    )
    timeout_seconds: float | None = Field(default=None, ge=1, le=60)
    enabled: bool = True


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=2048)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[str] | None = Field(default=None, max_length=100)
    channels: list[str] | None = Field(default=None, max_length=10)
    headers: dict[str, str] | None = Field(default=None, max_length=20)
    rate_limit: int | None = Field(default=None, ge=1, le=10_000)
    timeout_seconds: float | None = Field(default=None, ge=1, le=60)
    enabled: bool | None = None


class WebhookEventsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_types: list[str] = Field(max_length=100)


class RotateSecret(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_hours: float | None = Field(
        default=None, ge=0, le=24 * 7, description="How long the old secret keeps signing (24 h)."
    )


class RecoverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime
    until: datetime | None = None

    _check_since = field_validator("since", "until")(_aware)


class WebhookRead(BaseModel):
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    id: str
    tenant: str
    url: str
    mode: str
    description: str
    event_types: list[str]
    channels: list[str] | None
    headers: dict[str, str]
    rate_limit: int | None
    timeout_seconds: float
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    secret_hint: str
    secret_rotation_ends_at: datetime | None
    created: datetime
    updated: datetime


class WebhookWithSecret(WebhookRead):
    secret: str = Field(
        description="The whsec_ signing secret. Fetch it again with GET /v1/webhooks/{id}/secret."
    )


class WebhookSecret(BaseModel):
    object: Literal["webhook_secret"] = "webhook_secret"
    key: str
    previous_valid_until: datetime | None


class AttemptRead(BaseModel):
    object: Literal["webhook_attempt"] = "webhook_attempt"
    id: str
    attempted_at: datetime
    succeeded: bool
    status_code: int | None
    duration_ms: int
    response_body: str | None
    error_class: str | None
    error_message: str | None
    trigger: str


class DeliveryRead(BaseModel):
    object: Literal["webhook_delivery"] = "webhook_delivery"
    id: str
    endpoint: str
    event: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created: datetime
    attempt_history: list[AttemptRead] | None = None


class RecoverResult(BaseModel):
    object: Literal["webhook_recovery"] = "webhook_recovery"
    requeued: int


class TestResult(BaseModel):
    object: Literal["webhook_test"] = "webhook_test"
    delivery: str
    event: str
    succeeded: bool
    attempt: AttemptRead
