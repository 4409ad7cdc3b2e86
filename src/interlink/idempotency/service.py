"""Idempotency records.

``begin`` claims the (API key, Idempotency-Key) pair in its own short transaction; the unique
constraint decides between concurrent first requests. The response is then written into the
request's own transaction (``complete``), so the record says "completed" if and only if the work it
describes committed. A record left ``in_progress`` by a crash therefore describes work that never
committed; once its lock lapses, the same key may run again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from interlink.db.engine import Database
from interlink.errors import Conflict, IdempotencyError, InvalidRequest
from interlink.kit.clock import now
from interlink.kit.crypto import Keyring
from interlink.kit.ids import new_id
from interlink.models import IdempotencyRecord

MAX_KEY_LENGTH = 255
IN_PROGRESS_LOCK = timedelta(minutes=5)
STORED_HEADERS = ("content-type", "location")


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Claim:
    record_id: str


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def validate_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidRequest(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
            param="Idempotency-Key",
            code="invalid_idempotency_key",
        )


async def begin(
    db: Database,
    keyring: Keyring,
    api_key_id: str,
    key: str,
    request_fingerprint: str,
    ttl: timedelta,
) -> Claim | StoredResponse:
    """Claim the key for this request, or return the response stored under it.

    Raises IdempotencyError when the key was used with another request, Conflict while the first
    request with the key is still running.
    """
    validate_key(key)
    at = now()
    # a replay (or a key still in use) is answered from a read: no write transaction, which on
    # SQLite would wait for the database's one writer
    async with db.read_session() as session:
        seen = await session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.api_key_id == api_key_id, IdempotencyRecord.key == key
            )
        )
        settled = _seen(seen, at) if seen is not None else None
    if settled is not None:
        return _answer(settled, request_fingerprint, keyring)
    dialect = sqlite if db.is_sqlite else postgresql
    record_id = new_id("idem")
    async with db.session() as session:
        inserted = await session.execute(
            dialect.insert(IdempotencyRecord)
            .values(
                id=record_id,
                api_key_id=api_key_id,
                key=key,
                request_fingerprint=request_fingerprint,
                state="in_progress",
                created_at=at,
                locked_until=at + IN_PROGRESS_LOCK,
                expires_at=at + ttl,
            )
            .on_conflict_do_nothing(index_elements=["api_key_id", "key"])
        )
        if inserted.rowcount == 1:  # type: ignore[attr-defined]
            await session.commit()
            return Claim(record_id)
        row = await session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.api_key_id == api_key_id, IdempotencyRecord.key == key
            )
        )
        if row is None:  # pruned between the two statements
            await session.rollback()
            return await begin(db, keyring, api_key_id, key, request_fingerprint, ttl)
        found = _seen(row, at)
        if found is None:  # expired, or its lock lapsed: this request takes the key
            taken = await session.execute(
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.id == row.id,
                    IdempotencyRecord.state == row.state,
                    IdempotencyRecord.created_at == row.created_at,
                )
                .values(
                    id=record_id,
                    request_fingerprint=request_fingerprint,
                    state="in_progress",
                    created_at=at,
                    locked_until=at + IN_PROGRESS_LOCK,
                    expires_at=at + ttl,
                    response_status=None,
                    response_headers=None,
                    response_body=None,
                    response_sealed=False,
                )
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return Claim(record_id)
            raise Conflict(
                "A request with this Idempotency-Key is in progress; retry later.",
                code="idempotency_key_in_use",
                param="Idempotency-Key",
            )
        await session.rollback()
    return _answer(found, request_fingerprint, keyring)


@dataclass(frozen=True)
class _Seen:
    """A live record as read: what answers a request that finds it."""

    id: str
    state: str
    fingerprint: str
    sealed: bool
    stored: StoredResponse


def _seen(row: IdempotencyRecord, at: datetime) -> _Seen | None:
    """The record's answer, or None when it no longer binds the key (expired, or in progress
    with its lock lapsed)."""
    stale = row.expires_at <= at or (
        row.state == "in_progress" and row.locked_until is not None and row.locked_until <= at
    )
    if stale:
        return None
    return _Seen(
        id=row.id,
        state=row.state,
        fingerprint=row.request_fingerprint,
        sealed=row.response_sealed,
        stored=StoredResponse(
            status=row.response_status or 200,
            headers=dict(row.response_headers or {}),
            body=row.response_body or b"",
        ),
    )


def _answer(seen: _Seen, request_fingerprint: str, keyring: Keyring) -> StoredResponse:
    if seen.fingerprint != request_fingerprint:
        raise IdempotencyError(
            "This Idempotency-Key was already used with a different request "
            "(method, path or body). Use a new key for a new request.",
            param="Idempotency-Key",
        )
    if seen.state == "in_progress":
        raise Conflict(
            "A request with this Idempotency-Key is still in progress; retry later.",
            code="idempotency_key_in_use",
            param="Idempotency-Key",
        )
    stored = seen.stored
    if seen.sealed:
        return StoredResponse(
            stored.status, stored.headers, keyring.open(stored.body.decode(), seen.id.encode())
        )
    return stored


async def complete(
    session: AsyncSession,
    keyring: Keyring,
    claim: Claim,
    response: StoredResponse,
    *,
    seal: bool,
) -> None:
    """Write the response into ``session``'s transaction (the request's own)."""
    body = response.body
    if seal:
        body = keyring.seal(body, claim.record_id.encode()).encode()
    headers = {k: v for k, v in response.headers.items() if k.lower() in STORED_HEADERS}
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == claim.record_id)
        .values(
            state="completed",
            response_status=response.status,
            response_headers=headers,
            response_body=body,
            response_sealed=seal,
            locked_until=None,
        )
        .execution_options(synchronize_session=False)
    )


async def release(db: Database, claim: Claim) -> None:
    """Forget a claim whose request failed in a way that must not be replayed (5xx, conflicts)."""
    async with db.session() as session:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.id == claim.record_id, IdempotencyRecord.state == "in_progress"
            )
        )
        await session.commit()


async def prune_expired(session: AsyncSession) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
