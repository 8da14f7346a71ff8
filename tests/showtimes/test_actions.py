"""Showtime and layout actions without GraphQL: DST-correct end times, releases on layout
changes, node(id) for every type of the domain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

from db.booking.models import SeatHold, SeatOccupancy
from db.cinemas import actions as cinema_actions
from db.cinemas.layout import RowSpec, expand_rows
from db.cinemas.models import Seat
from db.errors import Validator
from db.session import Database
from db.showtimes import actions
from db.showtimes.models import Showtime
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import create_cinema, create_hall, create_movie, create_showtime, create_user


async def test_end_time_is_right_across_a_dst_change(db: Database) -> None:
    hall = await create_hall(db, await create_cinema(db), cleaning_minutes=15)
    movie = await create_movie(db, duration_minutes=105)
    paris = ZoneInfo("Europe/Paris")
    # Clocks go forward at 02:00 on 2030-03-31 in Paris.
    start = datetime(2030, 3, 31, 1, 30, tzinfo=paris)
    async with db.transaction() as session:
        pk = await actions.create_showtime(
            session,
            movie_id=movie,
            hall_id=hall,
            starts_at=start,
            format="2D",
            language="en",
            subtitles=None,
            prices=[actions.PriceSpec("STANDARD", Decimal("9"), "EUR")],
            now=datetime(2030, 1, 1, tzinfo=UTC),
        )
    row = await db.fetch_one(select(Showtime.starts_at, Showtime.ends_at).where(Showtime.id == pk))
    assert row is not None
    assert row.ends_at - row.starts_at == timedelta(minutes=120)
    assert row.ends_at.astimezone(paris).hour == 4  # 01:30 CET + 2 h = 04:30 CEST


async def test_layout_change_releases_holds_on_removed_seats(db: Database) -> None:
    hall = await create_hall(db, await create_cinema(db), rows=(("A", 3, "STANDARD"),))
    show = await create_showtime(db, movie_id=await create_movie(db), hall_id=hall)
    user = await create_user(db)
    seat_a3 = await db.scalar(select(Seat.id).where(Seat.hall_id == hall, Seat.number == 3))
    expires = datetime.now(UTC) + timedelta(minutes=5)
    async with db.transaction() as session:
        hold = await session.scalar(
            insert(SeatHold)
            .values(user_id=user.id, showtime_id=show, expires_at=expires)
            .returning(SeatHold.id)
        )
        await session.execute(
            insert(SeatOccupancy).values(
                showtime_id=show, seat_id=seat_a3, hold_id=hold, status="HELD", expires_at=expires
            )
        )
    v = Validator()
    seats = expand_rows([RowSpec("A", 2)], v)
    async with db.transaction() as session:
        await cinema_actions.update_hall_layout(session, hall, seats, validator=v)
    assert await db.scalar(select(func.count()).select_from(SeatOccupancy)) == 0
    assert await db.scalar(select(func.count()).select_from(Seat).where(Seat.hall_id == hall)) == 2
    assert await db.scalar(select(Showtime.seat_sequence).where(Showtime.id == show)) == 1


NODES = """
query ($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename
    ... on Cinema { name }
    ... on Hall { name }
    ... on Seat { rowLabel number hall { name } }
    ... on Showtime { language hall { name } }
  }
}
"""


async def test_nodes(gql: GraphQLClient, db: Database) -> None:
    cinema = await create_cinema(db, name="Rex")
    hall = await create_hall(db, cinema, name="One", rows=(("A", 1, "STANDARD"),))
    show = await create_showtime(db, movie_id=await create_movie(db), hall_id=hall)
    seat = await db.scalar(select(Seat.id).where(Seat.hall_id == hall))
    ids = [
        to_global_id("Cinema", cinema),
        to_global_id("Hall", hall),
        to_global_id("Seat", seat),
        to_global_id("Showtime", show),
        to_global_id("Showtime", 999999),
    ]
    data = await gql.execute(NODES, {"ids": ids})
    assert data["nodes"] == [
        {"__typename": "Cinema", "name": "Rex"},
        {"__typename": "Hall", "name": "One"},
        {"__typename": "Seat", "rowLabel": "A", "number": 1, "hall": {"name": "One"}},
        {"__typename": "Showtime", "language": "en", "hall": {"name": "One"}},
        None,
    ]
