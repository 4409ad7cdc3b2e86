from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute


@dataclass(frozen=True)
class SealedColumn:
    """``token`` holds ``v1.<kid>.<payload>`` tokens (as text, or as UTF-8 bytes when
    ``as_bytes``); ``aad`` rebuilds a row's associated data from ``aad_columns``."""

    name: str
    key: InstrumentedAttribute[Any]
    token: InstrumentedAttribute[Any]
    aad_columns: Sequence[InstrumentedAttribute[Any]]
    aad: Callable[[Sequence[Any]], bytes]
    where: ColumnElement[bool] | None = None
    as_bytes: bool = False

    def text(self, value: Any) -> str:
        return bytes(value).decode("ascii") if self.as_bytes else str(value)

    def stored(self, token: str) -> Any:
        return token.encode("ascii") if self.as_bytes else token


_columns: dict[str, SealedColumn] = {}


def register(column: SealedColumn) -> None:
    _columns[column.name] = column


def columns() -> list[SealedColumn]:
    return list(_columns.values())
