"""Cinema tables: cinemas, halls and their seats (showtimes live in db/showtimes/models.py)."""

from __future__ import annotations

from datetime import time

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Timestamps

SEAT_TYPES = ("STANDARD", "PREMIUM", "VIP", "ACCESSIBLE")


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
    # `db.cinemas.layout.layout_version` of the hall's seats, kept by triggers on `seats`
    # (migration 0023_layout_versions); "" until the hall has had seats.
    layout_version: Mapped[str] = mapped_column(String(16), nullable=False, server_default="")
    # Kept by the same triggers (migration 0024_layout_order): the hall's seats in layout
    # order (`db.cinemas.layout.group_rows` of the drawing order), what both seat maps lay
    # a showtime's occupancies over: ids, row labels, numbers, types, and each seat's status
    # without occupancy (`B` blocked, else `A`).
    layout_seat_ids: Mapped[list[int]] = mapped_column(
        ARRAY(BigInteger), nullable=False, server_default="{}"
    )
    layout_row_labels: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default="{}"
    )
    layout_numbers: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), nullable=False, server_default="{}"
    )
    layout_seat_types: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default="{}"
    )
    layout_base: Mapped[str] = mapped_column(Text, nullable=False, server_default="")


class Seat(Base):
    """One seat of a hall; (x, y) is its drawing position (column, row) in seat units."""

    __tablename__ = "seats"
    __table_args__ = (
        UniqueConstraint("hall_id", "row_label", "number"),
        CheckConstraint(
            "seat_type IN ('STANDARD', 'PREMIUM', 'VIP', 'ACCESSIBLE')", name="seat_type"
        ),
        CheckConstraint("number > 0", name="number"),
        # The announcer's available count reads a hall's blocked seats through this
        # (migration 0030_announce_count_occupancies); a hall has few or none.
        Index("ix_seats_hall_id_blocked", "hall_id", postgresql_where=text("is_blocked")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"), nullable=False)
    row_label: Mapped[str] = mapped_column(String(8), nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    seat_type: Mapped[str] = mapped_column(String(16), nullable=False, server_default="STANDARD")
    x: Mapped[int] = mapped_column(Integer, nullable=False)
    y: Mapped[int] = mapped_column(Integer, nullable=False)
    is_blocked: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
