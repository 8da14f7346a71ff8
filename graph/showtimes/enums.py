"""GraphQL enums of the showtimes domain, registered once (import them from here)."""

from __future__ import annotations

import strawberry

from db.showtimes.codes import PresaleAudience, ShowtimeStatus

strawberry.enum(ShowtimeStatus, description="SCHEDULED, or CANCELLED by staff.")
strawberry.enum(
    PresaleAudience,
    description="Who may book in a presale wave: LOYALTY_MEMBERS (at least minLoyaltyPoints "
    "loyalty points) or PROMO_CODE (customers who pass the wave's promo code).",
)

__all__ = ["PresaleAudience", "ShowtimeStatus"]
