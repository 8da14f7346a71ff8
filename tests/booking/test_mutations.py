"""holdSeats and releaseHold through the real schema."""

from __future__ import annotations

from typing import Any

from db.session import Database
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import create_bookable_showtime, create_user

HOLD = """
mutation ($input: HoldSeatsInput!) {
  holdSeats(input: $input) {
    hold { id expiresAt seats { id } showtime { id } }
    errors { code message field seatIds }
  }
}
"""
RELEASE = """
mutation ($input: ReleaseHoldInput!) {
  releaseHold(input: $input) { releasedHoldId errors { code field } }
}
"""


def seat(pk: int) -> str:
    return to_global_id("Seat", pk)


def showtime(pk: int) -> str:
    return to_global_id("Showtime", pk)


async def hold(gql: GraphQLClient, token: str, show: int, seats: list[int]) -> dict[str, Any]:
    data = await gql.execute(
        HOLD,
        {"input": {"showtimeId": showtime(show), "seatIds": [seat(s) for s in seats]}},
        token=token,
    )
    payload: dict[str, Any] = data["holdSeats"]
    return payload


async def test_hold_replace_release(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    alice = gql.token_for(await create_user(db))
    s = show.seat_ids
    first = await hold(gql, alice, show.id, [s[1], s[0]])
    assert first["errors"] == []
    assert [x["id"] for x in first["hold"]["seats"]] == [seat(s[0]), seat(s[1])]
    assert first["hold"]["showtime"] == {"id": showtime(show.id)}
    second = await hold(gql, alice, show.id, [s[1], s[2]])
    assert second["hold"]["id"] == first["hold"]["id"]
    assert [x["id"] for x in second["hold"]["seats"]] == [seat(s[1]), seat(s[2])]
    assert second["hold"]["expiresAt"] >= first["hold"]["expiresAt"]
    released = await gql.execute(RELEASE, {"input": {"holdId": second["hold"]["id"]}}, token=alice)
    assert released["releaseHold"] == {"releasedHoldId": second["hold"]["id"], "errors": []}
    again = await gql.execute(RELEASE, {"input": {"holdId": second["hold"]["id"]}}, token=alice)
    assert again["releaseHold"]["errors"] == [{"code": "NOT_FOUND", "field": "holdId"}]


async def test_taken_seats_are_named(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    alice = gql.token_for(await create_user(db))
    bob = gql.token_for(await create_user(db))
    s = show.seat_ids
    await hold(gql, alice, show.id, [s[0], s[1]])
    payload = await hold(gql, bob, show.id, [s[1], s[2], s[0]])
    assert payload["hold"] is None
    assert payload["errors"] == [
        {
            "code": "SEAT_UNAVAILABLE",
            "message": "These seats are already taken.",
            "field": "seatIds",
            "seatIds": [seat(s[0]), seat(s[1])],
        }
    ]


async def test_someone_elses_hold_cannot_be_released(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    alice = gql.token_for(await create_user(db))
    bob = gql.token_for(await create_user(db))
    h = await hold(gql, alice, show.id, [show.seat_ids[0]])
    data = await gql.execute(RELEASE, {"input": {"holdId": h["hold"]["id"]}}, token=bob)
    assert data["releaseHold"]["errors"] == [{"code": "NOT_FOUND", "field": "holdId"}]


async def test_bad_ids_and_limits(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db, rows=3, seats_per_row=5)
    alice = gql.token_for(await create_user(db))
    bad = await gql.execute(
        HOLD,
        {
            "input": {
                "showtimeId": showtime(show.id),
                "seatIds": ["nonsense", seat(show.seat_ids[0])],
            }
        },
        token=alice,
    )
    assert bad["holdSeats"]["errors"][0]["code"] == "VALIDATION_ERROR"
    assert bad["holdSeats"]["errors"][0]["seatIds"] == ["nonsense"]
    too_many = await hold(gql, alice, show.id, show.seat_ids[:11])
    assert too_many["errors"][0]["code"] == "HOLD_LIMIT_EXCEEDED"
    wrong_showtime = await gql.execute(
        HOLD,
        {"input": {"showtimeId": seat(1), "seatIds": [seat(show.seat_ids[0])]}},
        token=alice,
    )
    assert wrong_showtime["holdSeats"]["errors"][0]["field"] == "showtimeId"


async def test_not_bookable_and_anonymous(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db, status="CANCELLED")
    alice = gql.token_for(await create_user(db))
    payload = await hold(gql, alice, show.id, [show.seat_ids[0]])
    assert payload["errors"][0]["code"] == "SHOWTIME_NOT_BOOKABLE"
    body = await gql.raw(
        HOLD, {"input": {"showtimeId": showtime(show.id), "seatIds": [seat(show.seat_ids[0])]}}
    )
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_hold_is_a_node_for_its_owner_only(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    alice = gql.token_for(await create_user(db))
    bob = gql.token_for(await create_user(db))
    h = await hold(gql, alice, show.id, [show.seat_ids[0]])
    query = "query ($id: ID!) { node(id: $id) { ... on SeatHold { id seats { id } } } }"
    mine = await gql.execute(query, {"id": h["hold"]["id"]}, token=alice)
    assert mine["node"] == {"id": h["hold"]["id"], "seats": [{"id": seat(show.seat_ids[0])}]}
    theirs = await gql.execute(query, {"id": h["hold"]["id"]}, token=bob)
    assert theirs["node"] is None


async def test_my_hold(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    alice = gql.token_for(await create_user(db))
    bob = gql.token_for(await create_user(db))
    query = "query ($id: ID!) { myHold(showtimeId: $id) { id seats { id } } }"
    assert (await gql.execute(query, {"id": showtime(show.id)}, token=alice))["myHold"] is None
    h = await hold(gql, alice, show.id, [show.seat_ids[2]])
    mine = await gql.execute(query, {"id": showtime(show.id)}, token=alice)
    assert mine["myHold"] == {"id": h["hold"]["id"], "seats": [{"id": seat(show.seat_ids[2])}]}
    assert (await gql.execute(query, {"id": showtime(show.id)}, token=bob))["myHold"] is None
    body = await gql.raw(query, {"id": showtime(show.id)})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
