"""Inputs of the showtimes domain: the filter and the staff mutations' inputs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from graph.cinemas.enums import SeatType
from graph.showtimes.enums import PresaleAudience, ShowtimeStatus


@strawberry.input(description="Which showtimes to list (all given conditions apply).")
class ShowtimeFilter:
    movie_id: strawberry.ID | None = strawberry.field(default=None, description="This movie.")
    cinema_id: strawberry.ID | None = strawberry.field(default=None, description="This cinema.")
    city: str | None = strawberry.field(default=None, description="Cinemas in this city.")
    starts_after: datetime | None = strawberry.field(
        default=None,
        description="Starting at or after this time (default: now, unless startsBefore is given).",
    )
    starts_before: datetime | None = strawberry.field(
        default=None, description="Starting before this time."
    )
    format: str | None = strawberry.field(default=None, description="2D, 3D, IMAX, ...")
    language: str | None = strawberry.field(default=None, description="Audio language.")
    status: ShowtimeStatus | None = strawberry.field(
        default=ShowtimeStatus.SCHEDULED, description="Status (default SCHEDULED; null: any)."
    )


@strawberry.input(description="The price of one seat type.")
class PriceInput:
    seat_type: SeatType = strawberry.field(description="Seat type.")
    amount: Decimal = strawberry.field(description="Amount, at most 2 decimals.")
    currency: str = strawberry.field(default="USD", description="ISO 4217 code.")


@strawberry.input(description="A presale wave: sales open early for one audience.")
class PresaleWaveInput:
    name: str = strawberry.field(description='Shown to customers, e.g. "Members\' presale".')
    opens_at: datetime = strawberry.field(
        description="When the wave opens (with offset; before salesOpenAt)."
    )
    audience: PresaleAudience = strawberry.field(description="Who may book in this wave.")
    min_loyalty_points: int | None = strawberry.field(
        default=None, description="LOYALTY_MEMBERS: the loyalty points a customer needs."
    )
    promo_code: str | None = strawberry.field(
        default=None,
        description="PROMO_CODE: the code (an existing promo code) customers pass to holdSeats.",
    )


@strawberry.input(description="A new showtime.")
class CreateShowtimeInput:
    movie_id: strawberry.ID = strawberry.field(description="The movie.")
    hall_id: strawberry.ID = strawberry.field(description="The hall (must be active).")
    starts_at: datetime = strawberry.field(description="Start (with offset; in the future).")
    format: str = strawberry.field(default="2D", description="2D, 3D, IMAX, ...")
    language: str = strawberry.field(description="Audio language.")
    subtitles: str | None = strawberry.field(default=None, description="Subtitle language.")
    prices: list[PriceInput] = strawberry.field(
        description="A price for every seat type present in the hall."
    )
    sales_open_at: datetime | None = strawberry.field(
        default=None,
        description="When general sale opens (with offset; before the start). Null: at once.",
    )
    presale_waves: list[PresaleWaveInput] | None = strawberry.field(
        default=None,
        description="Presale waves, each opening before salesOpenAt for its audience.",
    )


@strawberry.input(description="Changes to a scheduled showtime; omitted fields stay.")
class UpdateShowtimeInput:
    id: strawberry.ID = strawberry.field(description="The showtime.")
    starts_at: datetime | None = strawberry.field(
        default=None, description="New start (ends_at follows)."
    )
    format: str | None = strawberry.field(default=None, description="New format.")
    language: str | None = strawberry.field(default=None, description="New language.")
    subtitles: str | None = strawberry.field(
        default=strawberry.UNSET, description="New subtitles (null removes them)."
    )
    prices: list[PriceInput] | None = strawberry.field(
        default=None, description="New prices, replacing all of them."
    )
    sales_open_at: datetime | None = strawberry.field(
        default=strawberry.UNSET,
        description="New general sale opening (null: on sale at once; omitted: unchanged).",
    )
    presale_waves: list[PresaleWaveInput] | None = strawberry.field(
        default=None,
        description="New presale waves, replacing all of them ([] removes them; "
        "omitted or null: unchanged).",
    )


@strawberry.input(description="The showtime to cancel.")
class CancelShowtimeInput:
    id: strawberry.ID = strawberry.field(description="The showtime.")
