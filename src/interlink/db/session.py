"""The request's unit of work: one session, committed by the request pipeline once the response is
ready and before a byte of it is sent, or rolled back on any error."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.db.engine import Database


class UnitOfWork:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._session: AsyncSession | None = None

    @property
    def started(self) -> bool:
        return self._session is not None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._db.session()
        return self._session

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.commit()

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_session(request: Request) -> AsyncSession:
    uow: UnitOfWork | None = getattr(request.state, "uow", None)
    if uow is None:
        raise RuntimeError("get_session used outside the /v1 request pipeline")
    return uow.session


Session = Annotated[AsyncSession, Depends(get_session)]
DB = Annotated[Database, Depends(get_database)]
