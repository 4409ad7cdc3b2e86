from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from limits import parse as parse_rate_limit
from pydantic import BaseModel, ConfigDict, Field, field_validator


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)
    scopes: list[str] = Field(min_length=1, max_length=50)
    mode: Literal["test", "live"] | None = Field(
        default=None, description="Defaults to the mode of the calling key."
    )
    expires_at: datetime | None = None
    rate_limit: str | None = Field(
        default=None, max_length=40, description="For example '50/second' or '1000/minute'."
    )
    tenant_id: str | None = Field(
        default=None, description="Platform keys only: issue the key inside this tenant."
    )

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_rate_limit(value)
            except ValueError:
                raise ValueError("not a rate limit such as '100/second'") from None
        return value

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a timezone (RFC 3339, e.g. 2026-01-15T10:30:00Z)")
        return value


class ApiKeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_period_hours: float | None = Field(
        default=None,
        ge=0,
        le=24 * 30,
        description="How long the old key keeps working; 24 hours unless said.",
    )


class ApiKeyRead(BaseModel):
    object: Literal["api_key"] = "api_key"
    id: str
    tenant: str
    name: str
    mode: str
    scopes: list[str]
    masked_key: str
    rate_limit: str | None
    created: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    rotated_to: str | None


class ApiKeyWithSecret(ApiKeyRead):
    key: str = Field(description="The key itself. It is shown once and cannot be fetched again.")


class UsageDay(BaseModel):
    day: date
    requests: int
    errors: int


class ApiKeyUsageRead(BaseModel):
    object: Literal["api_key_usage"] = "api_key_usage"
    api_key: str
    last_used_at: datetime | None
    total_requests: int
    days: list[UsageDay]
