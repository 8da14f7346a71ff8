"""Showtimes: scheduling rules, overlap (exclusion constraint), changes, cancel, filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update

from db.booking.models import SeatHold, SeatOccupancy
from db.cinemas.models import Hall, Seat
from db.session import Database
from db.showtimes.models import Showtime
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import create_cinema, create_hall, create_movie, create_showtime, create_user

CREATE = """
mutation ($input: CreateShowtimeInput!) {
  createShowtime(input: $input) {
    showtime {
      id startsAt endsAt format language status
      movie { title } hall { name } cinema { name }
      prices { seatType price { amount currency } }
    }
    errors { code message field }
  }
}
"""
UPDATE = """
mutation ($input: UpdateShowtimeInput!) {
  updateShowtime(input: $input) { showtime { startsAt endsAt language } errors { code field } }
}
"""
CANCEL = """
mutation ($input: CancelShowtimeInput!) {
  cancelShowtime(input: $input) { showtime { status availableSeatCount } errors { code } }
}
"""
SHOWTIMES = """
query ($filter: ShowtimeFilter, $first: Int) {
  showtimes(filter: $filter, first: $first) { totalCount edges { node { id format } } }
}
"""

PRICES = [
    {"seatType": "STANDARD", "amount": "9.50", "currency": "EUR"},
    {"seatType": "VIP", "amount": "15.00", "currency": "EUR"},
]


def at(hours: float) -> str:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    return (start + timedelta(hours=hours)).isoformat()


async def setup(db: Database) -> tuple[str, int, str, int]:
    cinema = await create_cinema(db, name="Rex")
    hall = await create_hall(
        db, cinema, rows=(("A", 4, "STANDARD"), ("B", 4, "VIP")), cleaning_minutes=20, name="One"
    )
    movie = await create_movie(db, title="Dune", duration_minutes=155)
    return to_global_id("Hall", hall), hall, to_global_id("Movie", movie), movie


async def create(gql: GraphQLClient, token: str, **input: Any) -> dict[str, Any]:
    data = await gql.execute(CREATE, {"input": input}, token=token)
    payload: dict[str, Any] = data["createShowtime"]
    return payload


async def count(db: Database) -> int:
    return int(await db.scalar(select(func.count()).select_from(Showtime)))


async def test_create_showtime(gql: GraphQLClient, db: Database) -> None:
    token = gql.token_for(await create_user(db, role="MANAGER"))
    hall, _, movie, _ = await setup(db)
    payload = await create(
        gql, token, movieId=movie, hallId=hall, startsAt=at(0), language="en", prices=PRICES
    )
    assert payload["errors"] == []
    show = payload["showtime"]
    starts = datetime.fromisoformat(show["startsAt"])
    ends = datetime.fromisoformat(show["endsAt"])
    assert ends - starts == timedelta(minutes=155 + 20)
    assert show["movie"] == {"title": "Dune"}
    assert show["hall"] == {"name": "One"}
    assert show["cinema"] == {"name": "Rex"}
    assert show["status"] == "SCHEDULED"
    assert show["prices"] == [
        {"seatType": "STANDARD", "price": {"amount": "9.50", "currency": "EUR"}},
        {"seatType": "VIP", "price": {"amount": "15.00", "currency": "EUR"}},
    ]


async def test_bad_showtimes_are_coded_and_write_nothing(gql: GraphQLClient, db: Database) -> None:
    token = gql.token_for(await create_user(db, role="MANAGER"))
    hall, hall_pk, movie, _ = await setup(db)
    base = {"movieId": movie, "hallId": hall, "startsAt": at(0), "language": "en", "prices": PRICES}
    cases: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
        ({"prices": PRICES[:1]}, [("PRICE_MISSING", "prices")]),
        ({"startsAt": at(-24 * 3)}, [("SHOWTIME_IN_PAST", "startsAt")]),
        ({"format": "8K"}, [("VALIDATION_ERROR", "format")]),
        (
            {"prices": [*PRICES, {"seatType": "VIP", "amount": "-1", "currency": "EUR"}]},
            [("VALIDATION_ERROR", "prices[2].seatType"), ("VALIDATION_ERROR", "prices[2].amount")],
        ),
        ({"movieId": to_global_id("Movie", 999999)}, [("NOT_FOUND", "movieId")]),
        ({"hallId": to_global_id("Cinema", 1)}, [("VALIDATION_ERROR", "hallId")]),
    ]
    for change, expected in cases:
        payload = await create(gql, token, **{**base, **change})
        assert payload["showtime"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == expected, change
    async with db.transaction() as session:
        await session.execute(update(Hall).where(Hall.id == hall_pk).values(is_active=False))
    payload = await create(gql, token, **base)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("HALL_INACTIVE", "hallId")]
    assert await count(db) == 0


async def test_overlap_is_refused_by_the_database(gql: GraphQLClient, db: Database) -> None:
    token = gql.token_for(await create_user(db, role="MANAGER"))
    hall, _, movie, _ = await setup(db)
    base = {"movieId": movie, "hallId": hall, "language": "en", "prices": PRICES}
    first = await create(gql, token, **base, startsAt=at(0))
    assert first["errors"] == []
    # 155 min + 20 min cleaning: 2h55 later overlaps, 3h later does not.
    overlapping = await create(gql, token, **base, startsAt=at(2.9))
    assert [(e["code"], e["field"]) for e in overlapping["errors"]] == [
        ("SHOWTIME_OVERLAP", "startsAt")
    ]
    assert await count(db) == 1
    after = await create(gql, token, **base, startsAt=at(3))
    assert after["errors"] == []
    # Moving the second one onto the first overlaps too; cancelled showtimes free the slot.
    moved = await gql.execute(
        UPDATE, {"input": {"id": after["showtime"]["id"], "startsAt": at(1)}}, token=token
    )
    assert moved["updateShowtime"]["errors"] == [{"code": "SHOWTIME_OVERLAP", "field": "startsAt"}]
    await gql.execute(CANCEL, {"input": {"id": first["showtime"]["id"]}}, token=token)
    again = await create(gql, token, **base, startsAt=at(0))
    assert again["errors"] == []


async def test_update_showtime(gql: GraphQLClient, db: Database) -> None:
    token = gql.token_for(await create_user(db, role="MANAGER"))
    hall, _, movie, _ = await setup(db)
    made = await create(
        gql, token, movieId=movie, hallId=hall, startsAt=at(0), language="en", prices=PRICES
    )
    gid = made["showtime"]["id"]
    data = await gql.execute(
        UPDATE, {"input": {"id": gid, "startsAt": at(5), "language": "fr"}}, token=token
    )
    show = data["updateShowtime"]["showtime"]
    assert show["language"] == "fr"
    assert datetime.fromisoformat(show["startsAt"]) == datetime.fromisoformat(at(5))
    assert datetime.fromisoformat(show["endsAt"]) - datetime.fromisoformat(at(5)) == timedelta(
        minutes=175
    )
    data = await gql.execute(UPDATE, {"input": {"id": gid, "prices": PRICES[1:]}}, token=token)
    assert data["updateShowtime"]["errors"] == [{"code": "PRICE_MISSING", "field": "prices"}]


async def test_cancel_releases_holds(gql: GraphQLClient, db: Database) -> None:
    token = gql.token_for(await create_user(db, role="MANAGER"))
    customer = await create_user(db)
    _, hall, _, movie = await setup(db)
    show = await create_showtime(db, movie_id=movie, hall_id=hall)
    seat_ids = list(await db.fetch(select(Seat.id).where(Seat.hall_id == hall).order_by(Seat.id)))
    async with db.transaction() as session:
        expires = datetime.now(UTC) + timedelta(minutes=10)
        hold_id = await session.scalar(
            insert(SeatHold)
            .values(user_id=customer.id, showtime_id=show, expires_at=expires)
            .returning(SeatHold.id)
        )
        await session.execute(
            insert(SeatOccupancy),
            [
                {
                    "showtime_id": show,
                    "seat_id": s.id,
                    "hold_id": hold_id,
                    "status": "HELD",
                    "expires_at": expires,
                }
                for s in seat_ids[:2]
            ],
        )
    gid = to_global_id("Showtime", show)
    data = await gql.execute(CANCEL, {"input": {"id": gid}}, token=token)
    assert data["cancelShowtime"] == {
        "showtime": {"status": "CANCELLED", "availableSeatCount": 8},
        "errors": [],
    }
    assert await db.scalar(select(func.count()).select_from(SeatOccupancy)) == 0
    assert await db.scalar(select(Showtime.seat_sequence).where(Showtime.id == show)) == 1
    # Idempotent; a cancelled showtime can't be changed.
    data = await gql.execute(CANCEL, {"input": {"id": gid}}, token=token)
    assert data["cancelShowtime"]["errors"] == []
    data = await gql.execute(UPDATE, {"input": {"id": gid, "language": "de"}}, token=token)
    assert data["updateShowtime"]["errors"] == [{"code": "SHOWTIME_CANCELLED", "field": "id"}]


async def test_showtimes_filter(gql: GraphQLClient, db: Database) -> None:
    lyon = await create_cinema(db, city="Lyon")
    paris = await create_cinema(db, city="Paris")
    lyon_hall = await create_hall(db, lyon)
    paris_hall = await create_hall(db, paris)
    dune = await create_movie(db, duration_minutes=100)
    alien = await create_movie(db, duration_minutes=100)
    soon = datetime.now(UTC) + timedelta(days=1)
    a = await create_showtime(db, movie_id=dune, hall_id=lyon_hall, starts_at=soon)
    b = await create_showtime(db, movie_id=dune, hall_id=paris_hall, starts_at=soon, format="3D")
    c = await create_showtime(
        db, movie_id=alien, hall_id=lyon_hall, starts_at=soon + timedelta(hours=3)
    )

    async def ids(filter: dict[str, Any] | None) -> list[str]:
        data = await gql.execute(SHOWTIMES, {"filter": filter})
        return [e["node"]["id"] for e in data["showtimes"]["edges"]]

    def g(*pks: int) -> list[str]:
        return [to_global_id("Showtime", pk) for pk in pks]

    assert sorted(await ids(None)) == sorted(g(a, b, c))
    assert sorted(await ids({"movieId": to_global_id("Movie", dune)})) == sorted(g(a, b))
    assert await ids({"city": "lyon"}) == g(a, c)
    assert await ids({"cinemaId": to_global_id("Cinema", paris)}) == g(b)
    assert await ids({"format": "3D"}) == g(b)
    after = (soon + timedelta(hours=1)).isoformat()
    assert await ids({"startsAfter": after}) == g(c)
    assert await ids({"startsBefore": after, "city": "Lyon"}) == g(a)
    body = await gql.raw(SHOWTIMES, {"filter": {"movieId": "nope"}})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
