"""Enumerations of the showtimes domain. Its error codes are `CinemaErrorCode`
(db/cinemas/codes.py): the API has one error enum for cinemas, halls and showtimes."""

from enum import StrEnum


class ShowtimeStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    CANCELLED = "CANCELLED"


# A free-form string in the database (new formats appear), validated against this list.
SHOWTIME_FORMATS = ("2D", "3D", "IMAX", "IMAX_3D", "4DX", "DOLBY_CINEMA")


class PresaleAudience(StrEnum):
    """Who may book in a presale wave (db/showtimes/models.py, PresaleWave)."""

    LOYALTY_MEMBERS = "LOYALTY_MEMBERS"
    PROMO_CODE = "PROMO_CODE"


# At most this many presale waves per showtime.
MAX_PRESALE_WAVES = 10
