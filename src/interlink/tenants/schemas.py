from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    metadata: dict[str, str] = Field(default_factory=dict, max_length=50)


class TenantRead(BaseModel):
    object: Literal["tenant"] = "tenant"
    id: str
    name: str
    metadata: dict[str, Any]
    created: datetime
