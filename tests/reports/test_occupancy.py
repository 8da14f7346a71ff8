"""Showtime.occupancy (staff only, batched) and occupancyReport (one statement, best filled
first), through the real app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from db.session import Database, capture_statements
from tests.conftest import GraphQLClient
from tests.factories import create_bookable_showtime, create_user
from tests.orders.flows import buy, checkout, gid, hold
from tests.reports.setup import sql, venue

OCCUPANCY = """
query ($id: ID!) {
  showtime(id: $id) { occupancy { capacity sold held available ratio } }
}
"""
SHOWTIMES = """
query ($first: Int) {
  showtimes(first: $first) {
    edges { node { startsAt occupancy { capacity sold held available ratio } } }
  }
}
"""
REPORT = """
query ($input: OccupancyReportInput!) {
  occupancyReport(input: $input) {
    from to truncated
    rows { showtime { id startsAt occupancy { sold } } movieTitle cinemaId cinemaName
      startsAt capacity sold held available ratio }
  }
}
"""


def days_around_tomorrow() -> tuple[str, str]:
    """Today to the day after tomorrow (UTC): tomorrow's showtimes, in any cinema's zone."""
    today = datetime.now(UTC).date()
    return today.isoformat(), (today + timedelta(days=2)).isoformat()


async def test_occupancy_of_a_showtime(gql: GraphQLClient, db: Database) -> None:
    # 10 seats, two blocked; one of them sold before it was blocked.
    show = await create_bookable_showtime(db, starts_in=timedelta(hours=30), blocked=(8,))
    buyer = await create_user(db)
    token = gql.token_for(buyer)
    await buy(gql, token, show.id, [*show.seat_ids[:3], show.seat_ids[9]])
    await sql(db, "UPDATE seats SET is_blocked = true WHERE id = :s", s=show.seat_ids[9])
    other = gql.token_for(await create_user(db))
    await checkout(gql, other, await hold(gql, other, show.id, show.seat_ids[3:5]))  # pending
    third = gql.token_for(await create_user(db))
    await hold(gql, third, show.id, show.seat_ids[5:6])  # a live hold
    manager = gql.token_for(await create_user(db, role="MANAGER"))

    data = await gql.execute(OCCUPANCY, {"id": gid("Showtime", show.id)}, token=manager)
    assert data["showtime"]["occupancy"] == {
        # 10 seats - seat 8 (blocked, free); seat 9 is blocked but sold, so it counts.
        "capacity": 9,
        "sold": 4,
        "held": 3,
        "available": 2,
        "ratio": 4 / 9,
    }
    # Expired holds are available again, as on the seat map.
    await sql(
        db,
        "UPDATE seat_occupancy SET expires_at = now() - interval '1 minute'"
        " WHERE status = 'HELD' AND hold_id IS NOT NULL",
    )
    data = await gql.execute(OCCUPANCY, {"id": gid("Showtime", show.id)}, token=manager)
    assert (data["showtime"]["occupancy"]["held"], data["showtime"]["occupancy"]["available"]) == (
        2,
        3,
    )
    for who in (None, token):
        data = await gql.execute(OCCUPANCY, {"id": gid("Showtime", show.id)}, token=who)
        assert data["showtime"]["occupancy"] is None


async def _count(gql: GraphQLClient, token: str, first: int) -> tuple[int, int, list[str]]:
    with capture_statements() as log:
        data = await gql.execute(SHOWTIMES, {"first": first}, token=token)
    edges = data["showtimes"]["edges"]
    assert all(e["node"]["occupancy"] is not None for e in edges)
    return len(log), len(edges), list(log)


async def test_occupancy_is_batched(gql: GraphQLClient, db: Database) -> None:
    for _ in range(12):
        await venue(db)
    manager = gql.token_for(await create_user(db, role="ADMIN"))
    await _count(gql, manager, 2)  # warm
    small, n_small, _ = await _count(gql, manager, 2)
    large, n_large, log = await _count(gql, manager, 12)
    assert (n_small, n_large) == (2, 12)
    # viewer, count, page, occupancy: the same for 2 showtimes or 12
    assert small == large, "\n\n".join(log)
    assert sum("seat_occupancy" in s for s in log) == 1, "\n\n".join(log)


async def test_occupancy_report(gql: GraphQLClient, db: Database) -> None:
    empty = await venue(db, cinema_name="Empty", movie_title="Nobody")
    half = await venue(db, cinema_name="Half", movie_title="Some", seats_per_row=2)
    full = await venue(db, cinema_name="Full", movie_title="Hit", seats_per_row=1)
    buyer = gql.token_for(await create_user(db))
    await buy(gql, buyer, full.showtime, full.seats)
    await buy(gql, buyer, half.showtime, half.seats[:2])
    manager = gql.token_for(await create_user(db, role="MANAGER"))
    first, last = days_around_tomorrow()
    variables: dict[str, Any] = {"input": {"from": first, "to": last}}

    with capture_statements() as log:
        data = await gql.execute(REPORT, variables, token=manager)
    out = data["occupancyReport"]
    # viewer + the report; the showtimes and their occupancy come with it.
    assert len(log) == 2, "\n\n".join(log)
    assert (out["from"], out["to"], out["truncated"]) == (first, last, False)
    rows = out["rows"]
    assert [
        (r["movieTitle"], r["cinemaName"], r["capacity"], r["sold"], r["ratio"]) for r in rows
    ] == [
        ("Hit", "Full", 2, 2, 1.0),
        ("Some", "Half", 4, 2, 0.5),
        ("Nobody", "Empty", 10, 0, 0.0),
    ]
    assert rows[0]["showtime"]["id"] == gid("Showtime", full.showtime)
    assert rows[0]["showtime"]["occupancy"] == {"sold": 2}
    assert rows[0]["cinemaId"] == gid("Cinema", full.cinema)
    assert rows[0]["startsAt"] == rows[0]["showtime"]["startsAt"]
    assert rows[2]["available"] == 10

    one = await gql.execute(
        REPORT,
        {"input": {"from": first, "to": last, "cinemaId": gid("Cinema", half.cinema)}},
        token=manager,
    )
    assert [r["cinemaName"] for r in one["occupancyReport"]["rows"]] == ["Half"]
    before = await gql.execute(
        REPORT, {"input": {"from": "2020-01-01", "to": "2020-01-31"}}, token=manager
    )
    assert before["occupancyReport"]["rows"] == []
    assert empty.cinema != half.cinema


async def test_occupancy_report_access_and_errors(gql: GraphQLClient, db: Database) -> None:
    variables = {"input": {"from": "2026-01-01", "to": "2026-01-31"}}
    anonymous = await gql.raw(REPORT, variables)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    customer = gql.token_for(await create_user(db))
    assert (await gql.raw(REPORT, variables, customer))["errors"][0]["extensions"][
        "code"
    ] == "FORBIDDEN"
    manager = gql.token_for(await create_user(db, role="MANAGER"))
    for given, field in [
        ({"from": "2026-01-31", "to": "2026-01-01"}, "to"),
        ({"from": "2026-01-01", "to": "2027-01-31"}, "to"),
        ({"from": "2026-01-01", "to": "2026-01-02", "cinemaId": gid("Cinema", 10**9)}, "cinemaId"),
    ]:
        body = await gql.raw(REPORT, {"input": given}, manager)
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
