"""Booking reads: a showtime's seat statuses together with the sequence they reflect."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, select

from db.booking.models import SeatOccupancy
from db.cinemas.models import Seat
from db.cinemas.queries import seat_status
from db.session import Database
from db.showtimes.models import Showtime
from db.showtimes.queries import seat_status


@dataclass(frozen=True, slots=True)
class SeatSnapshot:
    showtime_id: int
    sequence: int
    seats: list[tuple[int, str]]  # (seat id, AVAILABLE | HELD | SOLD | BLOCKED), by seat id
    available_count: int


def snapshot_statement(showtime_id: int) -> Select[int, int, str]:
    """One statement, so the statuses and the sequence come from one database snapshot
    (statuses read exactly as the seat map reads them: expired holds are AVAILABLE)."""
    return (
        select(Showtime.seat_sequence, Seat.id.label("seat_id"), seat_status().label("status"))
        .select_from(Showtime)
        .outerjoin(Seat, Seat.hall_id == Showtime.hall_id)
        .outerjoin(
            SeatOccupancy,
            and_(SeatOccupancy.showtime_id == Showtime.id, SeatOccupancy.seat_id == Seat.id),
        )
        .where(Showtime.id == showtime_id)
        .order_by(Seat.id)
    )


async def seat_snapshot(db: Database, showtime_id: int) -> SeatSnapshot | None:
    """Every seat's status and the sequence this reflects; None if there is no showtime."""
    rows = await db.fetch(snapshot_statement(showtime_id))
    if not rows:
        return None
    seats = [(int(r.seat_id), str(r.status)) for r in rows if r.seat_id is not None]
    available = sum(1 for _, s in seats if s == "AVAILABLE")
    return SeatSnapshot(showtime_id, int(rows[0].seat_sequence), seats, available)
