"""Booking tables: seat holds and seat occupancy.

`seat_occupancy` has one row per occupied (showtime, seat) under a unique constraint: that
constraint is what makes double booking impossible. A row belongs to a hold (`hold_id`)
until checkout, then to the order (`order_id`). A HELD row copies its hold's
`expires_at` so reads can treat an expired hold as AVAILABLE without a join.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base

OCCUPANCY_STATUSES = ("HELD", "SOLD")


class SeatHold(Base):
    __tablename__ = "seat_holds"
    # One hold per user and showtime: a new holdSeats replaces it (an upsert on this key).
    __table_args__ = (UniqueConstraint("user_id", "showtime_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    showtime_id: Mapped[int] = mapped_column(
        ForeignKey("showtimes.id", ondelete="CASCADE"), index=True, nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), index=True, nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    # The promo code a hold made before the showtime's general sale was admitted with (what
    # the customer passed to holdSeats); checkout judges the customer's opening again with it
    # (docs/shop.md, "Presale waves").
    presale_code: Mapped[str | None] = mapped_column(Text)


class SeatOccupancy(Base):
    __tablename__ = "seat_occupancy"
    __table_args__ = (
        UniqueConstraint("showtime_id", "seat_id"),
        CheckConstraint("status IN ('HELD', 'SOLD')", name="status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    showtime_id: Mapped[int] = mapped_column(
        ForeignKey("showtimes.id", ondelete="CASCADE"), nullable=False
    )
    seat_id: Mapped[int] = mapped_column(
        ForeignKey("seats.id", ondelete="RESTRICT"), index=True, nullable=False
    )
    hold_id: Mapped[int | None] = mapped_column(
        ForeignKey("seat_holds.id", ondelete="CASCADE"), index=True
    )
    # Set at checkout, when the seats move from the hold to its order (hold_id becomes NULL):
    # HELD until the order is paid (then SOLD in place), expires or is cancelled.
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(8), nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
