"""Error codes and seat statuses of the booking domain."""

from enum import StrEnum


class BookingErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    NOT_FOUND = "NOT_FOUND"
    SEAT_UNAVAILABLE = "SEAT_UNAVAILABLE"
    HOLD_LIMIT_EXCEEDED = "HOLD_LIMIT_EXCEEDED"
    HOLD_EXPIRED = "HOLD_EXPIRED"
    SHOWTIME_NOT_BOOKABLE = "SHOWTIME_NOT_BOOKABLE"


# Statuses as they travel in NOTIFY payloads (one letter each keeps payloads small), for
# reading them: the payloads are built by the SQL function `marquee_announce_seats`
# (migration 0006_seat_announcer), which writes each status's first letter.
STATUS_LETTERS = {"AVAILABLE": "A", "HELD": "H", "SOLD": "S", "BLOCKED": "B"}
LETTER_STATUSES = {v: k for k, v in STATUS_LETTERS.items()}

# The channel every seat change is announced on (by `marquee_announce_seats`); listeners
# LISTEN on it.
SEAT_CHANNEL = "seat_changes"
