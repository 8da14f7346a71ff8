"""Reads of the cinemas domain: cinemas (by city, words, distance), halls, seats, and the
cinema-local time helpers the showtime filters use. Each function runs its statements
through the `Database` it is given and returns its rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, DateTime, Row, cast, func, literal, or_, select

from db.cinemas.models import Cinema, Hall, Seat
from db.search import contains_pattern
from db.session import Database

EARTH_RADIUS_KM = 6371.0088

CINEMA_COLUMNS = (
    Cinema.id,
    Cinema.name,
    Cinema.address,
    Cinema.city,
    Cinema.phone,
    Cinema.email,
    Cinema.latitude,
    Cinema.longitude,
    Cinema.time_zone,
    Cinema.opens_at,
    Cinema.closes_at,
    Cinema.description,
    Cinema.is_active,
)
HALL_COLUMNS = (
    Hall.id,
    Hall.cinema_id,
    Hall.name,
    Hall.screen_type,
    Hall.sound_system,
    Hall.cleaning_minutes,
    Hall.is_active,
)
SEAT_COLUMNS = (
    Seat.id,
    Seat.hall_id,
    Seat.row_label,
    Seat.number,
    Seat.seat_type,
    Seat.x,
    Seat.y,
    Seat.is_blocked,
)
# Drawing order: the order of a hall's layout and of packed seat statuses.
SEAT_ORDER = (Seat.y, Seat.x, Seat.id)


def distance_km(latitude: float, longitude: float) -> ColumnElement[float]:
    """Great-circle (haversine) distance from a point to each cinema, in kilometres."""
    dlat = func.radians(Cinema.latitude - latitude)
    dlon = func.radians(Cinema.longitude - longitude)
    a = func.power(func.sin(dlat / 2), 2) + func.cos(func.radians(literal(latitude))) * func.cos(
        func.radians(Cinema.latitude)
    ) * func.power(func.sin(dlon / 2), 2)
    # least() guards asin against rounding just above 1 for antipodal points.
    return 2 * EARTH_RADIUS_KM * func.asin(func.sqrt(func.least(a, 1.0)))


# --- the cinema list ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Near:
    """A point and a radius in km (validated by the caller)."""

    latitude: float
    longitude: float
    radius_km: float


@dataclass(frozen=True, slots=True)
class CinemaSearch:
    """Which active cinemas to list: in a city (case-insensitive), whose name, address or
    city contains every word, within a radius of a point (then nearest first)."""

    city: str | None = None
    words: tuple[str, ...] = ()
    near: Near | None = None


def _distance(search: CinemaSearch) -> ColumnElement[float] | None:
    near = search.near
    return None if near is None else distance_km(near.latitude, near.longitude)


def _conditions(
    search: CinemaSearch, distance: ColumnElement[float] | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Cinema.is_active.is_(True)]
    if search.city:
        conditions.append(func.lower(Cinema.city) == search.city.strip().lower())
    for word in search.words:
        pattern = contains_pattern(word)
        conditions.append(
            or_(
                Cinema.name.ilike(pattern),
                Cinema.address.ilike(pattern),
                Cinema.city.ilike(pattern),
            )
        )
    if distance is not None and search.near is not None:
        conditions.append(distance <= search.near.radius_km)
    return conditions


async def count_cinemas(db: Database, search: CinemaSearch) -> int:
    conditions = _conditions(search, _distance(search))
    return int(await db.scalar(select(func.count()).select_from(Cinema).where(*conditions)))


async def list_cinemas(
    db: Database, search: CinemaSearch, offset: int, limit: int
) -> Sequence[Row[Any]]:
    """A page of cinema rows by name, or nearest first with a `distance_km` column when
    the search has a point."""
    distance = _distance(search)
    if distance is None:
        stmt = select(*CINEMA_COLUMNS).order_by(Cinema.name, Cinema.id)
    else:
        stmt = select(*CINEMA_COLUMNS, distance.label("distance_km")).order_by(distance, Cinema.id)
    return await db.fetch(stmt.where(*_conditions(search, distance)).offset(offset).limit(limit))


# --- by key (the loaders) -----------------------------------------------------------------


async def cinemas_by_ids(db: Database, ids: list[int]) -> Sequence[Row[Any]]:
    return await db.fetch(select(*CINEMA_COLUMNS).where(Cinema.id.in_(ids)))


async def halls_by_ids(db: Database, ids: list[int]) -> Sequence[Row[Any]]:
    return await db.fetch(select(*HALL_COLUMNS).where(Hall.id.in_(ids)))


async def halls_by_cinema_ids(db: Database, cinema_ids: list[int]) -> Sequence[Row[Any]]:
    """The halls of many cinemas, by name."""
    return await db.fetch(
        select(*HALL_COLUMNS).where(Hall.cinema_id.in_(cinema_ids)).order_by(Hall.name, Hall.id)
    )


async def seats_by_ids(db: Database, ids: list[int]) -> Sequence[Row[Any]]:
    return await db.fetch(select(*SEAT_COLUMNS).where(Seat.id.in_(ids)))


async def seats_by_hall_ids(db: Database, hall_ids: list[int]) -> Sequence[Row[Any]]:
    """The seats of many halls, in drawing order."""
    return await db.fetch(
        select(*SEAT_COLUMNS).where(Seat.hall_id.in_(hall_ids)).order_by(*SEAT_ORDER)
    )


# --- local time of a cinema (for showtime filters) ----------------------------------------


def local_midnight(day: ColumnElement[date]) -> ColumnElement[datetime]:
    """Midnight at the start of a date in the cinema's own time zone, as a timestamptz
    (`timestamp AT TIME ZONE zone`, so daylight-saving days are 23 or 25 hours long)."""
    return func.timezone(Cinema.time_zone, cast(day, DateTime()))


def cinema_today() -> ColumnElement[date]:
    """Today's date in the cinema's own time zone."""
    return cast(func.timezone(Cinema.time_zone, func.now()), Date())
