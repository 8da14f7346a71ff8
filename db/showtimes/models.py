"""Showtime tables: showtimes (never overlapping in a hall) and their prices per seat type."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Timestamps

SHOWTIME_STATUSES = ("SCHEDULED", "CANCELLED")

# Name of the exclusion constraint; actions map its violation to SHOWTIME_OVERLAP.
SHOWTIME_OVERLAP_CONSTRAINT = "ex_showtimes_hall_no_overlap"


class Showtime(Timestamps, Base):
    __tablename__ = "showtimes"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("status IN ('SCHEDULED', 'CANCELLED')", name="status"),
        ExcludeConstraint(
            ("hall_id", "="),
            (text("tstzrange(starts_at, ends_at)"), "&&"),
            where=text("status = 'SCHEDULED'"),
            using="gist",
            name=SHOWTIME_OVERLAP_CONSTRAINT,
        ),
        Index("ix_showtimes_starts_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    movie_id: Mapped[int] = mapped_column(
        ForeignKey("movies.id", ondelete="RESTRICT"), index=True, nullable=False
    )
    hall_id: Mapped[int] = mapped_column(
        ForeignKey("halls.id", ondelete="RESTRICT"), index=True, nullable=False
    )
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    format: Mapped[str] = mapped_column(String(16), nullable=False, server_default="2D")
    language: Mapped[str] = mapped_column(String(32), nullable=False)
    subtitles: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="SCHEDULED")
    # Realtime sequence: booking increments it in the same transaction as every seat change.
    seat_sequence: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    # General sale opens here (NULL: on sale at once); presale waves may open earlier for some.
    sales_open_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ShowtimePrice(Base):
    __tablename__ = "showtime_prices"
    __table_args__ = (
        CheckConstraint(
            "seat_type IN ('STANDARD', 'PREMIUM', 'VIP', 'ACCESSIBLE')", name="seat_type"
        ),
        CheckConstraint("amount >= 0", name="amount"),
    )

    showtime_id: Mapped[int] = mapped_column(
        ForeignKey("showtimes.id", ondelete="CASCADE"), primary_key=True
    )
    seat_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(10, 2), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, server_default="USD")


class PresaleWave(Base):
    """An early opening of a showtime's sale for one audience: customers with at least
    `min_loyalty_points` (LOYALTY_MEMBERS), or holders of a promo code (PROMO_CODE)."""

    __tablename__ = "presale_waves"
    __table_args__ = (
        CheckConstraint("audience IN ('LOYALTY_MEMBERS', 'PROMO_CODE')", name="audience"),
        CheckConstraint(
            "(audience = 'LOYALTY_MEMBERS' AND min_loyalty_points IS NOT NULL "
            "AND min_loyalty_points >= 0 AND promo_code_id IS NULL) OR "
            "(audience = 'PROMO_CODE' AND promo_code_id IS NOT NULL "
            "AND min_loyalty_points IS NULL)",
            name="audience_rule",
        ),
        Index("ix_presale_waves_showtime", "showtime_id", "opens_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    showtime_id: Mapped[int] = mapped_column(
        ForeignKey("showtimes.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    opens_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    audience: Mapped[str] = mapped_column(String(20), nullable=False)
    min_loyalty_points: Mapped[int | None] = mapped_column(Integer)
    promo_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("promo_codes.id", ondelete="RESTRICT")
    )
