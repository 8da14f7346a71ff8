"""GET /reports/sales.csv and /reports/occupancy.csv: the staff reports as CSV, for
spreadsheets. Authenticated like /graphql (`Authorization: Bearer <access token>`): 401
without a valid token, 403 for customers, 400 for bad parameters (JSON `{error, field}`).
The rows come from the same functions as `salesReport` and `occupancyReport`.

Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` (and tab or carriage return)
as a formula, so any such text cell (a movie title, a product name) gets a leading `'`.
Numbers are written by us from Decimal and int and are left as they are, so a negative net
stays a number."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import strawberry
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from graph.auth import bearer_token
from graph.context import Context
from graph.errors import ApiError
from graph.relay import to_global_id
from graph.reports.enums import SalesGroupBy
from graph.reports.inputs import OccupancyReportInput, SalesReportInput
from graph.reports.queries import read_occupancy, read_sales
from graph.reports.types import SalesReportRow
from graph.scalars import EARLIEST_YEAR, LATEST_YEAR, in_date_range

SALES_PATH = "/reports/sales.csv"
OCCUPANCY_PATH = "/reports/occupancy.csv"

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

SALES_HEADER = (
    "key",
    "label",
    "currency",
    "orders_paid",
    "tickets_sold",
    "products_sold",
    "gross",
    "discounts",
    "refunds",
    "net",
)
OCCUPANCY_HEADER = (
    "showtime_id",
    "starts_at",
    "movie",
    "cinema_id",
    "cinema",
    "capacity",
    "sold",
    "held",
    "available",
    "ratio",
)


class _BadRequest(Exception):
    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.field = field


def safe_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, made inert with a leading `'`."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


async def _staff_context(request: Request) -> Context | Response:
    state = request.app.state.marquee
    context = Context(
        db=state.db,
        settings=state.settings,
        request=request,
        token=bearer_token(request.headers.get("authorization")),
        services=state.services,
    )
    try:
        viewer = await context.viewer()
    except ApiError as exc:
        return _error(401, exc.message)
    if viewer is None:
        return _error(401, "Sign in (Authorization: Bearer <access token>).")
    if not viewer.is_staff:
        return _error(403, "Only staff (MANAGER or ADMIN) can read reports.")
    return context


def _error(status: int, message: str, field: str | None = None) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, "field": field}, status_code=status, headers=headers)


def _date(request: Request, name: str) -> date:
    raw = request.query_params.get(name)
    if not raw:
        raise _BadRequest(f"`{name}` is required (YYYY-MM-DD).", name)
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise _BadRequest(f"`{name}` is not a date (YYYY-MM-DD).", name) from None
    if not in_date_range(value):  # the GraphQL `Date`'s range (graph/scalars.py)
        raise _BadRequest(
            f"`{name}`: the year must be from {EARLIEST_YEAR} to {LATEST_YEAR}.", name
        )
    return value


def _cinema_id(request: Request) -> strawberry.ID | None:
    raw = request.query_params.get("cinemaId")
    return strawberry.ID(raw) if raw else None


def _csv(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


async def sales_csv(request: Request) -> Response:
    context = await _staff_context(request)
    if isinstance(context, Response):
        return context
    try:
        raw_group = request.query_params.get("groupBy", SalesGroupBy.DAY.value)
        if raw_group not in SalesGroupBy.__members__:
            raise _BadRequest("`groupBy` is DAY, MOVIE, CINEMA or PRODUCT.", "groupBy")
        input = SalesReportInput(
            from_=_date(request, "from"),
            to=_date(request, "to"),
            group_by=SalesGroupBy(raw_group),
            cinema_id=_cinema_id(request),
        )
        read = await read_sales(context.db, input)
    except _BadRequest as exc:
        return _error(400, str(exc), exc.field)
    except ApiError as exc:
        return _error(400, exc.message, (exc.extensions or {}).get("field"))
    rows = [SalesReportRow.from_row(r, input.group_by) for r in [*read.rows, *read.totals]]
    body = to_csv(
        SALES_HEADER,
        (
            (
                r.key,
                r.label,
                r.currency,
                r.orders_paid,
                r.tickets_sold,
                r.products_sold,
                r.gross.amount,
                r.discounts.amount,
                r.refunds.amount,
                r.net.amount,
            )
            for r in rows
        ),
    )
    name = f"sales-{input.from_}-{input.to}-{input.group_by.value.lower()}.csv"
    return _csv(body, name)


async def occupancy_csv(request: Request) -> Response:
    context = await _staff_context(request)
    if isinstance(context, Response):
        return context
    try:
        input = OccupancyReportInput(
            from_=_date(request, "from"),
            to=_date(request, "to"),
            cinema_id=_cinema_id(request),
        )
        read = await read_occupancy(context.db, input)
    except _BadRequest as exc:
        return _error(400, str(exc), exc.field)
    except ApiError as exc:
        return _error(400, exc.message, (exc.extensions or {}).get("field"))
    body = to_csv(
        OCCUPANCY_HEADER,
        (
            (
                to_global_id("Showtime", r.id),
                r.starts_at.isoformat(),
                r.movie_title,
                to_global_id("Cinema", r.cinema_id),
                r.cinema_name,
                r.capacity,
                r.sold,
                r.held,
                r.available,
                f"{float(r.ratio):.4f}",
            )
            for r in read.rows
        ),
    )
    return _csv(body, f"occupancy-{input.from_}-{input.to}.csv")
