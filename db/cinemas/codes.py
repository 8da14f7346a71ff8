"""Error codes and enumerations of the cinemas domain (seats and their statuses).

`CinemaErrorCode` also covers showtime mutations: the API exposes one error enum for
cinemas, halls and showtimes."""

from enum import StrEnum


class CinemaErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    INVALID_TIME_ZONE = "INVALID_TIME_ZONE"
    INVALID_COORDINATES = "INVALID_COORDINATES"
    HALL_WITHOUT_SEATS = "HALL_WITHOUT_SEATS"
    HALL_INACTIVE = "HALL_INACTIVE"
    SEAT_HAS_TICKETS = "SEAT_HAS_TICKETS"
    SHOWTIME_OVERLAP = "SHOWTIME_OVERLAP"
    SHOWTIME_IN_PAST = "SHOWTIME_IN_PAST"
    PRICE_MISSING = "PRICE_MISSING"
    SHOWTIME_CANCELLED = "SHOWTIME_CANCELLED"
    PROMO_CODE_INVALID = "PROMO_CODE_INVALID"


class SeatType(StrEnum):
    STANDARD = "STANDARD"
    PREMIUM = "PREMIUM"
    VIP = "VIP"
    ACCESSIBLE = "ACCESSIBLE"


class SeatStatus(StrEnum):
    AVAILABLE = "AVAILABLE"
    HELD = "HELD"
    SOLD = "SOLD"
    BLOCKED = "BLOCKED"


# A free-form string in the database (new screen types appear), validated against this list.
SCREEN_TYPES = ("STANDARD", "IMAX", "DOLBY_CINEMA", "4DX", "SCREENX", "PREMIUM_LARGE_FORMAT")

# One character per seat in the packed status string (see docs/cinemas.md).
STATUS_CHARS = {
    SeatStatus.AVAILABLE: "A",
    SeatStatus.HELD: "H",
    SeatStatus.SOLD: "S",
    SeatStatus.BLOCKED: "B",
}
# In the viewer's statuses, a seat HELD by the viewer (their hold, or their order awaiting
# payment).
MINE = "M"
