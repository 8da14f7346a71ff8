"""Error codes and enumerations of the cinemas and showtimes domain."""

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


class ShowtimeStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    CANCELLED = "CANCELLED"


# Free-form strings in the database (new formats appear), validated against these lists.
SCREEN_TYPES = ("STANDARD", "IMAX", "DOLBY_CINEMA", "4DX", "SCREENX", "PREMIUM_LARGE_FORMAT")
SHOWTIME_FORMATS = ("2D", "3D", "IMAX", "IMAX_3D", "4DX", "DOLBY_CINEMA")

# One character per seat in the packed status string (see docs/cinemas.md).
STATUS_CHARS = {
    SeatStatus.AVAILABLE: "A",
    SeatStatus.HELD: "H",
    SeatStatus.SOLD: "S",
    SeatStatus.BLOCKED: "B",
}
