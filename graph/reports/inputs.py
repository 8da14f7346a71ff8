"""Inputs of the staff reports, and their validation (shared by the queries and the CSV
endpoint): dates in order, a period of at most MAX_REPORT_DAYS, a well-formed cinema ID."""

from __future__ import annotations

from datetime import date

import strawberry

from db.reports.codes import MAX_REPORT_DAYS
from db.reports.queries import Period
from graph.errors import bad_input
from graph.relay import query_id
from graph.reports.enums import SalesGroupBy


@strawberry.input(description="Which sales to report, and how to group them.")
class SalesReportInput:
    from_: date = strawberry.field(
        name="from", description="First local day (in each cinema's time zone), included."
    )
    to: date = strawberry.field(description="Last local day, included.")
    group_by: SalesGroupBy = strawberry.field(
        default=SalesGroupBy.DAY, description="One row per DAY, MOVIE, CINEMA or PRODUCT."
    )
    cinema_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this cinema's sales."
    )


@strawberry.input(description="Which showtimes to report the occupancy of.")
class OccupancyReportInput:
    from_: date = strawberry.field(
        name="from", description="First local day (in each cinema's time zone), included."
    )
    to: date = strawberry.field(description="Last local day, included.")
    cinema_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this cinema's showtimes."
    )


def period_of(first: date, last: date, cinema_id: str | None) -> Period:
    """A validated period; BAD_USER_INPUT (with `field`) when it is not."""
    if last < first:
        raise bad_input("`to` is before `from`.", "to")
    if (last - first).days >= MAX_REPORT_DAYS:
        raise bad_input(f"A report covers at most {MAX_REPORT_DAYS} days.", "to")
    cinema_pk = query_id(cinema_id, "Cinema", "cinemaId") if cinema_id else None
    return Period(first, last, cinema_pk)


def unknown_cinema() -> Exception:
    return bad_input("No cinema has this ID.", "cinemaId")
