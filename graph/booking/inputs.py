"""Inputs of the booking mutations."""

from __future__ import annotations

import strawberry


@strawberry.input(description="Seats to hold for a showtime (replaces your current hold there).")
class HoldSeatsInput:
    showtime_id: strawberry.ID = strawberry.field(description="The showtime.")
    seat_ids: list[strawberry.ID] = strawberry.field(
        description="Every seat you want held, 1 to MARQUEE_MAX_SEATS_PER_HOLD (default 10). "
        "Seats of your current hold that are not listed are released."
    )
    promo_code: str | None = strawberry.field(
        default=None,
        description="A presale code (case-insensitive) that lets you book in a PROMO_CODE "
        "presale wave before general sale. Not a discount: pass discount codes to checkout.",
    )


@strawberry.input(description="A hold to release.")
class ReleaseHoldInput:
    hold_id: strawberry.ID = strawberry.field(description="The hold (yours).")
