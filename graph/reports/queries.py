"""Report queries (staff only): `salesReport` and `occupancyReport`. Each runs one
statement (db/reports/queries.py); the CSV endpoint (graph/reports/export.py) reads the same
functions."""

from __future__ import annotations

from typing import Annotated

import strawberry

from db.reports import queries as q
from db.reports.queries import OccupancyRows, SalesRows
from db.session import Database
from graph.auth import IsStaff
from graph.context import Info
from graph.relay import to_global_id
from graph.reports.inputs import (
    OccupancyReportInput,
    SalesReportInput,
    period_of,
    unknown_cinema,
)
from graph.reports.loaders import OccupancyByShowtimeLoader
from graph.reports.types import (
    Occupancy,
    OccupancyReport,
    OccupancyReportRow,
    SalesReport,
    SalesReportRow,
)
from graph.showtimes import loaders as showtime_loaders
from graph.showtimes import types as showtime_types


async def read_sales(db: Database, input: SalesReportInput) -> SalesRows:
    """The rows of a sales report, validated (BAD_USER_INPUT otherwise)."""
    period = period_of(input.from_, input.to, input.cinema_id)
    rows = await q.sales_report(db, input.group_by, period)
    if not rows.cinema_found:
        raise unknown_cinema()
    return rows


async def read_occupancy(db: Database, input: OccupancyReportInput) -> OccupancyRows:
    period = period_of(input.from_, input.to, input.cinema_id)
    rows = await q.occupancy_report(db, period)
    if not rows.cinema_found:
        raise unknown_cinema()
    return rows


@strawberry.type
class Query:
    @strawberry.field(
        description="Sales over local days `from`..`to`, grouped by day, movie, cinema or "
        "product, with totals per currency (staff). One SQL statement whatever its size.",
        permission_classes=[IsStaff],
    )
    async def sales_report(
        self,
        info: Info,
        input: Annotated[SalesReportInput, strawberry.argument(description="Period, grouping.")],
    ) -> SalesReport:
        read = await read_sales(info.context.db, input)
        return SalesReport(
            group_by=input.group_by,
            from_=input.from_,
            to=input.to,
            rows=[SalesReportRow.from_row(r, input.group_by) for r in read.rows],
            totals=[SalesReportRow.from_row(r, input.group_by) for r in read.totals],
        )

    @strawberry.field(
        description="Occupancy of the scheduled showtimes starting on local days "
        "`from`..`to`, best filled first (staff). One SQL statement whatever its size.",
        permission_classes=[IsStaff],
    )
    async def occupancy_report(
        self,
        info: Info,
        input: Annotated[OccupancyReportInput, strawberry.argument(description="Period.")],
    ) -> OccupancyReport:
        read = await read_occupancy(info.context.db, input)
        # The rows hold each showtime and its occupancy: `showtime { ... occupancy }` inside
        # the report costs no statement.
        showtimes = info.context.loader(showtime_loaders.ShowtimeByIdLoader)
        occupancy = info.context.loader(OccupancyByShowtimeLoader)
        out = []
        for row in read.rows:
            showtime = showtime_types.Showtime.from_row(row)
            showtimes.prime(showtime.pk, showtime)
            occupancy.prime(showtime.pk, Occupancy.from_row(row))
            out.append(
                OccupancyReportRow(
                    showtime=showtime,
                    movie_title=row.movie_title,
                    cinema_id=strawberry.ID(to_global_id("Cinema", row.cinema_id)),
                    cinema_name=row.cinema_name,
                    starts_at=row.starts_at,
                    capacity=int(row.capacity),
                    sold=int(row.sold),
                    held=int(row.held),
                    available=int(row.available),
                    ratio=float(row.ratio),
                )
            )
        return OccupancyReport(from_=input.from_, to=input.to, rows=out, truncated=read.truncated)
