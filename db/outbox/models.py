"""The outbox table: one row per message to send, written in the transaction of its cause.

The sender polls the pending rows through a partial index (channel, next_attempt_at) WHERE
status = 'PENDING', so sent and failed rows, however many, cost the poll nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("status IN ('PENDING', 'SENT', 'FAILED')", name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index(
            "ix_outbox_messages_pending",
            "channel",
            "next_attempt_at",
            postgresql_where=text("status = 'PENDING'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), server_default="EMAIL", nullable=False)
    template: Mapped[str] = mapped_column(String(64), nullable=False)
    recipient: Mapped[str] = mapped_column(String(320), nullable=False)
    # JSON-serialisable data the template renders (strings for money and times).
    context: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # Enqueueing the same key again is a no-op (INSERT ... ON CONFLICT DO NOTHING).
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    # Fixed at enqueue: every attempt sends the same Message-ID, so receivers can de-duplicate.
    message_id: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(String(8), server_default="PENDING", nullable=False)
    # Attempts started (a claim counts one); the row is FAILED after the configured maximum.
    attempts: Mapped[int] = mapped_column(Integer, server_default="0", nullable=False)
    # When the row may next be claimed: the retry time, or the end of a claim's lease.
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why the last attempt failed (short; never credentials).
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
