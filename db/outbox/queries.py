"""Outbox reads for operations and tests: counts by status, and the rows themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select

from db.outbox.models import OutboxMessage
from db.session import Database


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    channel: str
    template: str
    recipient: str
    context: dict[str, Any]
    dedupe_key: str
    message_id: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.channel,
    OutboxMessage.template,
    OutboxMessage.recipient,
    OutboxMessage.context,
    OutboxMessage.dedupe_key,
    OutboxMessage.message_id,
    OutboxMessage.status,
    OutboxMessage.attempts,
    OutboxMessage.next_attempt_at,
    OutboxMessage.last_attempt_at,
    OutboxMessage.last_error,
    OutboxMessage.created_at,
    OutboxMessage.sent_at,
)


def _row(r: Row[Any]) -> OutboxRow:
    return OutboxRow(**r._asdict())


async def status_counts(db: Database, *, channel: str | None = None) -> dict[str, int]:
    """{status: rows} (statuses without rows are left out)."""
    stmt = select(OutboxMessage.status, func.count().label("n")).group_by(OutboxMessage.status)
    if channel is not None:
        stmt = stmt.where(OutboxMessage.channel == channel)
    return {row.status: row.n for row in await db.fetch(stmt)}


async def list_messages(
    db: Database, *, status: str | None = None, limit: int = 100
) -> list[OutboxRow]:
    """The newest rows first, of one status or all."""
    stmt = select(*_COLUMNS).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    return [_row(r) for r in await db.fetch(stmt)]


async def message_by_dedupe_key(db: Database, dedupe_key: str) -> OutboxRow | None:
    row = await db.fetch_one(select(*_COLUMNS).where(OutboxMessage.dedupe_key == dedupe_key))
    return None if row is None else _row(row)


async def message_by_id(db: Database, id: int) -> OutboxRow | None:
    row = await db.fetch_one(select(*_COLUMNS).where(OutboxMessage.id == id))
    return None if row is None else _row(row)
