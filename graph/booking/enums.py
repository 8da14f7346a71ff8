"""The booking enums as GraphQL enums. Import them from here (not from db.booking.codes) in
graph modules, so they are registered with strawberry before any type refers to them."""

from __future__ import annotations

import strawberry

from db.booking.codes import BookingErrorCode

strawberry.enum(BookingErrorCode, description="Codes of booking mutation errors.")

__all__ = ["BookingErrorCode"]
