"""Booking reads: live holds, and a showtime's seat statuses together with the sequence
they reflect."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, and_, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from db.booking.models import SeatHold, SeatOccupancy
from db.cinemas.models import Seat
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


async def seat_sequences(db: Database, showtime_ids: Sequence[int]) -> dict[int, int]:
    """The current `seat_sequence` of each of these showtimes that exists, in one statement
    (the seat hub's audit)."""
    rows = await db.fetch(
        select(Showtime.id, Showtime.seat_sequence).where(Showtime.id.in_(list(showtime_ids)))
    )
    return {int(r.id): int(r.seat_sequence) for r in rows}


async def live_holds_by_ids(db: Database, hold_ids: Sequence[int]) -> Sequence[Row[Any]]:
    """Live (unexpired) holds by id, in one statement: `id`, `user_id`, `showtime_id`,
    `expires_at` and `seat_ids` (the held seats, by id; None when there are none)."""
    seats = (
        select(func.array_agg(aggregate_order_by(SeatOccupancy.seat_id, SeatOccupancy.seat_id)))
        .where(SeatOccupancy.hold_id == SeatHold.id, SeatOccupancy.status == "HELD")
        .scalar_subquery()
    )
    return await db.fetch(
        select(
            SeatHold.id,
            SeatHold.user_id,
            SeatHold.showtime_id,
            SeatHold.expires_at,
            seats.label("seat_ids"),
        ).where(SeatHold.id.in_(hold_ids), SeatHold.expires_at > func.now())
    )


async def hold_id_of(db: Database, *, user_id: int, showtime_id: int) -> int | None:
    """The id of the user's hold on the showtime (live or expired), or None."""
    hold_id = await db.scalar(
        select(SeatHold.id).where(SeatHold.user_id == user_id, SeatHold.showtime_id == showtime_id)
    )
    return None if hold_id is None else int(hold_id)


async def showtime_exists(db: Database, showtime_id: int) -> bool:
    """Whether there is such a showtime (seatAvailability checks before subscribing)."""
    return await db.scalar(select(Showtime.id).where(Showtime.id == showtime_id)) is not None
