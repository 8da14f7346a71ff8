"""GraphQL enums of the cinemas domain, registered once (import them from here)."""

from __future__ import annotations

import strawberry

from db.cinemas.codes import CinemaErrorCode, SeatStatus, SeatType

strawberry.enum(SeatType, description="Kind of seat; each kind has its own price.")
strawberry.enum(SeatStatus, description="Whether a seat can be booked for a showtime.")
strawberry.enum(CinemaErrorCode, description="Codes of cinema, hall and showtime errors.")

__all__ = ["CinemaErrorCode", "SeatStatus", "SeatType"]
