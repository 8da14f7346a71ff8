"""GraphQL types of showtimes, their prices and their seat maps.

Relations resolve through `graph.showtimes.loaders`, `graph.cinemas.loaders` and
`graph.catalog.loaders`, imported as module objects (read at call time), and the types of
other modules are lazy: those modules import this one back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry

from db.cinemas.codes import MINE, STATUS_CHARS
from db.cinemas.layout import MAX_ROWS, MEAN_SEATS_PER_ROW, layout_version
from graph.auth import Viewer
from graph.catalog import loaders as catalog_loaders
from graph.cinemas import loaders as cinema_loaders
from graph.cinemas.enums import SeatStatus, SeatType
from graph.context import Info
from graph.limits import list_size
from graph.relay import Node, to_global_id
from graph.reports import loaders as report_loaders
from graph.scalars import Money
from graph.showtimes import loaders as showtime_loaders
from graph.showtimes.enums import PresaleAudience, ShowtimeStatus

if TYPE_CHECKING:
    from db.showtimes.queries import SeatStates
    from graph.catalog.types import Movie
    from graph.cinemas.types import Cinema, CinemaError, Hall
    from graph.reports.types import Occupancy


_SEAT_TYPES = {t.value: t for t in SeatType}
# Each character of the seat states (db.showtimes.queries.SeatStates) as a status.
_MARK_STATUSES = {mark: SeatStatus(s.value) for s, mark in STATUS_CHARS.items()} | {
    MINE: SeatStatus.HELD
}
# graph.relay's one global-ID cache, typed as making the IDs the seat map's loop fills in
# (strawberry.ID(...) around each call would cost a call per seat).
_global_id = cast("Callable[[str, int], strawberry.ID]", to_global_id)


@strawberry.type(description="The price of one seat type for a showtime.")
class ShowtimePrice:
    seat_type: SeatType = strawberry.field(description="Seat type.")
    price: Money = strawberry.field(description="Price of one ticket for this seat type.")


@strawberry.type(description="A seat in a showtime's seat map.")
class SeatMapSeat:
    id: strawberry.ID = strawberry.field(description="Global ID of the Seat (for holdSeats).")
    number: int = strawberry.field(description="Seat number within the row.")
    type: SeatType = strawberry.field(description="Seat type.")
    status: SeatStatus = strawberry.field(description="AVAILABLE, HELD, SOLD or BLOCKED.")
    price: Money | None = strawberry.field(description="Ticket price for this seat's type.")
    held_by_me: bool = strawberry.field(description="Held by the viewer's own live hold.")


@strawberry.type(description="A row of a seat map.")
class SeatRow:
    label: str = strawberry.field(description="Row label.")
    seats: list[SeatMapSeat] = strawberry.field(
        description="Seats, left to right.", metadata=list_size(MEAN_SEATS_PER_ROW)
    )


@strawberry.type(description="Every seat of a showtime with its current status.")
class SeatMap:
    rows: list[SeatRow] = strawberry.field(
        description="Rows front to back.", metadata=list_size(MAX_ROWS)
    )
    sequence: int = strawberry.field(
        description="The realtime sequence this map reflects (see seatAvailability)."
    )


@strawberry.type(
    description=(
        "Compact seat statuses: one character per seat, in the order of `Hall.layout` "
        "(rows, then seats): A = AVAILABLE, H = HELD, S = SOLD, B = BLOCKED, "
        "M = held by the viewer."
    )
)
class PackedSeatStatuses:
    statuses: str = strawberry.field(description="One character per seat.")
    sequence: int = strawberry.field(description="The realtime sequence this reflects.")
    layout_version: str = strawberry.field(description="`Hall.layout.version` it applies to.")
    available_seat_count: int = strawberry.field(description="Seats with status A.")


@strawberry.type(
    description="An early opening of a showtime's sale for one audience (before salesOpenAt)."
)
class PresaleWave:
    code_text: strawberry.Private[str | None]
    name: str = strawberry.field(description="Name shown to customers.")
    opens_at: datetime = strawberry.field(description="When this wave opens.")
    audience: PresaleAudience = strawberry.field(description="Who may book in this wave.")
    min_loyalty_points: int | None = strawberry.field(
        description="LOYALTY_MEMBERS: the loyalty points a customer needs (null otherwise)."
    )
    promo_code: str | None = strawberry.field(
        description="PROMO_CODE: the code customers pass to holdSeats; staff only (null for "
        "everyone else: customers get the code from the campaign, not from the API)."
    )

    @classmethod
    def from_row(cls, row: Any, viewer: Viewer | None) -> PresaleWave:
        staff = viewer is not None and viewer.is_staff
        return cls(
            code_text=row.promo_code,
            name=row.name,
            opens_at=row.opens_at,
            audience=PresaleAudience(row.audience),
            min_loyalty_points=row.min_loyalty_points,
            promo_code=row.promo_code if staff else None,
        )


@strawberry.type(description="A screening of a movie in a hall.")
class Showtime(Node):
    pk: strawberry.Private[int]
    movie_pk: strawberry.Private[int]
    hall_pk: strawberry.Private[int]
    cinema_pk: strawberry.Private[int]
    starts_at: datetime = strawberry.field(description="Start time.")
    ends_at: datetime = strawberry.field(description="End time, cleaning time included.")
    format: str = strawberry.field(description="2D, 3D, IMAX, ...")
    language: str = strawberry.field(description="Audio language.")
    subtitles: str | None = strawberry.field(description="Subtitle language, if any.")
    status: ShowtimeStatus = strawberry.field(description="SCHEDULED or CANCELLED.")
    sales_open_at: datetime | None = strawberry.field(
        description="When general sale opens (null: on sale at once). Presale waves may "
        "open earlier for some customers."
    )

    @classmethod
    def from_row(cls, row: Any) -> Showtime:
        return cls(
            id=strawberry.ID(to_global_id("Showtime", row.id)),
            pk=row.id,
            movie_pk=row.movie_id,
            hall_pk=row.hall_id,
            cinema_pk=row.cinema_id,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            format=row.format,
            language=row.language,
            subtitles=row.subtitles,
            status=ShowtimeStatus(row.status),
            sales_open_at=row.sales_open_at,
        )

    @strawberry.field(description="The movie shown.")
    async def movie(self, info: Info) -> Annotated[Movie, strawberry.lazy("graph.catalog.types")]:
        movie = await info.context.loader(catalog_loaders.MovieByIdLoader).load(self.movie_pk)
        assert movie is not None
        return movie

    @strawberry.field(description="The hall.")
    async def hall(self, info: Info) -> Annotated[Hall, strawberry.lazy("graph.cinemas.types")]:
        hall = await info.context.loader(cinema_loaders.HallByIdLoader).load(self.hall_pk)
        assert hall is not None
        return hall

    @strawberry.field(description="The cinema.")
    async def cinema(self, info: Info) -> Annotated[Cinema, strawberry.lazy("graph.cinemas.types")]:
        cinema = await info.context.loader(cinema_loaders.CinemaByIdLoader).load(self.cinema_pk)
        assert cinema is not None
        return cinema

    @strawberry.field(description="Prices per seat type.")
    async def prices(self, info: Info) -> list[ShowtimePrice]:
        return await info.context.loader(showtime_loaders.PricesByShowtimeLoader).load(self.pk)

    @strawberry.field(description="Presale waves, by opening time.")
    async def presale_waves(self, info: Info) -> list[PresaleWave]:
        loader = info.context.loader(showtime_loaders.PresaleWavesByShowtimeLoader)
        return await loader.load(self.pk)

    @strawberry.field(
        description="Whether the sale has opened for the viewer (general sale, or a presale "
        "wave they belong to; anonymous viewers: general sale only). Says nothing about "
        "started, cancelled or sold-out showtimes."
    )
    async def sales_open_for_viewer(
        self,
        info: Info,
        promo_code: Annotated[
            str | None,
            strawberry.argument(description="A presale code the viewer holds (as for holdSeats)."),
        ] = None,
    ) -> bool:
        return await showtime_loaders.viewer_sales_opening(info, self, promo_code) is None

    @strawberry.field(
        description="When the sale opens for the viewer (the earliest presale wave they "
        "belong to, else salesOpenAt, and not before the sales window, "
        "MARQUEE_SALES_WINDOW_DAYS before the start); null once it has opened."
    )
    async def next_sales_opening(
        self,
        info: Info,
        promo_code: Annotated[
            str | None,
            strawberry.argument(description="A presale code the viewer holds (as for holdSeats)."),
        ] = None,
    ) -> datetime | None:
        return await showtime_loaders.viewer_sales_opening(info, self, promo_code)

    @strawberry.field(description="Seats neither sold, held by a live hold, nor blocked.")
    async def available_seat_count(self, info: Info) -> int:
        loader = info.context.loader(showtime_loaders.AvailableSeatCountByShowtimeLoader)
        return await loader.load(self.pk)

    @strawberry.field(
        description="How full the showtime is: seats sold, held and available (staff; null "
        "for anyone else)."
    )
    async def occupancy(
        self, info: Info
    ) -> Annotated[Occupancy, strawberry.lazy("graph.reports.types")] | None:
        return await info.context.loader(report_loaders.OccupancyByShowtimeLoader).load(self.pk)

    @strawberry.field(description="Every seat with its status and price, row by row.")
    async def seat_map(self, info: Info) -> SeatMap:
        states, prices = await _seat_states(info, self.pk)
        if states is None:  # a hall without seats
            return SeatMap(rows=[], sequence=0)
        price_of = {p.seat_type.value: p.price for p in prices}
        # This loop runs once per seat: dict lookups instead of enum construction, cached
        # global IDs (graph.relay). The seats come in layout order: rows in order of first
        # appearance, each row's seats in drawing order.
        out: list[SeatRow] = []
        by_label: dict[str, list[SeatMapSeat]] = {}
        for pk, label, number, kind, mark in zip(
            states.seat_ids,
            states.row_labels,
            states.numbers,
            states.seat_types,
            states.statuses,
            strict=True,
        ):
            seats = by_label.get(label)
            if seats is None:
                seats = by_label[label] = []
                out.append(SeatRow(label=label, seats=seats))
            seats.append(
                SeatMapSeat(
                    id=_global_id("Seat", pk),
                    number=number,
                    type=_SEAT_TYPES[kind],
                    status=_MARK_STATUSES[mark],
                    price=price_of.get(kind),
                    held_by_me=mark == MINE,
                )
            )
        return SeatMap(rows=out, sequence=states.seat_sequence)

    @strawberry.field(
        description="Compact seat statuses for fast clients (pair with the cached Hall.layout)."
    )
    async def seat_statuses(self, info: Info) -> PackedSeatStatuses:
        packed = await info.context.loader(showtime_loaders.PackedSeatStatesByShowtimeLoader).load(
            self.pk
        )
        if packed is None:  # a hall without seats
            return PackedSeatStatuses(
                statuses="", sequence=0, layout_version=layout_version(""), available_seat_count=0
            )
        return PackedSeatStatuses(
            statuses=packed.statuses,
            sequence=packed.seat_sequence,
            layout_version=packed.layout_version,
            available_seat_count=packed.available,
        )


async def _seat_states(
    info: Info, showtime_pk: int
) -> tuple[SeatStates | None, list[ShowtimePrice]]:
    """Seat states and prices, each batched across showtimes."""
    states = info.context.loader(showtime_loaders.SeatStatesByShowtimeLoader).load(showtime_pk)
    prices = info.context.loader(showtime_loaders.PricesByShowtimeLoader).load(showtime_pk)
    return await asyncio.gather(states, prices)


@strawberry.type(description="Result of createShowtime, updateShowtime and cancelShowtime.")
class ShowtimePayload:
    showtime: Showtime | None = strawberry.field(description="The showtime, on success.")
    errors: list[Annotated[CinemaError, strawberry.lazy("graph.cinemas.types")]] = strawberry.field(
        description="Empty on success."
    )
    refunds_pending: int | None = strawberry.field(
        default=None,
        description=(
            "cancelShowtime only (null otherwise): how many paid orders of the showtime were "
            "still to be refunded when it answered. The payment background work refunds "
            "them within seconds, each customer e-mailed (docs/orders.md)."
        ),
    )
