"""Error codes and seat statuses of the booking domain."""

from enum import StrEnum


class BookingErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    NOT_FOUND = "NOT_FOUND"
    SEAT_UNAVAILABLE = "SEAT_UNAVAILABLE"
    HOLD_LIMIT_EXCEEDED = "HOLD_LIMIT_EXCEEDED"
    HOLD_EXPIRED = "HOLD_EXPIRED"
    SHOWTIME_NOT_BOOKABLE = "SHOWTIME_NOT_BOOKABLE"


# Statuses as they travel in NOTIFY payloads (one letter each keeps payloads small).
STATUS_LETTERS = {"AVAILABLE": "A", "HELD": "H", "SOLD": "S", "BLOCKED": "B"}
LETTER_STATUSES = {v: k for k, v in STATUS_LETTERS.items()}

# The channel every seat change is announced on.
SEAT_CHANNEL = "seat_changes"
