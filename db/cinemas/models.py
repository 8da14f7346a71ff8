"""Cinema tables: cinemas, halls, seats, showtimes (never overlapping in a hall) and prices."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Timestamps

SEAT_TYPES = ("STANDARD", "PREMIUM", "VIP", "ACCESSIBLE")
SHOWTIME_STATUSES = ("SCHEDULED", "CANCELLED")

# Name of the exclusion constraint; actions map its violation to SHOWTIME_OVERLAP.
SHOWTIME_OVERLAP_CONSTRAINT = "ex_showtimes_hall_no_overlap"


class Cinema(Timestamps, Base):
    __tablename__ = "cinemas"
    __table_args__ = (
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    address: Mapped[str] = mapped_column(String(300), nullable=False)
    city: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    latitude: Mapped[float] = mapped_column(Double, nullable=False)
    longitude: Mapped[float] = mapped_column(Double, nullable=False)
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False)
    opens_at: Mapped[time | None] = mapped_column(Time)
    closes_at: Mapped[time | None] = mapped_column(Time)
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")


class Hall(Timestamps, Base):
    __tablename__ = "halls"
    __table_args__ = (
        UniqueConstraint("cinema_id", "name"),
        CheckConstraint("cleaning_minutes >= 0", name="cleaning_minutes"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    cinema_id: Mapped[int] = mapped_column(
        ForeignKey("cinemas.id", ondelete="CASCADE"), index=True, nullable=False
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    screen_type: Mapped[str] = mapped_column(String(32), nullable=False, server_default="STANDARD")
    sound_system: Mapped[str | None] = mapped_column(String(64))
    cleaning_minutes: Mapped[int] = mapped_column(Integer, nullable=False, server_default="15")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")


class Seat(Base):
    """One seat of a hall; (x, y) is its drawing position (column, row) in seat units."""

    __tablename__ = "seats"
    __table_args__ = (
        UniqueConstraint("hall_id", "row_label", "number"),
        CheckConstraint(
            "seat_type IN ('STANDARD', 'PREMIUM', 'VIP', 'ACCESSIBLE')", name="seat_type"
        ),
        CheckConstraint("number > 0", name="number"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"), nullable=False)
    row_label: Mapped[str] = mapped_column(String(8), nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    seat_type: Mapped[str] = mapped_column(String(16), nullable=False, server_default="STANDARD")
    x: Mapped[int] = mapped_column(Integer, nullable=False)
    y: Mapped[int] = mapped_column(Integer, nullable=False)
    is_blocked: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")


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
