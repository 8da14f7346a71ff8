"""Staff actions on halls and their seat layouts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.booking.actions import announce_seat_changes
from db.booking.models import SeatOccupancy
from db.cinemas.actions.cinemas import UNSET
from db.cinemas.codes import SCREEN_TYPES, CinemaErrorCode
from db.cinemas.layout import SeatSpec
from db.cinemas.models import (
    Cinema,
    Hall,
    Seat,
    Showtime,
)
from db.errors import DomainError, Validator

C = CinemaErrorCode


def _validate_hall(values: dict[str, Any], v: Validator) -> None:
    if "name" in values:
        name = values["name"]
        ok = name is not None and 0 < len(name.strip()) <= 100
        v.check(ok, "name", "The hall name is required (at most 100 characters).")
        if ok:
            values["name"] = name.strip()
    if "screen_type" in values:
        v.check(
            values["screen_type"] in SCREEN_TYPES,
            "screenType",
            f"The screen type is one of {', '.join(SCREEN_TYPES)}.",
        )
    if values.get("sound_system") is not None:
        v.check(len(values["sound_system"]) <= 64, "soundSystem", "At most 64 characters.")
    if "cleaning_minutes" in values:
        minutes = values["cleaning_minutes"]
        ok = minutes is not None and 0 <= minutes <= 240
        v.check(ok, "cleaningMinutes", "Cleaning time is 0 to 240 minutes.")


def _layout_errors(v: Validator) -> bool:
    """Whether the layout itself was already found wrong (so 'no seats' says nothing new)."""
    return any((d.field or "").startswith(("rows", "seats")) for d in v.details)


async def _name_taken(session: AsyncSession, cinema_id: int, name: str, hall_id: int = 0) -> bool:
    return bool(
        await session.scalar(
            select(
                exists().where(Hall.cinema_id == cinema_id, Hall.name == name, Hall.id != hall_id)
            )
        )
    )


async def create_hall(
    session: AsyncSession,
    *,
    cinema_id: int,
    name: str,
    screen_type: str,
    sound_system: str | None,
    cleaning_minutes: int,
    seats: Sequence[SeatSpec],
    validator: Validator | None = None,
) -> int:
    """A hall and its seats. `validator` may carry layout errors found while parsing."""
    v = validator or Validator()
    values: dict[str, Any] = {
        "name": name,
        "screen_type": screen_type,
        "sound_system": sound_system,
        "cleaning_minutes": cleaning_minutes,
    }
    _validate_hall(values, v)
    if not seats and not _layout_errors(v):
        v.add("seats", "A hall needs at least one seat.", C.HALL_WITHOUT_SEATS)
    if await session.scalar(select(Cinema.id).where(Cinema.id == cinema_id)) is None:
        v.add("cinemaId", "No such cinema.", C.NOT_FOUND)
    elif not v.details and await _name_taken(session, cinema_id, values["name"]):
        v.add("name", "This cinema already has a hall with this name.", C.ALREADY_EXISTS)
    v.raise_if_any()
    result = await session.execute(
        insert(Hall).values(cinema_id=cinema_id, **values).returning(Hall.id)
    )
    hall_id = int(result.scalar_one())
    await session.execute(insert(Seat), [_seat_values(hall_id, s) for s in seats])
    return hall_id


def _seat_values(hall_id: int, s: SeatSpec) -> dict[str, Any]:
    return {
        "hall_id": hall_id,
        "row_label": s.row_label,
        "number": s.number,
        "seat_type": s.seat_type,
        "x": s.x,
        "y": s.y,
        "is_blocked": s.is_blocked,
    }


async def update_hall(session: AsyncSession, hall_id: int, **fields: Any) -> int:
    """Hall attributes (name, screen_type, sound_system, cleaning_minutes, is_active)."""
    values = {k: v for k, v in fields.items() if v is not UNSET}
    v = Validator()
    _validate_hall(values, v)
    if "is_active" in values and values["is_active"] is None:
        v.add("isActive", "isActive cannot be null.")
    cinema_id = await session.scalar(select(Hall.cinema_id).where(Hall.id == hall_id))
    if cinema_id is None:
        raise DomainError(C.NOT_FOUND, "No such hall.", "id")
    if (
        "name" in values
        and not v.details
        and await _name_taken(session, cinema_id, values["name"], hall_id)
    ):
        v.add("name", "This cinema already has a hall with this name.", C.ALREADY_EXISTS)
    v.raise_if_any()
    if values:
        await session.execute(update(Hall).where(Hall.id == hall_id).values(**values))
    return hall_id


async def update_hall_layout(
    session: AsyncSession,
    hall_id: int,
    seats: Sequence[SeatSpec],
    validator: Validator | None = None,
) -> int:
    """Replace a hall's seats. Seats are matched by (row, number): kept seats keep their id
    (and their tickets), missing seats are removed, new ones added. A seat with a ticket
    (SOLD) can't be removed; a seat with a ticket for a showtime that has not ended can't
    change type. Live holds on removed seats are released."""
    v = validator or Validator()
    if not seats and not _layout_errors(v):
        v.add("seats", "A hall needs at least one seat.", C.HALL_WITHOUT_SEATS)
    v.raise_if_any()
    # Lock the hall so concurrent layout edits serialize.
    found = await session.scalar(select(Hall.id).where(Hall.id == hall_id).with_for_update())
    if found is None:
        raise DomainError(C.NOT_FOUND, "No such hall.", "hallId")
    rows = (
        await session.execute(
            select(Seat.id, Seat.row_label, Seat.number, Seat.seat_type).where(
                Seat.hall_id == hall_id
            )
        )
    ).all()
    existing = {(r.row_label, r.number): r for r in rows}
    wanted = {(s.row_label, s.number): s for s in seats}
    removed = [r.id for key, r in existing.items() if key not in wanted]
    retyped = [
        r.id
        for key, r in existing.items()
        if key in wanted and wanted[key].seat_type != r.seat_type
    ]
    conflicts: set[int] = set()
    if removed:
        conflicts |= set(
            (
                await session.scalars(
                    select(SeatOccupancy.seat_id).where(
                        SeatOccupancy.seat_id.in_(removed), SeatOccupancy.status == "SOLD"
                    )
                )
            ).all()
        )
    if retyped:
        conflicts |= set(
            (
                await session.scalars(
                    select(SeatOccupancy.seat_id)
                    .join(Showtime, Showtime.id == SeatOccupancy.showtime_id)
                    .where(
                        SeatOccupancy.seat_id.in_(retyped),
                        SeatOccupancy.status == "SOLD",
                        Showtime.ends_at > func.now(),
                    )
                )
            ).all()
        )
    if conflicts:
        raise DomainError(
            C.SEAT_HAS_TICKETS,
            "Seats with tickets can't be removed, nor retyped before their showtime ends.",
            "seats",
            seat_ids=sorted(conflicts),
        )
    if removed:
        released = (
            await session.execute(
                delete(SeatOccupancy)
                .where(SeatOccupancy.seat_id.in_(removed))
                .returning(SeatOccupancy.showtime_id)
            )
        ).scalars()
        await bump_sequences(session, set(released))
        await session.execute(delete(Seat).where(Seat.id.in_(removed)))
    kept = [
        {
            "id": existing[key].id,
            "seat_type": s.seat_type,
            "x": s.x,
            "y": s.y,
            "is_blocked": s.is_blocked,
        }
        for key, s in wanted.items()
        if key in existing
    ]
    if kept:
        # ORM bulk UPDATE by primary key: one executemany, not one statement per seat.
        await session.execute(update(Seat), kept)
    new = [_seat_values(hall_id, s) for key, s in wanted.items() if key not in existing]
    if new:
        await session.execute(insert(Seat), new)
    return hall_id


async def bump_sequences(session: AsyncSession, showtime_ids: set[int]) -> None:
    """Advance the realtime sequence of showtimes whose seats changed and announce it
    (inside this transaction), through the booking domain's single announcer."""
    for showtime_id in sorted(showtime_ids):
        await announce_seat_changes(session, showtime_id, {})
