"""Read-side SQL of the cinemas domain: distance, seat states, availability, now showing.

Statements only (no execution): the API layer runs them through `Database.fetch`.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Select,
    SQLColumnExpression,
    and_,
    any_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from db.booking.models import SeatHold, SeatOccupancy
from db.cinemas.models import Cinema, Seat, Showtime

EARTH_RADIUS_KM = 6371.0088


def distance_km(latitude: float, longitude: float) -> ColumnElement[float]:
    """Great-circle (haversine) distance from a point to each cinema, in kilometres."""
    dlat = func.radians(Cinema.latitude - latitude)
    dlon = func.radians(Cinema.longitude - longitude)
    a = func.power(func.sin(dlat / 2), 2) + func.cos(func.radians(literal(latitude))) * func.cos(
        func.radians(Cinema.latitude)
    ) * func.power(func.sin(dlon / 2), 2)
    # least() guards asin against rounding just above 1 for antipodal points.
    return 2 * EARTH_RADIUS_KM * func.asin(func.sqrt(func.least(a, 1.0)))


def live_hold() -> ColumnElement[bool]:
    """An occupancy that is a HELD seat whose hold has not expired (swept or not)."""
    return and_(SeatOccupancy.status == "HELD", SeatOccupancy.expires_at > func.now())


def seat_status() -> ColumnElement[str]:
    """SOLD, HELD (live holds only), BLOCKED or AVAILABLE, for seats outer-joined to their
    occupancy. An expired hold reads as AVAILABLE even before the sweeper deletes it."""
    return case(
        (SeatOccupancy.status == "SOLD", "SOLD"),
        (live_hold(), "HELD"),
        (Seat.is_blocked, "BLOCKED"),
        else_="AVAILABLE",
    )


def seat_states_query(
    showtime_ids: list[int], viewer_id: int | None
) -> tuple[Select[*tuple[Any, ...]], dict[str, Any]]:
    """Every seat of each showtime's hall with its status (for the viewer, if any) and the
    showtime's realtime sequence, one consistent snapshot per showtime; rows carry
    `showtime_id` and come grouped by showtime, each in drawing order. A statement built
    once and its parameters (`Database.fetch_static`)."""
    params: dict[str, Any] = {"ids": list(showtime_ids)}
    if viewer_id is None:
        return _seat_states(False), params
    return _seat_states(True), {**params, "viewer_id": viewer_id}


@cache
def _seat_states(with_viewer: bool) -> Select[*tuple[Any, ...]]:
    held_by_me: ColumnElement[bool]
    if not with_viewer:
        held_by_me = false()
    else:
        held_by_me = and_(
            live_hold(),
            exists().where(
                SeatHold.id == SeatOccupancy.hold_id,
                SeatHold.user_id == bindparam("viewer_id", type_=SeatHold.user_id.type),
            ),
        )
    return (
        select(
            Seat.id,
            Seat.row_label,
            Seat.number,
            Seat.seat_type,
            Seat.x,
            Seat.y,
            Seat.is_blocked,
            seat_status().label("status"),
            func.coalesce(held_by_me, false()).label("held_by_me"),
            Showtime.seat_sequence,
            Showtime.id.label("showtime_id"),
        )
        .select_from(Showtime)
        .join(Seat, Seat.hall_id == Showtime.hall_id)
        .outerjoin(
            SeatOccupancy,
            and_(SeatOccupancy.showtime_id == Showtime.id, SeatOccupancy.seat_id == Seat.id),
        )
        .where(Showtime.id == any_(bindparam("ids", type_=ARRAY(Showtime.id.type))))
        .order_by(Showtime.id, Seat.y, Seat.x, Seat.id)
    )


def available_counts_query(
    showtime_ids: list[int],
) -> tuple[Select[*tuple[Any, ...]], dict[str, Any]]:
    """(showtime id, available seats) for many showtimes in one statement, built once, and
    its parameters."""
    return _available_counts(), {"ids": list(showtime_ids)}


@cache
def _available_counts() -> Select[*tuple[Any, ...]]:
    taken = and_(
        SeatOccupancy.id.is_not(None),
        (SeatOccupancy.status == "SOLD") | live_hold(),
    )
    return (
        select(
            Showtime.id,
            func.count(Seat.id)
            .filter(~Seat.is_blocked & ~func.coalesce(taken, false()))
            .label("available"),
        )
        .select_from(Showtime)
        .join(Seat, Seat.hall_id == Showtime.hall_id)
        .outerjoin(
            SeatOccupancy,
            and_(SeatOccupancy.showtime_id == Showtime.id, SeatOccupancy.seat_id == Seat.id),
        )
        .where(Showtime.id == any_(bindparam("ids", type_=ARRAY(Showtime.id.type))))
        .group_by(Showtime.id)
    )


# --- "now showing" / "coming soon" for the catalog's movie filter -------------------------

NOW_SHOWING_DAYS = 7


def now_showing(movie_id: SQLColumnExpression[int]) -> ColumnElement[bool]:
    """The movie has a scheduled showtime that has not ended and starts within a week."""
    return exists().where(
        Showtime.movie_id == movie_id,
        Showtime.status == "SCHEDULED",
        Showtime.ends_at > func.now(),
        Showtime.starts_at < func.now() + text(f"interval '{NOW_SHOWING_DAYS} days'"),
    )


def coming_soon(
    movie_id: SQLColumnExpression[int], release_date: SQLColumnExpression[date | None]
) -> ColumnElement[bool]:
    """Not showing yet: released in the future, or scheduled only beyond the coming week."""
    scheduled_later = exists().where(
        Showtime.movie_id == movie_id,
        Showtime.status == "SCHEDULED",
        Showtime.starts_at >= func.now() + text(f"interval '{NOW_SHOWING_DAYS} days'"),
    )
    return and_(
        ~now_showing(movie_id),
        (release_date > func.current_date()) | scheduled_later,
    )


def local_midnight(day: ColumnElement[date]) -> ColumnElement[datetime]:
    """Midnight at the start of a date in the cinema's own time zone, as a timestamptz
    (`timestamp AT TIME ZONE zone`, so daylight-saving days are 23 or 25 hours long)."""
    return func.timezone(Cinema.time_zone, cast(day, DateTime()))


def cinema_today() -> ColumnElement[date]:
    """Today's date in the cinema's own time zone."""
    return cast(func.timezone(Cinema.time_zone, func.now()), Date())
