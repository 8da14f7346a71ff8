"""Inputs of the cinemas domain: the cinema filter and the staff mutations' inputs."""

from __future__ import annotations

from datetime import time

import strawberry

from db.cinemas.layout import MAX_SEATS
from graph.cinemas.enums import SeatType
from graph.limits import list_size


@strawberry.input(description="A point and a radius.")
class NearInput:
    latitude: float = strawberry.field(description="Latitude, -90 to 90.")
    longitude: float = strawberry.field(description="Longitude, -180 to 180.")
    radius_km: float = strawberry.field(default=50.0, description="Radius in km (0 to 20000].")


@strawberry.input(description="Which cinemas to list.")
class CinemaFilter:
    city: str | None = strawberry.field(default=None, description="City (case-insensitive).")
    search: str | None = strawberry.field(
        default=None, description="Words in the name, address or city."
    )
    near: NearInput | None = strawberry.field(
        default=None, description="Within a radius of a point; ordered by distance."
    )


@strawberry.input(description="A new cinema.")
class CreateCinemaInput:
    name: str = strawberry.field(description="Name.")
    address: str = strawberry.field(description="Street address.")
    city: str = strawberry.field(description="City.")
    latitude: float = strawberry.field(description="Latitude, -90 to 90.")
    longitude: float = strawberry.field(description="Longitude, -180 to 180.")
    time_zone: str = strawberry.field(description="IANA time zone, e.g. Europe/Paris.")
    phone: str | None = strawberry.field(default=None, description="Phone number.")
    email: str | None = strawberry.field(default=None, description="Contact e-mail.")
    opens_at: time | None = strawberry.field(default=None, description="Opening time.")
    closes_at: time | None = strawberry.field(default=None, description="Closing time.")
    description: str | None = strawberry.field(default=None, description="Description.")


@strawberry.input(description="Changes to a cinema; omitted fields stay.")
class UpdateCinemaInput:
    id: strawberry.ID = strawberry.field(description="The cinema.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Name.")
    address: str | None = strawberry.field(default=strawberry.UNSET, description="Address.")
    city: str | None = strawberry.field(default=strawberry.UNSET, description="City.")
    latitude: float | None = strawberry.field(default=strawberry.UNSET, description="Latitude.")
    longitude: float | None = strawberry.field(default=strawberry.UNSET, description="Longitude.")
    time_zone: str | None = strawberry.field(default=strawberry.UNSET, description="Time zone.")
    phone: str | None = strawberry.field(default=strawberry.UNSET, description="Phone.")
    email: str | None = strawberry.field(default=strawberry.UNSET, description="E-mail.")
    opens_at: time | None = strawberry.field(default=strawberry.UNSET, description="Opens at.")
    closes_at: time | None = strawberry.field(default=strawberry.UNSET, description="Closes at.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="Description.")
    is_active: bool | None = strawberry.field(default=strawberry.UNSET, description="Active.")


@strawberry.input(
    description=(
        "A row of a compact layout: `seats` seats numbered from 1, left to right; `gaps` are "
        "empty positions (1-based over seats and gaps together, e.g. aisles)."
    )
)
class HallRowInput:
    label: str = strawberry.field(description="Row label, e.g. 'A'.")
    seats: int = strawberry.field(description="Number of seats in the row.")
    seat_type: SeatType = strawberry.field(default=SeatType.STANDARD, description="Seat type.")
    gaps: list[int] = strawberry.field(default_factory=list, description="Empty positions.")
    blocked: list[int] = strawberry.field(
        default_factory=list, description="Seat numbers that are never sold."
    )


@strawberry.input(description="One seat of a seat-by-seat layout.")
class HallSeatInput:
    row_label: str = strawberry.field(description="Row label.")
    number: int = strawberry.field(description="Seat number, from 1.")
    x: int = strawberry.field(description="Drawing column.")
    y: int = strawberry.field(description="Drawing row (1 = nearest the screen).")
    seat_type: SeatType = strawberry.field(default=SeatType.STANDARD, description="Seat type.")
    is_blocked: bool = strawberry.field(default=False, description="Never sold.")


@strawberry.input(description="A new hall; give its layout as `rows` or as `seats`.")
class CreateHallInput:
    cinema_id: strawberry.ID = strawberry.field(description="The cinema.")
    name: str = strawberry.field(description="Name, unique within the cinema.")
    screen_type: str = strawberry.field(default="STANDARD", description="STANDARD, IMAX, ...")
    sound_system: str | None = strawberry.field(default=None, description="Sound system.")
    cleaning_minutes: int = strawberry.field(default=15, description="Minutes between shows.")
    rows: list[HallRowInput] | None = strawberry.field(
        default=None, description="Compact layout, front row first."
    )
    seats: list[HallSeatInput] | None = strawberry.field(
        default=None, description="Seat-by-seat layout.", metadata=list_size(MAX_SEATS)
    )


@strawberry.input(description="Changes to a hall's attributes; omitted fields stay.")
class UpdateHallInput:
    id: strawberry.ID = strawberry.field(description="The hall.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Name.")
    screen_type: str | None = strawberry.field(default=strawberry.UNSET, description="Screen type.")
    sound_system: str | None = strawberry.field(
        default=strawberry.UNSET, description="Sound system."
    )
    cleaning_minutes: int | None = strawberry.field(
        default=strawberry.UNSET, description="Cleaning minutes (for new showtimes)."
    )
    is_active: bool | None = strawberry.field(default=strawberry.UNSET, description="Active.")


@strawberry.input(
    description=(
        "A hall's new layout (replaces all seats; seats are matched by row and number). Seats "
        "with tickets can't be removed, nor retyped before their showtime ends."
    )
)
class UpdateHallLayoutInput:
    hall_id: strawberry.ID = strawberry.field(description="The hall.")
    rows: list[HallRowInput] | None = strawberry.field(default=None, description="Compact.")
    seats: list[HallSeatInput] | None = strawberry.field(
        default=None, description="By seat.", metadata=list_size(MAX_SEATS)
    )
