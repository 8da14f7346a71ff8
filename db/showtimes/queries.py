"""Reads of the showtimes domain: showtimes by id and by filter (also a page per cinema or
movie for many parents at once), prices, seat states and availability, and the catalog's
"now showing" / "coming soon" conditions. Each function runs its statements through the
`Database` it is given and returns its rows.

The seat map reads run on every seat map request: their statements are built once and run
straight on the driver (`Database.fetch_static`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Executable,
    Row,
    Select,
    SQLColumnExpression,
    and_,
    any_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by

from db.booking.models import SeatHold, SeatOccupancy
from db.cinemas.codes import MINE, STATUS_CHARS, SeatStatus
from db.cinemas.models import Cinema, Hall, Seat
from db.cinemas.queries import cinema_today, local_midnight
from db.orders.models import Order
from db.session import Database, Record, any_id
from db.shop.models import PromoCode
from db.showtimes.models import PresaleWave, Showtime, ShowtimePrice

SHOWTIME_COLUMNS = (
    Showtime.id,
    Showtime.movie_id,
    Showtime.hall_id,
    Hall.cinema_id,
    Showtime.starts_at,
    Showtime.ends_at,
    Showtime.format,
    Showtime.language,
    Showtime.subtitles,
    Showtime.status,
    Showtime.sales_open_at,
)
SHOWTIME_ORDER = (Showtime.starts_at, Showtime.id)


def showtime_select(*columns: Any) -> Any:
    """Showtimes joined to their hall and cinema (for the cinema id, city and time zone)."""
    return (
        select(*(columns or SHOWTIME_COLUMNS))
        .select_from(Showtime)
        .join(Hall, Hall.id == Showtime.hall_id)
        .join(Cinema, Cinema.id == Hall.cinema_id)
    )


# --- the showtime filter --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShowtimeSpec:
    """A validated, hashable showtime filter (the API layer builds it from its input and
    uses it as part of a loader key)."""

    movie_pk: int | None = None
    cinema_pk: int | None = None
    city: str | None = None
    starts_after: datetime | None = None
    starts_before: datetime | None = None
    format: str | None = None
    language: str | None = None
    status: str | None = "SCHEDULED"
    upcoming_only: bool = False
    # Local days in the cinema's time zone (Cinema.showtimes); None = the cinema's today.
    local_from: date | None = None
    local_to: date | None = None
    local_days: bool = False


def spec_conditions(spec: ShowtimeSpec) -> list[ColumnElement[bool]]:
    """The WHERE clause of a filter, over `showtime_select()`."""
    c: list[ColumnElement[bool]] = []
    if spec.movie_pk is not None:
        c.append(Showtime.movie_id == spec.movie_pk)
    if spec.cinema_pk is not None:
        c.append(Hall.cinema_id == spec.cinema_pk)
    if spec.city is not None:
        c.append(func.lower(Cinema.city) == spec.city.lower())
    if spec.starts_after is not None:
        c.append(Showtime.starts_at >= spec.starts_after)
    if spec.starts_before is not None:
        c.append(Showtime.starts_at < spec.starts_before)
    if spec.upcoming_only:
        c.append(Showtime.starts_at >= func.now())
    if spec.format is not None:
        c.append(Showtime.format == spec.format)
    if spec.language is not None:
        c.append(func.lower(Showtime.language) == spec.language.lower())
    if spec.status is not None:
        c.append(Showtime.status == spec.status)
    if spec.local_days:
        first: ColumnElement[date] = literal(spec.local_from) if spec.local_from else cinema_today()
        end: ColumnElement[date]
        if spec.local_to is not None:
            end = literal(spec.local_to + timedelta(days=1))
        elif spec.local_from is not None:
            end = literal(spec.local_from + timedelta(days=7))
        else:
            end = cinema_today() + 7
        c.append(Showtime.starts_at >= local_midnight(first))
        c.append(Showtime.starts_at < local_midnight(end))
    return c


async def count_showtimes(db: Database, spec: ShowtimeSpec) -> int:
    stmt = showtime_select(func.count(Showtime.id)).where(*spec_conditions(spec))
    return int(await db.scalar(stmt))


async def list_showtimes(
    db: Database, spec: ShowtimeSpec, offset: int, limit: int
) -> Sequence[Row[Any]]:
    """A page of showtime rows (SHOWTIME_COLUMNS) by start time."""
    return await db.fetch(
        showtime_select()
        .where(*spec_conditions(spec))
        .order_by(*SHOWTIME_ORDER)
        .offset(offset)
        .limit(limit)
    )


# --- a page of showtimes for many parents (Cinema.showtimes, Movie.showtimes) ---------------

Parent = Literal["cinema", "movie"]
_PARENT_COLUMN = {"cinema": Hall.cinema_id, "movie": Showtime.movie_id}


async def showtime_pages(
    db: Database, parent: Parent, pks: list[int], spec: ShowtimeSpec, offset: int, limit: int
) -> Sequence[Row[Any]]:
    """A page of showtimes for many parents in one statement: row_number() and count(*)
    over a partition per parent. Rows are SHOWTIME_COLUMNS plus `parent_pk` and `total`
    (the parent's number of matching showtimes), by parent, then start time."""
    col = _PARENT_COLUMN[parent]
    inner = (
        showtime_select(
            *SHOWTIME_COLUMNS,
            col.label("parent_pk"),
            func.row_number().over(partition_by=col, order_by=SHOWTIME_ORDER).label("rn"),
            func.count().over(partition_by=col).label("total"),
        )
        .where(col.in_(pks), *spec_conditions(spec))
        .subquery()
    )
    return await db.fetch(
        select(inner)
        .where(inner.c.rn > offset, inner.c.rn <= offset + limit)
        .order_by(inner.c.parent_pk, inner.c.rn)
    )


async def showtime_totals(
    db: Database, parent: Parent, pks: list[int], spec: ShowtimeSpec
) -> Sequence[Row[Any]]:
    """(`parent_pk`, `total`) for the parents that have matching showtimes."""
    col = _PARENT_COLUMN[parent]
    return await db.fetch(
        showtime_select(col.label("parent_pk"), func.count().label("total"))
        .where(col.in_(pks), *spec_conditions(spec))
        .group_by(col)
    )


# --- by id, prices (statements built once) --------------------------------------------------


@cache
def _showtimes_by_ids() -> Executable:
    return showtime_select().where(any_id(Showtime.id))  # type: ignore[no-any-return]


@cache
def _prices_by_showtime_ids() -> Executable:
    return select(
        ShowtimePrice.showtime_id,
        ShowtimePrice.seat_type,
        ShowtimePrice.amount,
        ShowtimePrice.currency,
    ).where(any_id(ShowtimePrice.showtime_id))


async def showtimes_by_ids(db: Database, ids: list[int]) -> Sequence[Record]:
    """Showtime rows (SHOWTIME_COLUMNS)."""
    return await db.fetch_static(_showtimes_by_ids(), {"ids": ids})


async def prices_by_showtime_ids(db: Database, ids: list[int]) -> Sequence[Record]:
    """(showtime_id, seat_type, amount, currency) rows, in no particular order."""
    return await db.fetch_static(_prices_by_showtime_ids(), {"ids": ids})


# --- presale waves -------------------------------------------------------------------------


@cache
def _waves_by_showtime_ids() -> Executable:
    return (
        select(
            PresaleWave.id,
            PresaleWave.showtime_id,
            PresaleWave.name,
            PresaleWave.opens_at,
            PresaleWave.audience,
            PresaleWave.min_loyalty_points,
            PresaleWave.promo_code_id,
            PromoCode.code.label("promo_code"),
        )
        .outerjoin(PromoCode, PromoCode.id == PresaleWave.promo_code_id)
        .where(any_id(PresaleWave.showtime_id))
        .order_by(PresaleWave.showtime_id, PresaleWave.opens_at, PresaleWave.id)
    )


@cache
def _active_promo_codes() -> Executable:
    codes = bindparam("codes", type_=ARRAY(PromoCode.code.type))
    return select(func.lower(PromoCode.code).label("code"), PromoCode.id).where(
        func.lower(PromoCode.code) == any_(codes), PromoCode.is_active
    )


async def presale_waves_by_showtime_ids(db: Database, ids: list[int]) -> Sequence[Record]:
    """(id, showtime_id, name, opens_at, audience, min_loyalty_points, promo_code_id,
    promo_code) rows, by showtime, then opening time."""
    return await db.fetch_static(_waves_by_showtime_ids(), {"ids": ids})


async def active_promo_code_ids(db: Database, lower_codes: list[str]) -> Sequence[Record]:
    """(code, id) of the active promo codes among these lower-case codes: who may book in
    a PROMO_CODE presale wave (validity dates do not matter for presale access; the hold
    function `marquee_sales_opening`, migration 0013_presale, applies the same rule)."""
    return await db.fetch_static(_active_promo_codes(), {"codes": lower_codes})


# --- seat states ----------------------------------------------------------------------------


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


def _taken_by_viewer() -> ColumnElement[bool]:
    """The occupancy is the viewer's (`viewer_id`): by the viewer's hold, or by the viewer's
    order awaiting payment."""
    viewer = bindparam("viewer_id", type_=SeatHold.user_id.type)
    return or_(
        exists().where(SeatHold.id == SeatOccupancy.hold_id, SeatHold.user_id == viewer),
        exists().where(Order.id == SeatOccupancy.order_id, Order.user_id == viewer),
    )


@dataclass(frozen=True, slots=True)
class SeatStates:
    """A showtime's seats in `Hall.layout` order (rows in order of first appearance in drawing
    order, seats in drawing order) with their statuses for the viewer: `statuses` has one
    character per seat, `M` held by the viewer, else `STATUS_CHARS` of its status. The
    seats' ids, row labels, numbers and types are there for the typed seat map only (empty
    for the packed one)."""

    showtime_id: int
    seat_sequence: int
    statuses: str
    layout_version: str
    available: int
    seat_ids: Sequence[int] = ()
    row_labels: Sequence[str] = ()
    numbers: Sequence[int] = ()
    seat_types: Sequence[str] = ()


async def seat_states(
    db: Database, showtime_ids: list[int], viewer_id: int | None
) -> list[SeatStates]:
    """Every seat of each showtime's hall with its status for the viewer (if any) and the
    showtime's realtime sequence, from one statement (one consistent snapshot). Showtimes
    whose hall has no seats are left out.

    The hall's seats in layout order come as the seat triggers keep them on `halls`
    (migration 0024_layout_order), with only the showtime's live occupancies, which are laid
    over the hall's base statuses here: PostgreSQL reads the occupied seats, not every seat
    of the hall, and the worker decodes a few arrays instead of a row per seat."""
    rows = await _per_viewer(db, _seat_states, showtime_ids, viewer_id)
    return [s for s in (_states(row, row.showtime_id, seats=True) for row in rows) if s]


async def packed_seat_states(
    db: Database, showtime_ids: list[int], viewer_id: int | None
) -> list[SeatStates]:
    """`seat_states` without the seats' row labels, numbers and types: what the compact seat
    map (`Showtime.seatStatuses`) needs."""
    rows = await _per_viewer(db, _packed_seat_states, showtime_ids, viewer_id)
    return [s for s in (_states(row, row.showtime_id, seats=False) for row in rows) if s]


async def showtimes_with_seat_states(
    db: Database, showtime_ids: list[int], viewer_id: int | None, *, typed: bool
) -> list[tuple[Record, SeatStates | None]]:
    """Showtime rows (SHOWTIME_COLUMNS) each with its seat states (None for a hall without
    seats), from one statement: a `showtime(id:)` that selects a seat map costs one
    statement, not two or three in a row. `typed`: the seats' row labels, numbers and types
    too, and the showtime's prices as arrays on the row (`price_types`, `price_amounts`,
    `price_currencies`; NULL without prices), what the typed seat map needs."""
    statement = _showtimes_with_seat_map if typed else _showtimes_with_packed_seats
    rows = await _per_viewer(db, statement, showtime_ids, viewer_id)
    return [(row, _states(row, row.id, seats=typed)) for row in rows]


def _states(row: Any, showtime_id: int, *, seats: bool) -> SeatStates | None:
    """A row's seat states (the columns of `_layout_columns`, and for `seats` the hall's
    row labels, numbers and types); None for a hall without seats."""
    if not row.layout_seat_ids:
        return None
    statuses = _lay_over(row.layout_seat_ids, row.layout_base, row.taken_ids, row.taken)
    states = SeatStates(
        showtime_id=showtime_id,
        seat_sequence=int(row.seat_sequence),
        statuses=statuses,
        layout_version=row.layout_version,
        available=statuses.count(STATUS_CHARS[SeatStatus.AVAILABLE]),
    )
    if not seats:
        return states
    return replace(
        states,
        seat_ids=row.layout_seat_ids,
        row_labels=row.layout_row_labels,
        numbers=row.layout_numbers,
        seat_types=row.layout_seat_types,
    )


def _lay_over(
    seat_ids: list[int], base: str, taken_ids: list[int] | None, taken: str | None
) -> str:
    """The base statuses with each occupied seat's character in its place. An occupancy of
    a seat that is not in the hall's layout is left out, as the seat-by-seat join does."""
    if not taken_ids or taken is None:
        return base
    chars = list(base)
    position = {pk: i for i, pk in enumerate(seat_ids)}
    for pk, mark in zip(taken_ids, taken, strict=True):
        i = position.get(pk)
        if i is not None:
            chars[i] = mark
    return "".join(chars)


async def _per_viewer(
    db: Database,
    statement: Callable[[bool], Select[*tuple[Any, ...]]],
    showtime_ids: list[int],
    viewer_id: int | None,
) -> Sequence[Record]:
    """Run the anonymous form of a seat-state statement, or the viewer's (`heldByMe`)."""
    params: dict[str, Any] = {"ids": list(showtime_ids)}
    if viewer_id is None:
        return await db.fetch_static(statement(False), params)
    return await db.fetch_static(statement(True), {**params, "viewer_id": viewer_id})


@cache
def _occupied(with_viewer: bool) -> Any:
    """A lateral subquery of a showtime's live occupancies (SOLD, or HELD and not expired):
    their seat ids and their characters (`M` for the viewer's), both in seat order."""
    occupancy = SeatOccupancy
    by_seat = occupancy.seat_id
    held = STATUS_CHARS[SeatStatus.HELD]
    sold = (occupancy.status == "SOLD", STATUS_CHARS[SeatStatus.SOLD])
    mine = ((_taken_by_viewer(), MINE),) if with_viewer else ()
    mark = case(sold, *mine, else_=held)
    return (
        select(
            func.array_agg(aggregate_order_by(occupancy.seat_id, by_seat)).label("taken_ids"),
            func.string_agg(mark, aggregate_order_by(literal_column("''"), by_seat)).label("taken"),
        )
        .where(
            occupancy.showtime_id == Showtime.id,
            or_(occupancy.status == "SOLD", live_hold()),
        )
        .lateral("occupied")
    )


def _layout_columns(with_viewer: bool) -> tuple[Any, ...]:
    """What `_states` reads: the showtime's sequence, the hall's layout as the seat triggers
    keep it, and the live occupancies (join `_occupied(with_viewer)` to have them)."""
    taken = _occupied(with_viewer)
    return (
        Showtime.seat_sequence,
        Hall.layout_version,
        Hall.layout_seat_ids,
        Hall.layout_base,
        taken.c.taken_ids,
        taken.c.taken,
    )


@cache
def _seat_states(with_viewer: bool) -> Select[*tuple[Any, ...]]:
    return _packed_seat_states(with_viewer).add_columns(
        Hall.layout_row_labels, Hall.layout_numbers, Hall.layout_seat_types
    )


@cache
def _packed_seat_states(with_viewer: bool) -> Select[*tuple[Any, ...]]:
    return (
        select(Showtime.id.label("showtime_id"), *_layout_columns(with_viewer))
        .select_from(Showtime)
        .join(Hall, Hall.id == Showtime.hall_id)
        .join(_occupied(with_viewer), true())
        .where(any_id(Showtime.id))
    )


@cache
def _showtimes_with_seat_map(with_viewer: bool) -> Select[*tuple[Any, ...]]:
    price = ShowtimePrice
    # The three arrays in one order (by seat type), so that their elements line up.
    prices = (
        select(
            *(
                func.array_agg(aggregate_order_by(column, price.seat_type)).label(name)
                for column, name in (
                    (price.seat_type, "price_types"),
                    (price.amount, "price_amounts"),
                    (price.currency, "price_currencies"),
                )
            )
        )
        .where(price.showtime_id == Showtime.id)
        .lateral("prices")
    )
    return (
        _showtimes_with_packed_seats(with_viewer)
        .add_columns(
            Hall.layout_row_labels,
            Hall.layout_numbers,
            Hall.layout_seat_types,
            *prices.c,
        )
        .join(prices, true())
    )


@cache
def _showtimes_with_packed_seats(with_viewer: bool) -> Select[*tuple[Any, ...]]:
    return (  # type: ignore[no-any-return]
        showtime_select(*SHOWTIME_COLUMNS, *_layout_columns(with_viewer))
        .join(_occupied(with_viewer), true())
        .where(any_id(Showtime.id))
    )


async def available_seat_counts(db: Database, showtime_ids: list[int]) -> Sequence[Record]:
    """(id, available) for many showtimes in one statement; a showtime whose hall has no
    seats has no row."""
    return await db.fetch_static(_available_counts(), {"ids": list(showtime_ids)})


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
        .where(any_id(Showtime.id))
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
