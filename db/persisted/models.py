"""The persisted_queries table: one row per document, keyed by the SHA-256 of its text."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CHAR, Boolean, CheckConstraint, DateTime, Index, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class PersistedQuery(Base):
    __tablename__ = "persisted_queries"
    __table_args__ = (
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        # Eviction reads the learned rows least recently used first.
        Index("ix_persisted_queries_learned", "registered", "last_used_at"),
    )

    # Lowercase hex of the SHA-256 of `document`'s UTF-8 bytes (what Apollo clients send).
    sha256: Mapped[str] = mapped_column(CHAR(64), primary_key=True)
    document: Mapped[str] = mapped_column(Text, nullable=False)
    # True for allow-listed documents (`marquee persisted-queries register`), which are
    # never evicted; false for documents learned from clients (APQ), which are.
    registered: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    last_used_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
