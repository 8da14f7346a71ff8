"""Reads of persisted queries: one document by hash, and the whole list (the CLI)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, select

from db.persisted.models import PersistedQuery
from db.session import Database

_BY_HASH = select(PersistedQuery.document, PersistedQuery.registered).where(
    PersistedQuery.sha256 == bindparam("sha256")
)


async def find_document(db: Database, sha256: str) -> Row[Any] | None:
    """(document, registered) of the document with this hash, or None."""
    rows = await db.fetch(_BY_HASH, {"sha256": sha256})
    return rows[0] if rows else None


async def list_documents(db: Database) -> Sequence[Row[Any]]:
    """Every stored document, registered ones first, then the most recently used."""
    return await db.fetch(
        select(
            PersistedQuery.sha256,
            PersistedQuery.registered,
            PersistedQuery.created_at,
            PersistedQuery.last_used_at,
            PersistedQuery.document,
        ).order_by(
            PersistedQuery.registered.desc(),
            PersistedQuery.last_used_at.desc(),
            PersistedQuery.sha256,
        )
    )
