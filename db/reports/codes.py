"""Enumerations and limits of the staff reports (shared by both layers)."""

from enum import StrEnum


class SalesGroupBy(StrEnum):
    """What a sales report's rows are: one per local day, movie, cinema or product."""

    DAY = "DAY"
    MOVIE = "MOVIE"
    CINEMA = "CINEMA"
    PRODUCT = "PRODUCT"


# The longest period a report covers, in days (from and to included): a leap year.
MAX_REPORT_DAYS = 366
# The most rows an occupancy report returns (the best-filled first); `truncated` says more
# showtimes matched.
MAX_OCCUPANCY_ROWS = 1000
