"""Engine, sessions, declarative base and the generic repository."""

from interlink.db.base import Base
from interlink.db.engine import Database

__all__ = ["Base", "Database"]
