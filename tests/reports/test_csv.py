"""GET /reports/sales.csv and /reports/occupancy.csv: Bearer auth (401, 403), the rows of
the same reports, bad parameters (400), and cells that a spreadsheet would run as formulas."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from db.session import Database
from graph.reports.export import safe_cell
from tests.conftest import GraphQLClient
from tests.factories import create_user
from tests.orders.flows import buy, gid
from tests.reports.setup import paid_order, venue

PARAMS = {"from": "2026-01-01", "to": "2026-01-31"}


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def test_authentication(gql: GraphQLClient, db: Database) -> None:
    for path in ("/reports/sales.csv", "/reports/occupancy.csv"):
        anonymous = await gql.http.get(path, params=PARAMS)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        forged = await gql.http.get(
            path, params=PARAMS, headers={"Authorization": "Bearer not-a-token"}
        )
        assert forged.status_code == 401
        customer = gql.token_for(await create_user(db))
        refused = await gql.http.get(
            path, params=PARAMS, headers={"Authorization": f"Bearer {customer}"}
        )
        assert refused.status_code == 403
        assert "staff" in refused.json()["error"]


async def test_sales_csv(gql: GraphQLClient, db: Database) -> None:
    place = await venue(db, movie_title='=HYPERLINK("http://evil","x")')
    buyer = gql.token_for(await create_user(db))
    await paid_order(gql, db, buyer, place, place.seats[:2], datetime(2026, 1, 5, 12, tzinfo=UTC))
    manager = {"Authorization": f"Bearer {gql.token_for(await create_user(db, role='ADMIN'))}"}

    response = await gql.http.get(
        "/reports/sales.csv", params={**PARAMS, "groupBy": "MOVIE"}, headers=manager
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="sales-2026-01-01-2026-01-31-movie.csv"'
    )
    assert rows_of(response.text) == [
        [
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
        ],
        [
            gid("Movie", place.movie),
            '\'=HYPERLINK("http://evil","x")',
            "EUR",
            "1",
            "2",
            "0",
            "20.00",
            "0.00",
            "0.00",
            "20.00",
        ],
        ["TOTAL", "Total (EUR)", "EUR", "1", "2", "0", "20.00", "0.00", "0.00", "20.00"],
    ]
    by_day = await gql.http.get("/reports/sales.csv", params=PARAMS, headers=manager)
    assert [r[0] for r in rows_of(by_day.text)] == ["key", "2026-01-05", "TOTAL"]


async def test_bad_parameters(gql: GraphQLClient, db: Database) -> None:
    manager = {"Authorization": f"Bearer {gql.token_for(await create_user(db, role='MANAGER'))}"}
    cases = [
        ({"to": "2026-01-31"}, "from"),
        ({"from": "2026-01-01", "to": "31/01/2026"}, "to"),
        ({**PARAMS, "groupBy": "WEEK"}, "groupBy"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "to"),
        ({**PARAMS, "cinemaId": "nope"}, "cinemaId"),
        ({**PARAMS, "cinemaId": gid("Cinema", 10**9)}, "cinemaId"),
    ]
    for params, field in cases:
        response = await gql.http.get("/reports/sales.csv", params=params, headers=manager)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["field"] == field, (params, response.text)
    # Dates at the ends of what Python represents (a report's days in a time zone left
    # them: a bare 500 before).
    for path in ("/reports/sales.csv", "/reports/occupancy.csv"):
        for params, field in (
            ({"from": "0001-01-01", "to": "0001-12-31"}, "from"),
            ({"from": "9998-12-01", "to": "9999-01-01"}, "to"),
        ):
            response = await gql.http.get(path, params=params, headers=manager)
            assert response.status_code == 400, (path, params, response.text)
            assert response.json()["field"] == field, (path, params, response.text)
            assert "year" in response.json()["error"]


async def test_occupancy_csv(gql: GraphQLClient, db: Database) -> None:
    place = await venue(db, cinema_name="+Cinema", movie_title="@Movie", seats_per_row=2)
    buyer = gql.token_for(await create_user(db))
    await buy(gql, buyer, place.showtime, place.seats[:1])
    manager = {"Authorization": f"Bearer {gql.token_for(await create_user(db, role='MANAGER'))}"}
    today = datetime.now(UTC).date()
    params = {"from": today.isoformat(), "to": (today + timedelta(days=2)).isoformat()}

    response = await gql.http.get("/reports/occupancy.csv", params=params, headers=manager)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "occupancy-" in response.headers["content-disposition"]
    header, row = rows_of(response.text)
    assert header[:3] == ["showtime_id", "starts_at", "movie"]
    assert row[0] == gid("Showtime", place.showtime)
    assert (row[2], row[4]) == ("'@Movie", "'+Cinema")
    assert row[5:] == ["4", "1", "0", "3", "0.2500"]


def test_formula_cells_are_made_inert() -> None:
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    assert safe_cell("Dune") == "Dune"
    assert safe_cell(-5) == -5  # numbers we write ourselves stay numbers
