"""GraphQL types of cinemas, halls, seats and hall layouts.

Relations resolve through `graph.cinemas.loaders` and `graph.showtimes.loaders`, imported as
module objects: those modules build these types, so neither side reads the other while it is
being imported."""

from __future__ import annotations

from datetime import date, time
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from db.cinemas.layout import MAX_ROWS, MEAN_SEATS_PER_ROW
from graph.cinemas import loaders as cinema_loaders
from graph.cinemas.enums import CinemaErrorCode, SeatType
from graph.context import Info
from graph.limits import list_size
from graph.pagination import Connection
from graph.relay import Node, to_global_id
from graph.showtimes import loaders as showtime_loaders

if TYPE_CHECKING:
    from graph.showtimes.types import Showtime


@strawberry.type(description="A cinema of the chain.")
class Cinema(Node):
    pk: strawberry.Private[int]
    name: str = strawberry.field(description="Name.")
    address: str = strawberry.field(description="Street address.")
    city: str = strawberry.field(description="City.")
    phone: str | None = strawberry.field(description="Phone number.")
    email: str | None = strawberry.field(description="Contact e-mail.")
    latitude: float = strawberry.field(description="Latitude in degrees (WGS 84).")
    longitude: float = strawberry.field(description="Longitude in degrees (WGS 84).")
    time_zone: str = strawberry.field(description="IANA time zone, e.g. Europe/Paris.")
    opens_at: time | None = strawberry.field(description="Opening time (local).")
    closes_at: time | None = strawberry.field(description="Closing time (local).")
    description: str | None = strawberry.field(description="A few words about the cinema.")
    is_active: bool = strawberry.field(description="Whether the cinema is open for business.")
    distance_km: float | None = strawberry.field(
        description="Distance from the `near` point of the query, in km (null without it)."
    )

    @classmethod
    def from_row(cls, row: Any, distance_km: float | None = None) -> Cinema:
        return cls(
            id=strawberry.ID(to_global_id("Cinema", row.id)),
            pk=row.id,
            name=row.name,
            address=row.address,
            city=row.city,
            phone=row.phone,
            email=row.email,
            latitude=row.latitude,
            longitude=row.longitude,
            time_zone=row.time_zone,
            opens_at=row.opens_at,
            closes_at=row.closes_at,
            description=row.description,
            is_active=row.is_active,
            distance_km=None if distance_km is None else round(distance_km, 3),
        )

    @strawberry.field(description="The cinema's halls, by name.")
    async def halls(self, info: Info) -> list[Hall]:
        return await info.context.loader(cinema_loaders.HallsByCinemaLoader).load(self.pk)

    @strawberry.field(
        description=(
            "Scheduled showtimes by start time. `from` and `to` are dates in the cinema's own "
            "time zone, both included (default: 7 days from the cinema's today; at most 31)."
        )
    )
    async def showtimes(
        self,
        info: Info,
        from_: Annotated[
            date | None, strawberry.argument(name="from", description="First local day.")
        ] = None,
        to: Annotated[date | None, strawberry.argument(description="Last local day.")] = None,
        movie_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this movie.")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
    ) -> Connection[Annotated[Showtime, strawberry.lazy("graph.showtimes.types")]]:
        return await showtime_loaders.cinema_showtimes(
            info, self.pk, from_, to, movie_id, first, after
        )


@strawberry.type(description="A seat of a hall (its static part; status is per showtime).")
class Seat(Node):
    pk: strawberry.Private[int]
    hall_pk: strawberry.Private[int]
    row_label: str = strawberry.field(description="Row label, e.g. 'F'.")
    number: int = strawberry.field(description="Seat number within the row, from 1.")
    type: SeatType = strawberry.field(description="Seat type (decides the price).")
    x: int = strawberry.field(description="Drawing column, in seat units.")
    y: int = strawberry.field(description="Drawing row, in seat units (1 = nearest the screen).")
    is_blocked: bool = strawberry.field(description="Never sold (broken, reserved, etc.).")

    @classmethod
    def from_row(cls, row: Any) -> Seat:
        return cls(
            id=strawberry.ID(to_global_id("Seat", row.id)),
            pk=row.id,
            hall_pk=row.hall_id,
            row_label=row.row_label,
            number=row.number,
            type=SeatType(row.seat_type),
            x=row.x,
            y=row.y,
            is_blocked=row.is_blocked,
        )

    @strawberry.field(description="The hall of this seat.")
    async def hall(self, info: Info) -> Hall:
        hall = await info.context.loader(cinema_loaders.HallByIdLoader).load(self.hall_pk)
        assert hall is not None
        return hall


@strawberry.type(description="A row of seats of a hall layout.")
class LayoutRow:
    label: str = strawberry.field(description="Row label.")
    seats: list[Seat] = strawberry.field(
        description="Seats, left to right.", metadata=list_size(MEAN_SEATS_PER_ROW)
    )


@strawberry.type(
    description=(
        "A hall's static drawing data: rows, seats, positions and types. It changes only when "
        "staff edit the layout, so clients may cache it (by `version`) and fetch only "
        "`Showtime.seatStatuses` per showtime."
    )
)
class HallLayout:
    version: str = strawberry.field(description="Changes whenever the layout changes.")
    width: int = strawberry.field(description="Largest x of a seat.")
    height: int = strawberry.field(description="Largest y of a seat.")
    seat_count: int = strawberry.field(description="Number of seats.")
    rows: list[LayoutRow] = strawberry.field(
        description="Rows front to back; the order of seats here is the order of packed statuses.",
        metadata=list_size(MAX_ROWS),
    )


@strawberry.type(description="A screening room of a cinema.")
class Hall(Node):
    pk: strawberry.Private[int]
    cinema_pk: strawberry.Private[int]
    name: str = strawberry.field(description="Name, unique within the cinema.")
    screen_type: str = strawberry.field(description="STANDARD, IMAX, DOLBY_CINEMA, 4DX, ...")
    sound_system: str | None = strawberry.field(description="Sound system, e.g. Dolby Atmos.")
    cleaning_minutes: int = strawberry.field(description="Minutes between two showtimes.")
    is_active: bool = strawberry.field(description="Whether showtimes can be scheduled here.")

    @classmethod
    def from_row(cls, row: Any) -> Hall:
        return cls(
            id=strawberry.ID(to_global_id("Hall", row.id)),
            pk=row.id,
            cinema_pk=row.cinema_id,
            name=row.name,
            screen_type=row.screen_type,
            sound_system=row.sound_system,
            cleaning_minutes=row.cleaning_minutes,
            is_active=row.is_active,
        )

    @strawberry.field(description="The cinema of this hall.")
    async def cinema(self, info: Info) -> Cinema:
        cinema = await info.context.loader(cinema_loaders.CinemaByIdLoader).load(self.cinema_pk)
        assert cinema is not None
        return cinema

    @strawberry.field(description="The static seat layout (cacheable).")
    async def layout(self, info: Info) -> HallLayout:
        return await info.context.loader(cinema_loaders.HallLayoutByHallLoader).load(self.pk)

    @strawberry.field(description="Number of seats (blocked ones included).")
    async def seat_count(self, info: Info) -> int:
        layout = await info.context.loader(cinema_loaders.HallLayoutByHallLoader).load(self.pk)
        return layout.seat_count


@strawberry.type(description="An expected failure of a cinema, hall or showtime mutation.")
class CinemaError:
    code: CinemaErrorCode = strawberry.field(description="Machine-readable code.")
    message: str = strawberry.field(description="Human-readable explanation.")
    field: str | None = strawberry.field(description="The input field at fault, if any.")
    seat_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Seats at fault (SEAT_HAS_TICKETS)."
    )


@strawberry.type(description="Result of createCinema and updateCinema.")
class CinemaPayload:
    cinema: Cinema | None = strawberry.field(description="The cinema, on success.")
    errors: list[CinemaError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="Result of createHall, updateHall and updateHallLayout.")
class HallPayload:
    hall: Hall | None = strawberry.field(description="The hall, on success.")
    errors: list[CinemaError] = strawberry.field(description="Empty on success.")
