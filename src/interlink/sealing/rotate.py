"""Re-seal every registered column under the keyring's active key.

Rows are walked in primary-key order, one batch per short transaction, so a rotation can be
interrupted at any point and simply run again. Each row is written with compare-and-set on its
old token: a row that live traffic changed meanwhile (new credentials, already sealed under the
active key) is left alone rather than overwritten with stale plaintext.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update

from interlink.db.engine import Database
from interlink.kit.crypto import DecryptionError, Keyring, key_id_of
from interlink.sealing.registry import SealedColumn


@dataclass
class RotationReport:
    resealed: int = 0
    changed_meanwhile: int = 0
    unreadable: list[str] = field(default_factory=list)


def _base(column: SealedColumn) -> Any:
    stmt = select(column.key, column.token, *column.aad_columns).where(column.token.is_not(None))
    return stmt.where(column.where) if column.where is not None else stmt


async def key_usage(db: Database, column: SealedColumn) -> Counter[str]:
    """How many rows each key id protects."""
    usage: Counter[str] = Counter()
    async with db.read_session() as session:
        stmt = select(column.token).where(column.token.is_not(None))
        if column.where is not None:
            stmt = stmt.where(column.where)
        for value in (await session.scalars(stmt)).all():
            try:
                usage[key_id_of(column.text(value))] += 1
            except DecryptionError:
                usage["(malformed)"] += 1
    return usage


@dataclass
class Batch:
    last_key: Any
    seen: int
    # (primary key, token as read, token sealed under the active key)
    writes: list[tuple[Any, Any, Any]]
    unreadable: list[str]


async def read_batch(
    db: Database, keyring: Keyring, column: SealedColumn, after: Any, batch_size: int
) -> Batch | None:
    """The next rows after ``after`` and their re-sealed tokens (None when done)."""
    async with db.read_session() as session:
        stmt = _base(column).order_by(column.key).limit(batch_size)
        if after is not None:
            stmt = stmt.where(column.key > after)
        rows = (await session.execute(stmt)).all()
    if not rows:
        return None
    batch = Batch(last_key=rows[-1][0], seen=len(rows), writes=[], unreadable=[])
    for row in rows:
        token = column.text(row[1])
        if not keyring.needs_rotation(token):
            continue
        try:
            fresh = keyring.reseal(token, column.aad(row[2:]))
        except DecryptionError:
            batch.unreadable.append(str(row[0]))
            continue
        batch.writes.append((row[0], row[1], column.stored(fresh)))
    return batch


async def write_batch(
    db: Database, column: SealedColumn, batch: Batch, report: RotationReport
) -> None:
    """Store the re-sealed tokens, each only if the row still holds the token that was read."""
    async with db.session() as session:
        for key, old, new in batch.writes:
            result = await session.execute(
                update(column.token.class_)
                .where(column.key == key, column.token == old)
                .values({column.token.key: new})
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                report.resealed += 1
            else:
                report.changed_meanwhile += 1
        await session.commit()
    report.unreadable.extend(batch.unreadable)


async def rotate_column(
    db: Database,
    keyring: Keyring,
    column: SealedColumn,
    *,
    batch_size: int = 500,
    on_batch: Callable[[int], None] = lambda _n: None,
    max_batches: int | None = None,
) -> RotationReport:
    report = RotationReport()
    after: Any = None
    batches = 0
    while max_batches is None or batches < max_batches:
        batch = await read_batch(db, keyring, column, after, batch_size)
        if batch is None:
            break
        await write_batch(db, column, batch, report)
        after, batches = batch.last_key, batches + 1
        on_batch(batch.seen)
    return report
