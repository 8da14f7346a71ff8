"""Writes of persisted queries: learn a document (APQ) under a cap on learned rows,
register allow-listed documents, and note when a document was last used.

The hash is computed by the caller and checked against the text there; these functions
trust it, and the table's check constraint keeps it 64 lowercase hex digits. Times are
clock_timestamp(), not now(): the order of uses within one long transaction still counts."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.persisted.models import PersistedQuery


async def learn(session: AsyncSession, sha256: str, document: str, cap: int) -> bool:
    """Store a document a client sent with its hash; True when it was new. Past `cap`
    learned rows, the least recently used learned rows go, so that anonymous callers
    cannot grow the table without limit (registered rows are never evicted)."""
    inserted = await session.scalar(
        insert(PersistedQuery)
        .values(
            sha256=sha256,
            document=document,
            registered=False,
            created_at=func.clock_timestamp(),
            last_used_at=func.clock_timestamp(),
        )
        .on_conflict_do_nothing(index_elements=[PersistedQuery.sha256])
        .returning(PersistedQuery.sha256)
    )
    if inserted is None:
        return False
    keep = (
        select(PersistedQuery.sha256)
        .where(PersistedQuery.registered.is_(False))
        .order_by(PersistedQuery.last_used_at.desc(), PersistedQuery.created_at.desc())
        .limit(cap)
    )
    await session.execute(
        delete(PersistedQuery).where(
            PersistedQuery.registered.is_(False), PersistedQuery.sha256.not_in(keep)
        )
    )
    return True


async def register(session: AsyncSession, documents: Iterable[tuple[str, str]]) -> int:
    """Allow-list (hash, document) pairs; a document already learned becomes registered.
    Returns how many rows were written."""
    count = 0
    for sha256, document in documents:
        statement = insert(PersistedQuery).values(sha256=sha256, document=document, registered=True)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[PersistedQuery.sha256],
                set_={"registered": True, "document": statement.excluded.document},
            )
        )
        count += 1
    return count


async def touch(session: AsyncSession, sha256: str) -> None:
    """Note a use, so that eviction keeps the documents clients still send."""
    await session.execute(
        update(PersistedQuery)
        .where(PersistedQuery.sha256 == sha256)
        .values(last_used_at=func.clock_timestamp())
    )
