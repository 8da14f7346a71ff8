"""Staff actions on cinemas, halls and their seat layouts: plain async functions on a
session that raise `DomainError` with `CinemaErrorCode`s. Showtimes: db/showtimes/actions.py."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    String,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from db.booking.actions import announce_seat_changes
from db.booking.models import SeatOccupancy
from db.cinemas.codes import SCREEN_TYPES, CinemaErrorCode
from db.cinemas.layout import SeatSpec
from db.cinemas.models import Cinema, Hall, Seat
from db.errors import DomainError, Validator
from db.showtimes.models import Showtime

C = CinemaErrorCode
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
UNSET: Any = object()


@dataclass(slots=True)
class CinemaFields:
    """Fields of a cinema; UNSET leaves a field unchanged on update."""

    name: Any = UNSET
    address: Any = UNSET
    city: Any = UNSET
    phone: Any = UNSET
    email: Any = UNSET
    latitude: Any = UNSET
    longitude: Any = UNSET
    time_zone: Any = UNSET
    opens_at: Any = UNSET
    closes_at: Any = UNSET
    description: Any = UNSET
    is_active: Any = UNSET

    def given(self) -> dict[str, Any]:
        return {
            k: getattr(self, k) for k in self.__dataclass_fields__ if getattr(self, k) is not UNSET
        }


async def time_zone_exists(session: AsyncSession, name: str) -> bool:
    """PostgreSQL's own list decides: it is what `AT TIME ZONE` reads local dates with."""
    found = await session.scalar(
        select(exists().where(func.pg_timezone_names().table_valued("name").c.name == name))
    )
    return bool(found)


async def _validate_cinema(session: AsyncSession, values: dict[str, Any], v: Validator) -> None:
    for key, label, limit in (
        ("name", "name", 200),
        ("address", "address", 300),
        ("city", "city", 100),
    ):
        if key in values:
            text_value = values[key]
            ok = text_value is not None and 0 < len(text_value.strip()) <= limit
            v.check(ok, key, f"The {label} is required (at most {limit} characters).")
            if ok:
                values[key] = text_value.strip()
    if "latitude" in values:
        lat = values["latitude"]
        v.check(
            lat is not None and -90 <= lat <= 90,
            "latitude",
            "Latitude is between -90 and 90.",
            C.INVALID_COORDINATES,
        )
    if "longitude" in values:
        lon = values["longitude"]
        v.check(
            lon is not None and -180 <= lon <= 180,
            "longitude",
            "Longitude is between -180 and 180.",
            C.INVALID_COORDINATES,
        )
    if values.get("email"):
        v.check(bool(EMAIL_RE.match(values["email"])), "email", "Not an e-mail address.")
    if values.get("phone") is not None:
        v.check(len(values["phone"]) <= 40, "phone", "At most 40 characters.")
    if "time_zone" in values:
        tz = values["time_zone"]
        ok = bool(tz) and len(tz) <= 64 and await time_zone_exists(session, tz)
        v.check(ok, "timeZone", f"'{tz}' is not an IANA time zone.", C.INVALID_TIME_ZONE)
    for key in ("opens_at", "closes_at"):
        value = values.get(key)
        if value is not None and not isinstance(value, time):
            v.add(key, "Not a time of day.")


async def create_cinema(session: AsyncSession, fields: CinemaFields) -> int:
    values = fields.given()
    for required in ("name", "address", "city", "latitude", "longitude", "time_zone"):
        values.setdefault(required, None)
    v = Validator()
    await _validate_cinema(session, values, v)
    v.raise_if_any()
    result = await session.execute(insert(Cinema).values(**values).returning(Cinema.id))
    return int(result.scalar_one())


async def update_cinema(session: AsyncSession, cinema_id: int, fields: CinemaFields) -> int:
    values = fields.given()
    v = Validator()
    await _validate_cinema(session, values, v)
    if "is_active" in values and values["is_active"] is None:
        v.add("isActive", "isActive cannot be null.")
    v.raise_if_any()
    result = await session.execute(
        update(Cinema).where(Cinema.id == cinema_id).values(**values).returning(Cinema.id)
        if values
        else select(Cinema.id).where(Cinema.id == cinema_id)
    )
    if result.first() is None:
        raise DomainError(C.NOT_FOUND, "No such cinema.", "id")
    return cinema_id


# --- halls and seat layouts ---------------------------------------------------------------


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


# The kept seats' new values as parallel arrays, joined to `seats` by id in one UPDATE.
_UPDATED_COLUMNS = ("id", "seat_type", "x", "y", "is_blocked")
_UPDATED = (
    func.unnest(
        bindparam("kept_id", type_=ARRAY(BigInteger)),
        bindparam("kept_seat_type", type_=ARRAY(String)),
        bindparam("kept_x", type_=ARRAY(Integer)),
        bindparam("kept_y", type_=ARRAY(Integer)),
        bindparam("kept_is_blocked", type_=ARRAY(Boolean)),
    )
    .table_valued(*_UPDATED_COLUMNS)
    .render_derived("kept")
)
_UPDATE_SEATS = (
    update(Seat)
    .where(Seat.id == _UPDATED.c.id)
    .values(
        seat_type=_UPDATED.c.seat_type,
        x=_UPDATED.c.x,
        y=_UPDATED.c.y,
        is_blocked=_UPDATED.c.is_blocked,
    )
)


def _columns(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    """The rows' values as one array per name, as `_UPDATE_SEATS`'s parameters."""
    return {f"kept_{name}": [row[name] for row in rows] for name in names}


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
    released: set[int] = set()
    if removed:
        released = set(
            (
                await session.execute(
                    delete(SeatOccupancy)
                    .where(SeatOccupancy.seat_id.in_(removed))
                    .returning(SeatOccupancy.showtime_id)
                )
            ).scalars()
        )
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
        # One UPDATE ... FROM unnest(arrays) for all kept seats: one statement, so the
        # statement-level triggers that keep `halls.layout_version` (migration
        # 0023_layout_versions) run once, not once per seat as an executemany made them
        # (a 300-seat layout change took 250-360 ms that way, 30-40 ms now).
        await session.execute(_UPDATE_SEATS, _columns(kept, _UPDATED_COLUMNS))
    new = [_seat_values(hall_id, s) for key, s in wanted.items() if key not in existing]
    if new:
        await session.execute(insert(Seat), new)
    # Last, so the announced available count is the new layout's.
    await bump_sequences(session, released)
    return hall_id


async def bump_sequences(session: AsyncSession, showtime_ids: set[int]) -> None:
    """Advance the realtime sequence of showtimes whose seats changed and announce it
    (inside this transaction), through the booking domain's single announcer."""
    for showtime_id in sorted(showtime_ids):
        await announce_seat_changes(session, showtime_id, {})
