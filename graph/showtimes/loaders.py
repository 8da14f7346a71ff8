"""Loaders of showtimes: by id, prices, availability, and batched nested pages."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Executable, any_, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY

from db.cinemas.codes import SeatType
from db.cinemas.models import Cinema as CinemaRow
from db.cinemas.models import Hall as HallRow
from db.cinemas.models import Showtime as ShowtimeRow
from db.cinemas.models import ShowtimePrice as PriceRow
from db.cinemas.queries import (
    available_counts_query,
    cinema_today,
    local_midnight,
    seat_states_query,
)
from graph.errors import bad_input
from graph.loaders import ContextLoader
from graph.pagination import DEFAULT_PAGE, Connection, PageArgs, build_connection, decode_cursor
from graph.relay import query_id
from graph.scalars import Money
from graph.showtimes.types import Showtime, ShowtimePrice

if TYPE_CHECKING:
    from graph.context import Info
    from graph.showtimes.inputs import ShowtimeFilter

SHOWTIME_COLUMNS = (
    ShowtimeRow.id,
    ShowtimeRow.movie_id,
    ShowtimeRow.hall_id,
    HallRow.cinema_id,
    ShowtimeRow.starts_at,
    ShowtimeRow.ends_at,
    ShowtimeRow.format,
    ShowtimeRow.language,
    ShowtimeRow.subtitles,
    ShowtimeRow.status,
)
SHOWTIME_ORDER = (ShowtimeRow.starts_at, ShowtimeRow.id)
MAX_LOCAL_DAYS = 31


def showtime_select(*columns: Any) -> Any:
    """Showtimes joined to their hall and cinema (for the cinema id, city and time zone)."""
    return (
        select(*(columns or SHOWTIME_COLUMNS))
        .select_from(ShowtimeRow)
        .join(HallRow, HallRow.id == ShowtimeRow.hall_id)
        .join(CinemaRow, CinemaRow.id == HallRow.cinema_id)
    )


@dataclass(frozen=True, slots=True)
class ShowtimeSpec:
    """A validated, hashable showtime filter (a loader key part)."""

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

    def conditions(self) -> list[ColumnElement[bool]]:
        c: list[ColumnElement[bool]] = []
        if self.movie_pk is not None:
            c.append(ShowtimeRow.movie_id == self.movie_pk)
        if self.cinema_pk is not None:
            c.append(HallRow.cinema_id == self.cinema_pk)
        if self.city is not None:
            c.append(func.lower(CinemaRow.city) == self.city.lower())
        if self.starts_after is not None:
            c.append(ShowtimeRow.starts_at >= self.starts_after)
        if self.starts_before is not None:
            c.append(ShowtimeRow.starts_at < self.starts_before)
        if self.upcoming_only:
            c.append(ShowtimeRow.starts_at >= func.now())
        if self.format is not None:
            c.append(ShowtimeRow.format == self.format)
        if self.language is not None:
            c.append(func.lower(ShowtimeRow.language) == self.language.lower())
        if self.status is not None:
            c.append(ShowtimeRow.status == self.status)
        if self.local_days:
            first: ColumnElement[date] = (
                literal(self.local_from) if self.local_from else cinema_today()
            )
            end: ColumnElement[date]
            if self.local_to is not None:
                end = literal(self.local_to + timedelta(days=1))
            elif self.local_from is not None:
                end = literal(self.local_from + timedelta(days=7))
            else:
                end = cinema_today() + 7
            c.append(ShowtimeRow.starts_at >= local_midnight(first))
            c.append(ShowtimeRow.starts_at < local_midnight(end))
        return c


def spec_from_filter(f: ShowtimeFilter | None) -> ShowtimeSpec:
    """Validate a ShowtimeFilter (bad IDs are BAD_USER_INPUT errors)."""
    if f is None:
        return ShowtimeSpec(upcoming_only=True)
    for name in ("starts_after", "starts_before"):
        value = getattr(f, name)
        if value is not None and value.tzinfo is None:
            raise bad_input("Times need a UTC offset.", name)
    return ShowtimeSpec(
        movie_pk=query_id(f.movie_id, "Movie", "movieId") if f.movie_id else None,
        cinema_pk=query_id(f.cinema_id, "Cinema", "cinemaId") if f.cinema_id else None,
        city=f.city.strip() if f.city else None,
        starts_after=f.starts_after,
        starts_before=f.starts_before,
        format=f.format or None,
        language=f.language or None,
        status=f.status.value if f.status is not None else None,
        upcoming_only=f.starts_after is None and f.starts_before is None,
    )


def _ids_param(column: Any) -> Any:
    return any_(bindparam("ids", type_=ARRAY(column.type)))


# Statements built once and run straight on the driver (Database.fetch_static): the seat
# map runs them on every request.
@cache
def _showtimes_by_ids() -> Executable:
    return showtime_select().where(ShowtimeRow.id == _ids_param(ShowtimeRow.id))  # type: ignore[no-any-return]


@cache
def _prices_by_showtime_ids() -> Executable:
    return select(
        PriceRow.showtime_id, PriceRow.seat_type, PriceRow.amount, PriceRow.currency
    ).where(PriceRow.showtime_id == _ids_param(PriceRow.showtime_id))


class ShowtimeByIdLoader(ContextLoader[int, Showtime | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[Showtime | None]:
        rows = await self.context.db.fetch_static(_showtimes_by_ids(), {"ids": keys})
        found = {row.id: Showtime.from_row(row) for row in rows}
        return [found.get(k) for k in keys]


class PricesByShowtimeLoader(ContextLoader[int, list[ShowtimePrice]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[ShowtimePrice]]:
        order = {t: i for i, t in enumerate(SeatType)}
        rows = await self.context.db.fetch_static(_prices_by_showtime_ids(), {"ids": keys})
        found: dict[int, list[ShowtimePrice]] = defaultdict(list)
        for row in sorted(rows, key=lambda r: order.get(SeatType(r.seat_type), 99)):
            found[row.showtime_id].append(
                ShowtimePrice(
                    seat_type=SeatType(row.seat_type),
                    price=Money(amount=row.amount, currency=row.currency),
                )
            )
        return [found.get(k, []) for k in keys]


class SeatStatesByShowtimeLoader(ContextLoader[int, list[Any]]):
    """Every seat of each showtime with its status for this request's viewer, in drawing
    order, plus the showtime's sequence: one statement for any number of seat maps."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[Any]]:
        viewer = await self.context.viewer()
        stmt, params = seat_states_query(keys, viewer.id if viewer else None)
        found: dict[int, list[Any]] = defaultdict(list)
        for row in await self.context.db.fetch_static(stmt, params):
            found[row.showtime_id].append(row)
        return [found.get(k, []) for k in keys]


class AvailableSeatCountByShowtimeLoader(ContextLoader[int, int]):
    async def batch_load_fn(self, keys: list[int]) -> list[int]:
        rows = await self.context.db.fetch_static(*available_counts_query(keys))
        found = {row.id: int(row.available) for row in rows}
        return [found.get(k, 0) for k in keys]


# --- nested pages (Cinema.showtimes, Movie.showtimes) ---------------------------------------


@dataclass(frozen=True, slots=True)
class PageKey:
    """One parent's page: the parent ('cinema' or 'movie') and its pk, the filter, the window."""

    parent: str
    parent_pk: int
    spec: ShowtimeSpec
    offset: int
    limit: int


_PARENT_COLUMN = {"cinema": HallRow.cinema_id, "movie": ShowtimeRow.movie_id}


def page_statement(
    parent: str, pks: list[int], spec: ShowtimeSpec, offset: int, limit: int
) -> Executable:
    """A page of showtimes for many parents in one statement: row_number() and count(*)
    over a partition per parent."""
    col = _PARENT_COLUMN[parent]
    inner = (
        showtime_select(
            *SHOWTIME_COLUMNS,
            col.label("parent_pk"),
            func.row_number().over(partition_by=col, order_by=SHOWTIME_ORDER).label("rn"),
            func.count().over(partition_by=col).label("total"),
        )
        .where(col.in_(pks), *spec.conditions())
        .subquery()
    )
    return (
        select(inner)
        .where(inner.c.rn > offset, inner.c.rn <= offset + limit)
        .order_by(inner.c.parent_pk, inner.c.rn)
    )


def total_statement(parent: str, pks: list[int], spec: ShowtimeSpec) -> Executable:
    col = _PARENT_COLUMN[parent]
    stmt: Executable = (
        showtime_select(col.label("parent_pk"), func.count().label("total"))
        .where(col.in_(pks), *spec.conditions())
        .group_by(col)
    )
    return stmt


class ShowtimePageLoader(ContextLoader[PageKey, Connection[Showtime]]):
    """Pages of nested showtime connections, one statement per distinct (filter, window)."""

    async def batch_load_fn(self, keys: list[PageKey]) -> list[Connection[Showtime]]:
        groups: dict[tuple[str, ShowtimeSpec, int, int], list[int]] = defaultdict(list)
        for k in keys:
            groups[(k.parent, k.spec, k.offset, k.limit)].append(k.parent_pk)
        results: dict[tuple[str, ShowtimeSpec, int, int], dict[int, Connection[Showtime]]] = {}
        for group, pks in groups.items():
            parent, spec, offset, limit = group
            if limit > 0:
                rows = await self.context.db.fetch(page_statement(parent, pks, spec, offset, limit))
                totals = {}
            else:
                rows = []
                totals = {
                    r.parent_pk: int(r.total)
                    for r in await self.context.db.fetch(total_statement(parent, pks, spec))
                }
            items: dict[int, list[Showtime]] = defaultdict(list)
            for row in rows:
                items[row.parent_pk].append(Showtime.from_row(row))
                totals[row.parent_pk] = int(row.total)
            results[group] = {
                pk: build_connection(items.get(pk, []), offset, totals.get(pk, 0)) for pk in pks
            }
        return [results[(k.parent, k.spec, k.offset, k.limit)][k.parent_pk] for k in keys]


def _window(first: int | None, after: str | None) -> tuple[int, int]:
    PageArgs(first=first, after=after)  # validates
    offset = decode_cursor(after, "after") + 1 if after is not None else 0
    return offset, DEFAULT_PAGE if first is None else first


async def nested_page(
    info: Info,
    parent: str,
    parent_pk: int,
    spec: ShowtimeSpec,
    first: int | None,
    after: str | None,
) -> Connection[Showtime]:
    offset, limit = _window(first, after)
    key = PageKey(parent, parent_pk, spec, offset, limit)
    return await info.context.loader(ShowtimePageLoader).load(key)


async def cinema_showtimes(
    info: Info,
    cinema_pk: int,
    from_: date | None,
    to: date | None,
    movie_id: str | None,
    first: int | None,
    after: str | None,
) -> Connection[Showtime]:
    if from_ is not None and to is not None:
        if to < from_:
            raise bad_input("`to` is before `from`.", "to")
        if (to - from_).days >= MAX_LOCAL_DAYS:
            raise bad_input(f"At most {MAX_LOCAL_DAYS} days at a time.", "to")
    if from_ is None and to is not None:
        raise bad_input("Give `from` together with `to`.", "from")
    spec = ShowtimeSpec(
        movie_pk=query_id(movie_id, "Movie", "movieId") if movie_id else None,
        local_from=from_,
        local_to=to,
        local_days=True,
    )
    return await nested_page(info, "cinema", cinema_pk, spec, first, after)


async def movie_showtimes(
    info: Info,
    movie_pk: int,
    filter: ShowtimeFilter | None,
    first: int | None,
    after: str | None,
) -> Connection[Showtime]:
    """For `Movie.showtimes(filter)` (the catalog's Movie type delegates here)."""
    spec = replace(spec_from_filter(filter), movie_pk=None)
    return await nested_page(info, "movie", movie_pk, spec, first, after)
