"""GraphQL enums of the showtimes domain, registered once (import them from here)."""

from __future__ import annotations

import strawberry

from db.showtimes.codes import ShowtimeStatus

strawberry.enum(ShowtimeStatus, description="SCHEDULED, or CANCELLED by staff.")

__all__ = ["ShowtimeStatus"]
