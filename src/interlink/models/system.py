from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from interlink.db.base import Base
from interlink.db.types import UTCDateTime
from interlink.kit.clock import now


class SystemState(Base):
    """Process-wide facts that must be decided once across every replica (bootstrap, …)."""

    __tablename__ = "system_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now, nullable=False)
