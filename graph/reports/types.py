"""GraphQL types of the staff reports: sales rows and totals, occupancy (of one showtime and
per showtime over a period). Each is a plain object built from a row of db/reports/queries.

The Showtime type is lazy: graph.showtimes.types reads this module's loaders back."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from db.reports.codes import MAX_OCCUPANCY_ROWS, SalesGroupBy
from graph.limits import list_size
from graph.relay import to_global_id
from graph.reports.enums import SalesGroupBy as SalesGroupByEnum
from graph.scalars import Money

if TYPE_CHECKING:
    from graph.showtimes.types import Showtime

# The node type each grouping's key names.
_KEY_TYPE = {
    SalesGroupBy.MOVIE: "Movie",
    SalesGroupBy.CINEMA: "Cinema",
    SalesGroupBy.PRODUCT: "Product",
}
TOTAL_KEY = "TOTAL"


@strawberry.type(
    description=(
        "One row of a sales report (or the totals of one currency). A sale counts on the "
        "local day it was paid; a refund counts, in `refunds` only, on the local day it was "
        "refunded, which may be in a later period. net = gross - discounts - refunds."
    )
)
class SalesReportRow:
    key: str = strawberry.field(
        description="The group: the local day (YYYY-MM-DD), or the global ID of the movie, "
        "cinema or product; TOTAL for a totals row."
    )
    label: str = strawberry.field(
        description="Readable name: the day, the movie's title, the cinema's or product's name."
    )
    currency: str = strawberry.field(description="ISO 4217 code of every amount of this row.")
    orders_paid: int = strawberry.field(
        description="Orders paid in the period (for PRODUCT rows: those that bought the product)."
    )
    tickets_sold: int = strawberry.field(description="Tickets of the orders paid (0 for PRODUCT).")
    products_sold: int = strawberry.field(description="Product units of the orders paid.")
    gross: Money = strawberry.field(description="Prices before discounts of the sales.")
    discounts: Money = strawberry.field(description="Discounts (promo codes) of the sales.")
    refunds: Money = strawberry.field(description="Amounts refunded in the period.")
    net: Money = strawberry.field(description="gross - discounts - refunds.")

    @classmethod
    def from_row(cls, row: Any, group_by: SalesGroupBy) -> SalesReportRow:
        currency = str(row.currency)

        def money(amount: Decimal | None) -> Money:
            return Money(amount=amount or Decimal("0.00"), currency=currency)

        gross, discounts, refunds = (
            row.gross or Decimal("0.00"),
            row.discounts or Decimal("0.00"),
            row.refunds or Decimal("0.00"),
        )
        if row.is_total:
            key, label = TOTAL_KEY, f"Total ({currency})"
        elif group_by is SalesGroupBy.DAY:
            key = label = row.day.isoformat()
        else:
            key, label = to_global_id(_KEY_TYPE[group_by], row.pk), str(row.label)
        return cls(
            key=key,
            label=label,
            currency=currency,
            orders_paid=int(row.orders_paid or 0),
            tickets_sold=int(row.tickets_sold or 0),
            products_sold=int(row.products_sold or 0),
            gross=money(gross),
            discounts=money(discounts),
            refunds=money(refunds),
            net=money(gross - discounts - refunds),
        )


@strawberry.type(description="Sales over a period, grouped, with totals per currency.")
class SalesReport:
    group_by: SalesGroupByEnum = strawberry.field(description="What the rows are.")
    from_: date = strawberry.field(name="from", description="First local day, included.")
    to: date = strawberry.field(description="Last local day, included.")
    rows: list[SalesReportRow] = strawberry.field(
        description="One row per group and currency: days in order; movies, cinemas and "
        "products by gross, largest first.",
        metadata=list_size(400),
    )
    totals: list[SalesReportRow] = strawberry.field(
        description="The totals, one row per currency (amounts in several currencies are "
        "never added up); empty when nothing was sold or refunded.",
        metadata=list_size(5),
    )


@strawberry.type(description="How full a showtime is.")
class Occupancy:
    capacity: int = strawberry.field(
        description="Seats that can be sold: the hall's seats, less blocked ones (unless sold "
        "or held). capacity = sold + held + available."
    )
    sold: int = strawberry.field(description="Seats sold (paid tickets).")
    held: int = strawberry.field(description="Seats held: live holds and orders awaiting payment.")
    available: int = strawberry.field(description="Seats still for sale.")
    ratio: float = strawberry.field(description="sold / capacity, from 0 to 1 (0 without seats).")

    @classmethod
    def from_row(cls, row: Any) -> Occupancy:
        return cls(
            capacity=int(row.capacity),
            sold=int(row.sold),
            held=int(row.held),
            available=int(row.available),
            ratio=float(row.ratio),
        )


@strawberry.type(description="The occupancy of one showtime in an occupancy report.")
class OccupancyReportRow:
    showtime: Annotated[Showtime, strawberry.lazy("graph.showtimes.types")] = strawberry.field(
        description="The showtime."
    )
    movie_title: str = strawberry.field(description="The movie's title.")
    cinema_id: strawberry.ID = strawberry.field(description="The cinema's global ID.")
    cinema_name: str = strawberry.field(description="The cinema's name.")
    starts_at: datetime = strawberry.field(description="Start time.")
    capacity: int = strawberry.field(description="As in Occupancy.capacity.")
    sold: int = strawberry.field(description="Seats sold.")
    held: int = strawberry.field(description="Seats held.")
    available: int = strawberry.field(description="Seats still for sale.")
    ratio: float = strawberry.field(description="sold / capacity.")


@strawberry.type(description="Occupancy per showtime over a period, best filled first.")
class OccupancyReport:
    from_: date = strawberry.field(name="from", description="First local day, included.")
    to: date = strawberry.field(description="Last local day, included.")
    rows: list[OccupancyReportRow] = strawberry.field(
        description=f"Scheduled showtimes starting on those days, by ratio (highest first), "
        f"then start time; at most {MAX_OCCUPANCY_ROWS}.",
        metadata=list_size(MAX_OCCUPANCY_ROWS),
    )
    truncated: bool = strawberry.field(
        description=f"More than {MAX_OCCUPANCY_ROWS} showtimes matched: narrow the period."
    )
