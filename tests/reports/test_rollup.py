"""The sales rollup (migration 0032_sales_rollup): the report reads the days that are over
from it, a change to such a day marks the day stale until the next roll-up, the sale itself
(checkout, payment, refund today) marks nothing, one roll-up at a time and no change lost
between a roll-up and a trigger, and the server's periodic job. test_sales.py runs every
report test both ways besides."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import text

from db.session import Database
from graph.reports.rollup import roll_up_once, start_sales_rollup
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_movie, create_user
from tests.orders.flows import buy
from tests.reports.setup import (
    add_product_line,
    paid_order,
    product,
    refund,
    roll_up,
    sql,
    venue,
)
from tests.reports.test_sales import SALES, at, flat


async def sales(
    gql: GraphQLClient, token: str, first: str, last: str, group_by: str = "DAY"
) -> dict[str, Any]:
    variables = {"input": {"from": first, "to": last, "groupBy": group_by}}
    data = await gql.execute(SALES, variables, token=token)
    result: dict[str, Any] = data["salesReport"]
    return result


async def stale_days(db: Database) -> list[date]:
    async with db.transaction() as session:
        rows = await session.execute(text("SELECT day FROM sales_stale_days ORDER BY day"))
        return [r[0] for r in rows]


async def through(db: Database) -> date | None:
    day: date | None = await sql(db, "SELECT through FROM sales_rollup_state")
    return day


async def test_rolled_up_days_are_read_from_the_rollup(gql: GraphQLClient, db: Database) -> None:
    place = await venue(db)
    buyer = gql.token_for(await create_user(db))
    boss = gql.token_for(await create_user(db, role="MANAGER"))
    await paid_order(gql, db, buyer, place, place.seats[:2], paid_at=at(10))
    second = await paid_order(gql, db, buyer, place, place.seats[2:3], paid_at=at(11))
    before = await sales(gql, boss, "2026-01-01", "2026-01-31")

    assert await roll_up(db, date(2026, 1, 10)) == 1
    assert await through(db) == date(2026, 1, 10)
    # The same report, the 10th from the rollup and the 11th from the orders...
    assert await sales(gql, boss, "2026-01-01", "2026-01-31") == before
    # ...also when the 11th, after `through`, is marked stale: it is read once.
    await sql(db, "UPDATE orders SET paid_at = :t WHERE id = :id", t=at(11, 13), id=second)
    assert await stale_days(db) == [date(2026, 1, 11)]
    assert await sales(gql, boss, "2026-01-01", "2026-01-31") == before
    # ...as the rollup shows when it is tampered with.
    await sql(db, "UPDATE sales_days SET gross = gross + 100, orders = orders + 5")
    tampered = await sales(gql, boss, "2026-01-01", "2026-01-31")
    assert [flat(r)[:5] for r in tampered["rows"]] == [
        ("2026-01-10", 6, 2, 0, "120.00"),
        ("2026-01-11", 1, 1, 0, "10.00"),
    ]
    await sql(db, "UPDATE sales_days SET gross = gross - 100, orders = orders - 5")

    # The default roll-up reaches three days before today: the 11th too, and today's
    # sale stays with the orders.
    assert await roll_up(db) == 1
    today = datetime.now(UTC).date()
    assert await through(db) == today - timedelta(days=3)
    assert await sales(gql, boss, "2026-01-01", "2026-01-31") == before
    assert await stale_days(db) == []  # the roll-up that reached the 11th cleared it
    await buy(gql, buyer, place.showtime, place.seats[3:4])
    assert await stale_days(db) == []
    assert await roll_up(db) == 0  # nothing new: nothing written
    local = datetime.now(UTC).astimezone().date()  # Paris is within a day of UTC
    recent = await sales(gql, boss, str(local - timedelta(days=1)), str(local + timedelta(days=1)))
    assert sum(t["ordersPaid"] for t in recent["totals"]) == 1


async def test_a_change_to_a_rolled_up_day_marks_it_stale(gql: GraphQLClient, db: Database) -> None:
    place = await venue(db)
    other_movie = await create_movie(db, title="Other movie")
    buyer = gql.token_for(await create_user(db))
    boss = gql.token_for(await create_user(db, role="MANAGER"))
    popcorn = await product(db, "Popcorn")
    kept = await paid_order(gql, db, buyer, place, place.seats[:1], paid_at=at(10))
    moved = await paid_order(gql, db, buyer, place, place.seats[1:2], paid_at=at(12))
    refunded = await paid_order(gql, db, buyer, place, place.seats[2:4], paid_at=at(14))
    assert await roll_up(db) == 3

    # A refund dated into a rolled-up day, an order moved from one day to another, a
    # product line added to an old order, the showtime given another movie.
    await refund(gql, db, buyer, refunded, refunded_at=at(20))
    await sql(db, "UPDATE orders SET paid_at = :t WHERE id = :id", t=at(13), id=moved)
    await add_product_line(db, kept, popcorn, 2, "4.00")
    assert await stale_days(db) == [date(2026, 1, d) for d in (10, 12, 13, 20)]
    await sql(
        db, "UPDATE showtimes SET movie_id = :m WHERE id = :s", m=other_movie, s=place.showtime
    )
    assert await stale_days(db) == [date(2026, 1, d) for d in (10, 12, 13, 14, 20)]

    expected_days = [
        ("2026-01-10", 1, 1, 2, "18.00", "0.00", "0.00", "18.00"),
        ("2026-01-13", 1, 1, 0, "10.00", "0.00", "0.00", "10.00"),
        ("2026-01-14", 1, 2, 0, "20.00", "0.00", "0.00", "20.00"),
        ("2026-01-20", 0, 0, 0, "0.00", "0.00", "20.00", "-20.00"),
    ]
    for rolled in (False, True):
        if rolled:
            assert await roll_up(db) == 5
            assert await stale_days(db) == []
        days = await sales(gql, boss, "2026-01-01", "2026-01-31")
        assert [flat(r) for r in days["rows"]] == expected_days
        movies = await sales(gql, boss, "2026-01-01", "2026-01-31", "MOVIE")
        assert [r["label"] for r in movies["rows"]] == ["Other movie"]
        products = await sales(gql, boss, "2026-01-01", "2026-01-31", "PRODUCT")
        assert [(r["label"], *flat(r)[1:]) for r in products["rows"]] == [
            ("Popcorn", 1, 0, 2, "8.00", "0.00", "0.00", "8.00")
        ]


async def test_one_roll_up_at_a_time_and_no_change_lost(committed_db: Database) -> None:
    """A change marking a day holds the roll-up's lock shared: a roll-up then skips its
    round. A roll-up under way makes the change wait, which then marks the day it rolled."""
    db = committed_db
    place = await venue(db)
    buyer = await create_user(db)
    order = await _old_order(db, buyer.id, place.showtime, at(10))
    assert await roll_up(db) == 1

    # A transaction that changed a rolled-up day and is still open: the roll-up skips.
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE orders SET paid_at = :t WHERE id = :id"), {"t": at(11), "id": order}
        )
        assert await roll_up_once(db) is None
    assert await stale_days(db) == [date(2026, 1, 10), date(2026, 1, 11)]
    assert await roll_up(db) == 2

    # A roll-up under way: the change waits for it, then marks the day stale.
    async with db.transaction() as rolling:
        await rolling.execute(text("SELECT marquee_roll_up_sales()"))
        change = asyncio.create_task(
            sql(db, "UPDATE orders SET paid_at = :t WHERE id = :id", t=at(12), id=order)
        )
        await asyncio.sleep(0.3)
        assert not change.done()
    await change
    assert await stale_days(db) == [date(2026, 1, 11), date(2026, 1, 12)]


async def _old_order(db: Database, user: int, showtime: int, paid_at: datetime) -> int:
    """A PAID order inserted directly, as an import would write it."""
    pk: int = await sql(
        db,
        "INSERT INTO orders (number, user_id, showtime_id, status, currency, subtotal,"
        " total, ticket_count, expires_at, paid_at)"
        " VALUES ('IMPORT-1', :u, :s, 'PAID', 'EUR', 10, 10, 1, :t, :t) RETURNING id",
        u=user,
        s=showtime,
        t=paid_at,
    )
    return pk


async def test_the_roll_up_is_a_periodic_job_started_by_the_setting(db: Database) -> None:
    assert Settings().sales_rollup_interval_seconds == 60
    off = SimpleNamespace(settings=Settings(sales_rollup_interval_seconds=0), db=db)
    stop = await start_sales_rollup(off)
    await asyncio.sleep(0.2)
    await stop()
    assert await through(db) is None  # 0: no roll-up in this process

    on = SimpleNamespace(settings=Settings(sales_rollup_interval_seconds=0.05), db=db)
    stop = await start_sales_rollup(on)
    try:
        for _ in range(100):
            if await through(db) is not None:
                break
            await asyncio.sleep(0.05)
    finally:
        await stop()
    assert await through(db) == datetime.now(UTC).date() - timedelta(days=3)
