"""Staff reports: sales per local day, movie, cinema or product, and seat occupancy per
showtime. Each report is ONE statement whatever the number of rows it returns; the totals
come from the same statement (GROUPING SETS), and so does whether the cinema it was
filtered on exists (the report is outer-joined to a one-row relation, so an empty report
still answers that). A sales report reads the days that are rolled up from the rollup
(db/reports/models.py) and the other days from the orders. docs/shop.md ("Reports") says
what every number means."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    Row,
    Select,
    String,
    all_,
    and_,
    any_,
    case,
    cast,
    distinct,
    exists,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    tuple_,
    union_all,
)

from db.booking.models import SeatOccupancy
from db.catalog.models import Movie
from db.cinemas.models import Cinema, Hall, Seat
from db.orders.models import Order, OrderLine
from db.reports.codes import MAX_OCCUPANCY_ROWS, SalesGroupBy
from db.reports.models import SalesDay, SalesProductDay, SalesRollupState, SalesStaleDay
from db.session import Database
from db.shop.models import Product
from db.showtimes.models import Showtime
from db.showtimes.queries import SHOWTIME_COLUMNS, live_hold

MONEY = Numeric(12, 2)
# Time zones are within UTC-12 and UTC+14, so a local day lies inside its UTC day widened
# by a day on each side: that coarse range lets the indexes on paid_at, refunded_at and
# starts_at narrow the scan; the exact test is on the local date.
_ZONE_SLACK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Period:
    """Local days `first`..`last` (both included) in each cinema's own time zone,
    optionally of one cinema."""

    first: date
    last: date
    cinema_pk: int | None = None

    def utc_window(self) -> tuple[ColumnElement[datetime], ColumnElement[datetime]]:
        """The UTC range around the local days, as constants written into the statement."""
        lo = datetime.combine(self.first, time.min, UTC) - _ZONE_SLACK
        hi = datetime.combine(self.last + timedelta(days=1), time.min, UTC) + _ZONE_SLACK
        return _constant(lo), _constant(hi)

    def days(self) -> tuple[ColumnElement[date], ColumnElement[date]]:
        return _constant(self.first), _constant(self.last)


def _constant(value: date) -> Any:
    """A date or UTC time written into the SQL text, not bound. With bound parameters,
    PostgreSQL switches a prepared statement to a generic plan after five runs, and
    without the period's values that plan expects a sliver of the orders and looks their
    lines up one by one (5 times slower in the bench). Only `date`/`datetime` values from
    validated input get here; their ISO form has no quote to escape."""
    if isinstance(value, datetime):
        return literal_column(f"TIMESTAMPTZ '{value.isoformat()}'", DateTime(timezone=True))
    return literal_column(f"DATE '{value.isoformat()}'", Date)


def local_day(at: Any) -> ColumnElement[date]:
    """The date of a timestamptz in the cinema's time zone (Cinema must be joined)."""
    return cast(func.timezone(Cinema.time_zone, at), Date)


def _coarse(at: Any, period: Period) -> list[ColumnElement[bool]]:
    """The UTC range around the period (and the cinema): what an index can use. The exact
    test is on the local day, computed once per row by the caller."""
    lo, hi = period.utc_window()
    c: list[ColumnElement[bool]] = [at >= lo, at < hi]
    if period.cinema_pk is not None:
        c.append(Hall.cinema_id == period.cinema_pk)
    return c


def _within(at: Any, period: Period) -> list[ColumnElement[bool]]:
    return [*_coarse(at, period), local_day(at).between(*period.days())]


def _cinema_found(period: Period) -> ColumnElement[bool]:
    if period.cinema_pk is None:
        return true()
    return exists().where(Cinema.id == period.cinema_pk)


def _one_row() -> Any:
    return select(literal(1).label("one")).subquery("one")


# --- sales ----------------------------------------------------------------------------------

_ZERO_INT = cast(literal(0), BigInteger)
_ZERO_MONEY = cast(literal(0), MONEY)


def _group(group_by: SalesGroupBy) -> tuple[Any, Any]:
    """(pk, label) of a DAY, MOVIE or CINEMA row (PRODUCT rows are keyed by their lines)."""
    if group_by is SalesGroupBy.DAY:
        return cast(null(), BigInteger), cast(null(), String)
    if group_by is SalesGroupBy.MOVIE:
        return Showtime.movie_id, Movie.title
    return Cinema.id, Cinema.name


# Every part of a sales report yields these columns: `day` is the local day of the event
# (paid_on for a sale, refunded_on for a refund; NULL in a rollup part of a report whose
# rows are not days, which sums its days already), `order_id` the order of a product line
# (its orders are counted by id), `first_orders` the rollup's count of orders for a
# PRODUCT report's totals.
EVENT_COLUMNS = (
    "day",
    "pk",
    "label",
    "currency",
    "order_id",
    "orders",
    "tickets",
    "products",
    "gross",
    "discounts",
    "refunds",
    "first_orders",
)


def _event(*columns: Any) -> list[Any]:
    """The columns of a part, named (the same expression twice in one SELECT, such as two
    zeros, would otherwise be one column)."""
    return [c.label(n) for c, n in zip(columns, EVENT_COLUMNS, strict=True)]


# Which days a part reads: the rollup has the days up to `through` that are not stale
# (migration 0032_sales_rollup); the orders, every other day. Both are read in the report's
# own statement, so they are one snapshot: a roll-up commits the rollup's rows, `through`
# and the stale days together.
def _through() -> Any:
    return select(SalesRollupState.through).scalar_subquery()


def _stale_days() -> Any:
    return func.array(select(SalesStaleDay.day).scalar_subquery())


def _rolled_up(day: Any) -> list[ColumnElement[bool]]:
    return [day <= _through(), day != all_(_stale_days())]


def _not_rolled_up(day: Any) -> list[ColumnElement[bool]]:
    """The days after `through`, and the stale days up to `through`: two conditions that
    never both hold (a day after `through` may be marked stale too), one part of the
    orders each, since each is an index condition on the day (ORed, the planner read every
    refund of the period and filtered them)."""
    after = func.coalesce(_through(), literal_column("DATE '-infinity'", Date))
    return [day > after, and_(day == any_(_stale_days()), day <= _through())]


def _order_events(group_by: SalesGroupBy, period: Period) -> list[Select[Any]]:
    """DAY, MOVIE, CINEMA: whole orders of the days not rolled up. A sale on paid_on (its
    amounts, and the units it sold: `orders.ticket_count` and `product_count`, written by
    checkout), a refund (its total) on refunded_on. Both days are the cinema's local dates,
    stored with the order by a trigger (migration 0012_shop_functions), so a part groups
    plain dates read through their index: no order line is read and no time zone
    converted per row. Where the grouping or the cinema filter needs the showtime's movie
    or cinema, the orders are summed per showtime first and each showtime's group looked up
    by its id (LATERAL, kept a subquery by OFFSET 0): these are a few days of orders, and
    hashing every showtime of the year for them cost more than the rest of the report."""
    pk, label = _group(group_by)
    needs_dims = group_by is not SalesGroupBy.DAY or period.cinema_pk is not None
    first, last = period.days()
    no_order = cast(null(), BigInteger)

    def part(day: Any, live: Any, *measures: Any) -> Select[Any]:
        if not needs_dims:
            key: tuple[Any, ...] = (day, cast(null(), BigInteger), cast(null(), String))
            stmt = select(*_event(*key, Order.currency, no_order, *measures, _ZERO_INT))
            return stmt.where(day.between(first, last), live).group_by(day, Order.currency)
        names = EVENT_COLUMNS[5:11]
        o = (
            select(
                day.label("day"),
                Order.showtime_id,
                Order.currency,
                *(m.label(n) for m, n in zip(measures, names, strict=True)),
            )
            .where(day.between(first, last), live)
            .group_by(day, Order.showtime_id, Order.currency)
            .subquery("o")
        )
        dims = (
            select(pk.label("pk"), label.label("label"))
            .select_from(Showtime)
            .join(Hall, Hall.id == Showtime.hall_id)
            .join(Cinema, Cinema.id == Hall.cinema_id)
            .where(Showtime.id == o.c.showtime_id)
        )
        if group_by is SalesGroupBy.MOVIE:
            dims = dims.join(Movie, Movie.id == Showtime.movie_id)
        if period.cinema_pk is not None:
            dims = dims.where(Hall.cinema_id == period.cinema_pk)
        d = dims.offset(0).lateral("d")
        return select(
            *_event(
                o.c.day,
                d.c.pk,
                d.c.label,
                o.c.currency,
                no_order,
                *(o.c[n] for n in names),
                _ZERO_INT,
            )
        ).select_from(o.join(d, true()))

    sales = [
        part(
            Order.paid_on,
            live,
            func.count(),
            func.sum(cast(Order.ticket_count, BigInteger)),
            func.sum(cast(Order.product_count, BigInteger)),
            func.sum(Order.subtotal),
            func.sum(Order.discount),
            _ZERO_MONEY,
        )
        for live in _not_rolled_up(Order.paid_on)
    ]
    refunds = [
        part(
            Order.refunded_on,
            live,
            _ZERO_INT,
            _ZERO_INT,
            _ZERO_INT,
            _ZERO_MONEY,
            _ZERO_MONEY,
            func.sum(Order.total),
        )
        for live in _not_rolled_up(Order.refunded_on)
    ]
    return [*sales, *refunds, _rolled_up_order_events(group_by, period)]


def _sums(*columns: Any) -> list[Any]:
    return [func.sum(c) for c in columns]


def _rolled_up_order_events(group_by: SalesGroupBy, period: Period) -> Select[Any]:
    """DAY, MOVIE, CINEMA from `sales_days`, summed here to the report's rows (a row of
    the rollup is a day, cinema and movie), with the movie's or the cinema's name joined
    now."""
    r = SalesDay
    day: Any = r.day if group_by is SalesGroupBy.DAY else cast(null(), Date)
    pk: Any = cast(null(), BigInteger)
    label: Any = cast(null(), String)
    if group_by is SalesGroupBy.MOVIE:
        pk, label = r.movie_id, Movie.title
    elif group_by is SalesGroupBy.CINEMA:
        pk, label = r.cinema_id, Cinema.name
    measures = _sums(r.orders, r.tickets, r.products, r.gross, r.discounts, r.refunds)
    stmt = select(
        *_event(day, pk, label, r.currency, cast(null(), BigInteger), *measures, _ZERO_INT)
    )
    if group_by is SalesGroupBy.MOVIE:
        stmt = stmt.join(Movie, Movie.id == r.movie_id)
    elif group_by is SalesGroupBy.CINEMA:
        stmt = stmt.join(Cinema, Cinema.id == r.cinema_id)
    if period.cinema_pk is not None:
        stmt = stmt.where(r.cinema_id == period.cinema_pk)
    return stmt.where(r.day.between(*period.days()), *_rolled_up(r.day)).group_by(
        day, pk, label, r.currency
    )


def _product_events(period: Period) -> list[Select[Any]]:
    """PRODUCT: product lines only, one row per line. A sale on paid_on (units, unit price
    x quantity, the line's discount), a refund (what the line cost: price x quantity -
    discount) on refunded_on. An order's lines are looked up by its id (LATERAL): the
    orders read here are few (the days not rolled up), but the planner cannot know how few
    and would otherwise read every line of the table to join them."""
    first, last = period.days()
    line = (
        select(OrderLine.product_id, OrderLine.quantity, OrderLine.unit_price, OrderLine.discount)
        .where(OrderLine.order_id == Order.id, OrderLine.kind == "PRODUCT")
        .offset(0)  # kept a subquery: pulled up, it is a join the planner may hash
        .lateral("line")
    )

    def lines(day: Any, live: Any, *columns: Any) -> Select[Any]:
        stmt = (
            select(*_event(day, line.c.product_id, Product.name, Order.currency, *columns))
            .select_from(Order)
            .join(line, true())
            .join(Product, Product.id == line.c.product_id)
            .where(day.between(first, last), live)
        )
        if period.cinema_pk is not None:
            stmt = (
                stmt.join(Showtime, Showtime.id == Order.showtime_id)
                .join(Hall, Hall.id == Showtime.hall_id)
                .where(Hall.cinema_id == period.cinema_pk)
            )
        return stmt

    line_gross = line.c.unit_price * line.c.quantity
    sales = [
        lines(
            Order.paid_on,
            live,
            Order.id,
            _ZERO_INT,
            _ZERO_INT,
            cast(line.c.quantity, BigInteger),
            line_gross,
            line.c.discount,
            _ZERO_MONEY,
            _ZERO_INT,
        )
        for live in _not_rolled_up(Order.paid_on)
    ]
    refunds = [
        lines(
            Order.refunded_on,
            live,
            cast(null(), BigInteger),
            _ZERO_INT,
            _ZERO_INT,
            _ZERO_INT,
            _ZERO_MONEY,
            _ZERO_MONEY,
            line_gross - line.c.discount,
            _ZERO_INT,
        )
        for live in _not_rolled_up(Order.refunded_on)
    ]
    return [*sales, *refunds, _rolled_up_product_events(period)]


def _rolled_up_product_events(period: Period) -> Select[Any]:
    """PRODUCT from `sales_product_days`: a day's sales and refunds of a product in one
    row. It counts its orders (`orders`, and `first_orders` for the totals) where the
    orders' parts give their ids to count."""
    r = SalesProductDay
    day = cast(null(), Date)
    stmt = select(
        *_event(
            day,
            r.product_id,
            Product.name,
            r.currency,
            cast(null(), BigInteger),
            func.sum(r.orders),
            _ZERO_INT,
            *_sums(r.units, r.gross, r.discounts, r.refunds, r.first_orders),
        )
    ).join(Product, Product.id == r.product_id)
    if period.cinema_pk is not None:
        stmt = stmt.where(r.cinema_id == period.cinema_pk)
    return stmt.where(r.day.between(*period.days()), *_rolled_up(r.day)).group_by(
        r.product_id, Product.name, r.currency
    )


@dataclass(frozen=True, slots=True)
class SalesRows:
    """A sales report as read: `rows` by group and currency, `totals` one per currency.
    Each row has day, pk, label, currency, orders_paid, tickets_sold, products_sold, gross,
    discounts, refunds."""

    cinema_found: bool
    rows: list[Row[Any]]
    totals: list[Row[Any]]


def sales_report_statement(group_by: SalesGroupBy, period: Period) -> Select[Any]:
    parts = (
        _product_events(period)
        if group_by is SalesGroupBy.PRODUCT
        else _order_events(group_by, period)
    )
    # Every part reads only the period's days (on the stored local dates, or the rollup's).
    e = union_all(*parts).subquery("e")
    day = e.c.day if group_by is SalesGroupBy.DAY else cast(null(), Date)
    is_total = func.grouping(day, e.c.pk, e.c.label)
    # A product row counts the orders that bought it; the PRODUCT totals count each order
    # once, however many products it bought: the orders' lines by their ids, the rollup by
    # its counts. Other groupings counted their orders already.
    orders_paid: Any = cast(func.sum(e.c.orders), Integer)
    if group_by is SalesGroupBy.PRODUCT:
        counted = func.count(distinct(e.c.order_id))
        orders_paid = cast(
            counted
            + case(
                (is_total != 0, func.coalesce(func.sum(e.c.first_orders), 0)),
                else_=func.coalesce(func.sum(e.c.orders), 0),
            ),
            Integer,
        )
    report = (
        select(
            is_total.label("is_total"),
            day.label("day"),
            e.c.pk,
            e.c.label,
            e.c.currency,
            orders_paid.label("orders_paid"),
            cast(func.coalesce(func.sum(e.c.tickets), 0), Integer).label("tickets_sold"),
            cast(func.coalesce(func.sum(e.c.products), 0), Integer).label("products_sold"),
            cast(func.sum(e.c.gross), MONEY).label("gross"),
            cast(func.sum(e.c.discounts), MONEY).label("discounts"),
            cast(func.sum(e.c.refunds), MONEY).label("refunds"),
        )
        .group_by(
            func.grouping_sets(tuple_(day, e.c.pk, e.c.label, e.c.currency), tuple_(e.c.currency))
        )
        .subquery("r")
    )
    order: list[Any] = [report.c.is_total, report.c.currency]
    if group_by is SalesGroupBy.DAY:
        order.append(report.c.day)
    else:
        order += [report.c.gross.desc(), report.c.label, report.c.pk]
    return (
        select(_cinema_found(period).label("cinema_found"), *report.c)
        .select_from(_one_row().outerjoin(report, true()))
        .order_by(*order)
    )


async def sales_report(db: Database, group_by: SalesGroupBy, period: Period) -> SalesRows:
    """One statement: the rows, the totals per currency and whether the cinema exists."""
    found = True
    rows: list[Row[Any]] = []
    totals: list[Row[Any]] = []
    for row in await db.fetch(sales_report_statement(group_by, period)):
        found = bool(row.cinema_found)
        if row.currency is None:  # the empty report's one row
            continue
        (totals if row.is_total else rows).append(row)
    return SalesRows(found, rows, totals)


# --- occupancy ------------------------------------------------------------------------------


def _occupancy_columns() -> list[Any]:
    """capacity, sold, held, available, ratio over Seat outer-joined to SeatOccupancy.

    Capacity is the seats that can be sold: not blocked, plus blocked seats that are sold or
    held anyway (blocked after the sale), so capacity = sold + held + available. Held counts
    live holds and orders awaiting payment; an expired hold is available, as on the seat map.
    The ratio is sold / capacity (0 for a hall without seats)."""
    taken = or_(SeatOccupancy.status == "SOLD", live_hold())
    capacity = func.count(Seat.id).filter(or_(~Seat.is_blocked, taken))
    sold = func.count(SeatOccupancy.id).filter(SeatOccupancy.status == "SOLD")
    held = func.count(SeatOccupancy.id).filter(live_hold())
    return [
        capacity.label("capacity"),
        sold.label("sold"),
        held.label("held"),
        (capacity - sold - held).label("available"),
        func.coalesce(cast(sold, Float) / cast(func.nullif(capacity, 0), Float), 0.0).label(
            "ratio"
        ),
    ]


def _with_seats(stmt: Any) -> Any:
    return stmt.outerjoin(Seat, Seat.hall_id == Showtime.hall_id).outerjoin(
        SeatOccupancy,
        and_(SeatOccupancy.showtime_id == Showtime.id, SeatOccupancy.seat_id == Seat.id),
    )


async def occupancy_by_showtime_ids(db: Database, ids: Sequence[int]) -> Sequence[Row[Any]]:
    """(showtime_id, capacity, sold, held, available, ratio) per showtime, one statement."""
    stmt = _with_seats(
        select(Showtime.id.label("showtime_id"), *_occupancy_columns()).select_from(Showtime)
    )
    return await db.fetch(stmt.where(Showtime.id.in_(list(ids))).group_by(Showtime.id))


@dataclass(frozen=True, slots=True)
class OccupancyRows:
    """Showtime rows (SHOWTIME_COLUMNS + movie_title, cinema_name + the occupancy columns),
    best filled first, at most MAX_OCCUPANCY_ROWS; `truncated` when more matched."""

    cinema_found: bool
    rows: list[Row[Any]]
    truncated: bool


def occupancy_report_statement(period: Period) -> Select[Any]:
    columns = _occupancy_columns()
    ratio = columns[-1]
    inner = (
        _with_seats(
            select(
                *SHOWTIME_COLUMNS,
                Movie.title.label("movie_title"),
                Cinema.name.label("cinema_name"),
                *columns,
            )
            .select_from(Showtime)
            .join(Hall, Hall.id == Showtime.hall_id)
            .join(Cinema, Cinema.id == Hall.cinema_id)
            .join(Movie, Movie.id == Showtime.movie_id)
        )
        .where(Showtime.status == "SCHEDULED", *_within(Showtime.starts_at, period))
        .group_by(Showtime.id, Hall.id, Cinema.id, Movie.id)
        .order_by(ratio.desc(), Showtime.starts_at, Showtime.id)
        .limit(MAX_OCCUPANCY_ROWS + 1)
        .subquery("r")
    )
    return (
        select(_cinema_found(period).label("cinema_found"), *inner.c)
        .select_from(_one_row().outerjoin(inner, true()))
        .order_by(inner.c.ratio.desc(), inner.c.starts_at, inner.c.id)
    )


async def occupancy_report(db: Database, period: Period) -> OccupancyRows:
    """One statement: scheduled showtimes starting on the period's local days."""
    found = True
    rows: list[Row[Any]] = []
    for row in await db.fetch(occupancy_report_statement(period)):
        found = bool(row.cinema_found)
        if row.id is not None:
            rows.append(row)
    return OccupancyRows(found, rows[:MAX_OCCUPANCY_ROWS], len(rows) > MAX_OCCUPANCY_ROWS)
