"""salesReport through the real app: grouping by day, movie, cinema and product, totals per
currency, local days in each cinema's time zone, refunds in a later period, the cinema
filter, who may read it, input errors, and one statement per report.

Every test runs twice: reading every day from the orders, and with the days that are over
rolled up (the sales rollup, migration 0032_sales_rollup) before each report, so a change
the test makes after a report reaches the next one through a stale day. Both must give the
same numbers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from db.session import Database, capture_statements
from tests.conftest import GraphQLClient
from tests.factories import create_bookable_showtime, create_user
from tests.orders.flows import buy, gid
from tests.reports.setup import (
    add_product_line,
    paid_order,
    product,
    refund,
    roll_up,
    set_order_discount,
    sql,
    venue,
)

SALES = """
query ($input: SalesReportInput!) {
  salesReport(input: $input) {
    groupBy from to
    rows { key label currency ordersPaid ticketsSold productsSold
      gross { amount currency } discounts { amount } refunds { amount } net { amount } }
    totals { key label currency ordersPaid ticketsSold productsSold
      gross { amount currency } discounts { amount } refunds { amount } net { amount } }
  }
}
"""

JAN_10 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def at(day: int, hour: int = 12, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def flat(row: dict[str, Any]) -> tuple[Any, ...]:
    """(key, ordersPaid, ticketsSold, productsSold, gross, discounts, refunds, net)."""
    return (
        row["key"],
        row["ordersPaid"],
        row["ticketsSold"],
        row["productsSold"],
        row["gross"]["amount"],
        row["discounts"]["amount"],
        row["refunds"]["amount"],
        row["net"]["amount"],
    )


# The database to roll up before each report (empty: read every day from the orders).
ROLL_UP_IN: list[Database] = []


@pytest.fixture(autouse=True, params=["orders", "rollup"])
def read_from(request: pytest.FixtureRequest, db: Database) -> Iterator[None]:
    if request.param == "rollup":
        ROLL_UP_IN.append(db)
    yield
    ROLL_UP_IN.clear()


async def report(
    gql: GraphQLClient, token: str, first: str, last: str, group_by: str = "DAY", **extra: Any
) -> dict[str, Any]:
    for db in ROLL_UP_IN:
        assert await roll_up(db) is not None
    data = await gql.execute(
        SALES,
        {"input": {"from": first, "to": last, "groupBy": group_by, **extra}},
        token=token,
    )
    result: dict[str, Any] = data["salesReport"]
    return result


async def staff(gql: GraphQLClient, db: Database, role: str = "MANAGER") -> str:
    return gql.token_for(await create_user(db, role=role))


async def customer(gql: GraphQLClient, db: Database) -> str:
    return gql.token_for(await create_user(db))


async def test_group_by_day_with_totals(gql: GraphQLClient, db: Database) -> None:
    place = await venue(db)
    buyer = await customer(gql, db)
    a = await paid_order(gql, db, buyer, place, place.seats[:2], paid_at=at(10))
    await paid_order(gql, db, buyer, place, place.seats[2:3], paid_at=at(10, 15))
    await paid_order(gql, db, buyer, place, place.seats[3:6], paid_at=at(12))
    await paid_order(gql, db, buyer, place, place.seats[6:7], paid_at=at(20))  # outside
    await set_order_discount(db, a, "3.00")
    boss = await staff(gql, db)

    out = await report(gql, boss, "2026-01-10", "2026-01-12")
    assert (out["groupBy"], out["from"], out["to"]) == ("DAY", "2026-01-10", "2026-01-12")
    assert [flat(r) for r in out["rows"]] == [
        ("2026-01-10", 2, 3, 0, "30.00", "3.00", "0.00", "27.00"),
        ("2026-01-12", 1, 3, 0, "30.00", "0.00", "0.00", "30.00"),
    ]
    assert out["rows"][0]["label"] == "2026-01-10"
    assert out["rows"][0]["gross"]["currency"] == "EUR"
    assert [flat(r) for r in out["totals"]] == [
        ("TOTAL", 3, 6, 0, "60.00", "3.00", "0.00", "57.00")
    ]
    assert out["totals"][0]["currency"] == "EUR"

    empty = await report(gql, boss, "2025-01-01", "2025-01-31")
    assert (empty["rows"], empty["totals"]) == ([], [])


async def test_day_is_the_cinemas_local_day(gql: GraphQLClient, db: Database) -> None:
    """23:30 in New York is the next day in UTC; 23:30 UTC is the next day in Paris."""
    new_york = await venue(db, time_zone="America/New_York")
    paris = await venue(db, time_zone="Europe/Paris")
    buyer = await customer(gql, db)
    # 2026-01-15 23:30 in New York (UTC-5) = 2026-01-16 04:30 UTC.
    await paid_order(gql, db, buyer, new_york, new_york.seats[:1], paid_at=at(16, 4, 30))
    # 2026-01-15 23:30 UTC = 2026-01-16 00:30 in Paris (UTC+1).
    await paid_order(gql, db, buyer, paris, paris.seats[:2], paid_at=at(15, 23, 30))
    boss = await staff(gql, db)

    out = await report(gql, boss, "2026-01-15", "2026-01-16")
    assert [(r["key"], r["ticketsSold"]) for r in out["rows"]] == [
        ("2026-01-15", 1),
        ("2026-01-16", 2),
    ]
    only_15 = await report(gql, boss, "2026-01-15", "2026-01-15")
    assert [(r["key"], r["ticketsSold"]) for r in only_15["rows"]] == [("2026-01-15", 1)]
    ny_only = await report(
        gql, boss, "2026-01-16", "2026-01-16", cinemaId=gid("Cinema", new_york.cinema)
    )
    assert ny_only["rows"] == []


async def test_refund_counts_in_the_period_it_happened(gql: GraphQLClient, db: Database) -> None:
    place = await venue(db)
    buyer = await customer(gql, db)
    kept = await paid_order(gql, db, buyer, place, place.seats[:1], paid_at=at(10))
    gone = await paid_order(gql, db, buyer, place, place.seats[1:3], paid_at=at(10, 14))
    await refund(gql, db, buyer, gone, refunded_at=at(3, month=2))
    assert kept != gone
    boss = await staff(gql, db)

    january = await report(gql, boss, "2026-01-01", "2026-01-31")
    # The sale stays in January, whole: the refund did not happen in January.
    assert [flat(r) for r in january["totals"]] == [
        ("TOTAL", 2, 3, 0, "30.00", "0.00", "0.00", "30.00")
    ]
    february = await report(gql, boss, "2026-02-01", "2026-02-28")
    assert [flat(r) for r in february["rows"]] == [
        ("2026-02-03", 0, 0, 0, "0.00", "0.00", "20.00", "-20.00")
    ]
    both = await report(gql, boss, "2026-01-01", "2026-02-28", "MOVIE")
    assert [flat(r) for r in both["rows"]] == [
        (gid("Movie", place.movie), 2, 3, 0, "30.00", "0.00", "20.00", "10.00")
    ]


async def test_group_by_movie_and_cinema(gql: GraphQLClient, db: Database) -> None:
    lyon = await venue(db, cinema_name="Lyon Part-Dieu", movie_title="Alpha")
    lille = await venue(db, cinema_name="Lille Centre", movie_title="Beta")
    # Alpha also plays in Lille (another hall of another cinema).
    lille_alpha = await venue(db, cinema_name="Lille Nord", movie=lyon.movie)
    buyer = await customer(gql, db)
    await paid_order(gql, db, buyer, lyon, lyon.seats[:1], paid_at=at(10))
    await paid_order(gql, db, buyer, lille, lille.seats[:3], paid_at=at(10))
    await paid_order(gql, db, buyer, lille_alpha, lille_alpha.seats[:1], paid_at=at(11))
    boss = await staff(gql, db)

    movies = await report(gql, boss, "2026-01-01", "2026-01-31", "MOVIE")
    assert [
        (r["key"], r["label"], r["ordersPaid"], r["gross"]["amount"]) for r in movies["rows"]
    ] == [
        (gid("Movie", lille.movie), "Beta", 1, "30.00"),
        (gid("Movie", lyon.movie), "Alpha", 2, "20.00"),
    ]
    cinemas = await report(gql, boss, "2026-01-01", "2026-01-31", "CINEMA")
    assert [(r["key"], r["label"], r["ticketsSold"]) for r in cinemas["rows"]] == [
        (gid("Cinema", lille.cinema), "Lille Centre", 3),
        # Equal gross: by name.
        (gid("Cinema", lille_alpha.cinema), "Lille Nord", 1),
        (gid("Cinema", lyon.cinema), "Lyon Part-Dieu", 1),
    ]
    assert [flat(r) for r in cinemas["totals"]] == [
        ("TOTAL", 3, 5, 0, "50.00", "0.00", "0.00", "50.00")
    ]
    one = await report(
        gql, boss, "2026-01-01", "2026-01-31", "MOVIE", cinemaId=gid("Cinema", lille.cinema)
    )
    assert [r["label"] for r in one["rows"]] == ["Beta"]
    assert one["totals"][0]["gross"]["amount"] == "30.00"


async def test_group_by_product(gql: GraphQLClient, db: Database) -> None:
    place = await venue(db)
    buyer = await customer(gql, db)
    popcorn = await product(db, "Popcorn")
    cola = await product(db, "Cola")
    a = await paid_order(gql, db, buyer, place, place.seats[:1], paid_at=at(10))
    b = await paid_order(gql, db, buyer, place, place.seats[1:2], paid_at=at(11))
    await add_product_line(db, a, popcorn, 2, "6.00", discount="1.00")
    await add_product_line(db, a, cola, 1, "4.00")
    await add_product_line(db, b, popcorn, 1, "6.00")
    await refund(gql, db, buyer, b, refunded_at=at(12))
    boss = await staff(gql, db)

    out = await report(gql, boss, "2026-01-01", "2026-01-31", "PRODUCT")
    assert [(r["label"], *flat(r)) for r in out["rows"]] == [
        ("Popcorn", gid("Product", popcorn[0]), 2, 0, 3, "18.00", "1.00", "6.00", "11.00"),
        ("Cola", gid("Product", cola[0]), 1, 0, 1, "4.00", "0.00", "0.00", "4.00"),
    ]
    # Orders with products counted once each, whatever they bought.
    assert [flat(r) for r in out["totals"]] == [
        ("TOTAL", 2, 0, 4, "22.00", "1.00", "6.00", "15.00")
    ]
    # The other groupings take whole orders: tickets and products together.
    days = await report(gql, boss, "2026-01-01", "2026-01-31", "DAY")
    assert [flat(r) for r in days["rows"]] == [
        ("2026-01-10", 1, 1, 3, "26.00", "1.00", "0.00", "25.00"),
        ("2026-01-11", 1, 1, 1, "16.00", "0.00", "0.00", "16.00"),
        ("2026-01-12", 0, 0, 0, "0.00", "0.00", "16.00", "-16.00"),
    ]


async def test_currencies_are_never_added_up(gql: GraphQLClient, db: Database) -> None:
    euros = await venue(db)
    dollars = await create_bookable_showtime(db)  # a UTC cinema selling in USD
    buyer = await customer(gql, db)
    await paid_order(gql, db, buyer, euros, euros.seats[:1], paid_at=at(10))
    order = await buy(gql, buyer, dollars.id, dollars.seat_ids[:2])
    await sql(db, "UPDATE orders SET paid_at = :t WHERE number = :n", t=at(10), n=order["number"])
    boss = await staff(gql, db)

    out = await report(gql, boss, "2026-01-10", "2026-01-10")
    assert [(r["key"], r["currency"], r["gross"]["amount"]) for r in out["rows"]] == [
        ("2026-01-10", "EUR", "10.00"),
        ("2026-01-10", "USD", "20.00"),
    ]
    assert [(r["currency"], r["gross"]["amount"], r["label"]) for r in out["totals"]] == [
        ("EUR", "10.00", "Total (EUR)"),
        ("USD", "20.00", "Total (USD)"),
    ]


async def test_staff_only(gql: GraphQLClient, db: Database) -> None:
    variables = {"input": {"from": "2026-01-01", "to": "2026-01-31"}}
    anonymous = await gql.raw(SALES, variables)
    assert anonymous["data"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    shopper = await gql.raw(SALES, variables, token=await customer(gql, db))
    assert shopper["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for role in ("MANAGER", "ADMIN"):
        out = await gql.execute(SALES, variables, token=await staff(gql, db, role))
        assert out["salesReport"]["rows"] == []


async def test_input_errors(gql: GraphQLClient, db: Database) -> None:
    boss = await staff(gql, db)
    place = await venue(db)
    missing = gid("Cinema", place.cinema + 999)
    cases = [
        ({"from": "2026-02-01", "to": "2026-01-31"}, "to"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),  # 367 days
        ({"from": "2026-01-01", "to": "2026-01-31", "cinemaId": "nonsense"}, "cinemaId"),
        ({"from": "2026-01-01", "to": "2026-01-31", "cinemaId": gid("Movie", 1)}, "cinemaId"),
        ({"from": "2026-01-01", "to": "2026-01-31", "cinemaId": missing}, "cinemaId"),
    ]
    for given, field in cases:
        body = await gql.raw(SALES, {"input": given}, token=boss)
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (given, body)
        assert error["extensions"]["field"] == field, (given, body)
    # A whole leap year is allowed; so is a cinema that exists but sold nothing.
    await report(gql, boss, "2024-01-01", "2024-12-31")
    await report(gql, boss, "2026-01-01", "2026-01-31", cinemaId=gid("Cinema", place.cinema))
    # An unknown groupBy is refused by GraphQL itself.
    body = await gql.raw(
        SALES, {"input": {"from": "2026-01-01", "to": "2026-01-31", "groupBy": "HOUR"}}, boss
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def _count(gql: GraphQLClient, token: str, group_by: str) -> tuple[int, list[str], int]:
    variables = {"input": {"from": "2026-01-01", "to": "2026-01-31", "groupBy": group_by}}
    for db in ROLL_UP_IN:
        assert await roll_up(db) is not None
    await gql.execute(SALES, variables, token=token)  # warm the viewer path
    with capture_statements() as log:
        data = await gql.execute(SALES, variables, token=token)
    return len(log), list(log), len(data["salesReport"]["rows"])


async def test_one_statement_per_report(gql: GraphQLClient, db: Database) -> None:
    boss = await staff(gql, db)
    buyer = await customer(gql, db)
    first = await venue(db)
    item = await product(db, "Nachos")
    order = await paid_order(gql, db, buyer, first, first.seats[:1], paid_at=at(2))
    await add_product_line(db, order, item, 1, "5.00")
    small = {g: await _count(gql, boss, g) for g in ("DAY", "MOVIE", "CINEMA", "PRODUCT")}
    for i in range(6):
        place = await venue(db)
        order = await paid_order(gql, db, buyer, place, place.seats[:2], paid_at=at(3 + i))
        await add_product_line(db, order, await product(db, f"Item {i}"), 1, "5.00")
    for group_by, (n_small, _, rows_small) in small.items():
        n_large, log, rows_large = await _count(gql, boss, group_by)
        assert rows_large > rows_small, group_by
        # The viewer's row, then the report: one statement whatever the rows.
        assert n_small == n_large == 2, (group_by, "\n\n".join(log))
