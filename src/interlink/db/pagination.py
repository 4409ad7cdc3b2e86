"""Cursor pagination in Stripe's style: newest first, ``starting_after`` / ``ending_before`` ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")
ReadT = TypeVar("ReadT")


@dataclass(frozen=True)
class PageParams:
    limit: int
    starting_after: str | None
    ending_before: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=100, description="Page size, 1 to 100.")] = 10,
    starting_after: Annotated[
        str | None, Query(max_length=64, description="Id of the last object of the previous page.")
    ] = None,
    ending_before: Annotated[
        str | None, Query(max_length=64, description="Id of the first object of the next page.")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, starting_after=starting_after, ending_before=ending_before)


class ListResponse(BaseModel, Generic[ReadT]):
    object: str = "list"
    data: list[ReadT]
    has_more: bool


async def paginate(
    session: AsyncSession,
    stmt: Select[T],
    id_column: InstrumentedAttribute[str],
    params: PageParams,
) -> tuple[Sequence[T], bool]:
    """Rows ordered newest first (ids are time-sortable) and whether more follow."""
    if params.ending_before is not None:
        page_stmt = (
            stmt.where(id_column > params.ending_before)
            .order_by(id_column.asc())
            .limit(params.limit + 1)
        )
        rows: list[T] = list((await session.scalars(page_stmt)).all())
        has_more = len(rows) > params.limit
        return rows[: params.limit][::-1], has_more
    if params.starting_after is not None:
        stmt = stmt.where(id_column < params.starting_after)
    rows = list(
        (await session.scalars(stmt.order_by(id_column.desc()).limit(params.limit + 1))).all()
    )
    return rows[: params.limit], len(rows) > params.limit


def list_body(data: Sequence[Any], has_more: bool) -> dict[str, Any]:
    return {"object": "list", "data": list(data), "has_more": has_more}
