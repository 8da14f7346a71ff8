"""100 clients race for overlapping seats through the real app, with real commits."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

from sqlalchemy import insert, select

from db.accounts.models import User
from db.booking.models import SeatHold, SeatOccupancy
from db.session import Database
from db.showtimes.models import Showtime
from graph.relay import parse_global_id, to_global_id
from tests.conftest import GraphQLClient
from tests.factories import create_bookable_showtime

HOLD = """
mutation ($input: HoldSeatsInput!) {
  holdSeats(input: $input) { hold { id seats { id } } errors { code message field seatIds } }
}
"""
CLIENTS = 100


async def make_users(db: Database, n: int) -> list[Any]:
    """Users without the password hashing (irrelevant here, and slow)."""
    async with db.transaction() as session:
        rows = (
            await session.execute(
                insert(User)
                .values(
                    [
                        {
                            "username": f"racer{i}",
                            "email": f"racer{i}@example.com",
                            "password_hash": "-",
                        }
                        for i in range(n)
                    ]
                )
                .returning(User.id, User.role)
            )
        ).all()
    return list(rows)


async def test_hundred_clients_never_double_book(
    committed_gql: GraphQLClient, committed_db: Database
) -> None:
    show = await create_bookable_showtime(committed_db, rows=3, seats_per_row=10)
    users = await make_users(committed_db, CLIENTS)
    rng = random.Random(5)
    contested = show.seat_ids[:20]
    wanted = [rng.sample(contested, rng.randint(1, 4)) for _ in range(CLIENTS)]

    async def attempt(user: Any, seats: list[int]) -> dict[str, Any]:
        variables = {
            "input": {
                "showtimeId": to_global_id("Showtime", show.id),
                "seatIds": [to_global_id("Seat", s) for s in seats],
            }
        }
        data = await committed_gql.execute(HOLD, variables, token=committed_gql.token_for(user))
        payload: dict[str, Any] = data["holdSeats"]
        return payload

    results = await asyncio.gather(*(attempt(u, w) for u, w in zip(users, wanted, strict=True)))

    won: list[int] = []
    for seats, payload in zip(wanted, results, strict=True):
        if payload["hold"] is not None:
            assert payload["errors"] == []
            got = sorted(parse_global_id(x["id"])[1] for x in payload["hold"]["seats"])
            assert got == sorted(seats)
            won.extend(seats)
        else:
            assert len(payload["errors"]) == 1
            error = payload["errors"][0]
            assert error["code"] == "SEAT_UNAVAILABLE", error
            named = {parse_global_id(x)[1] for x in error["seatIds"]}
            assert named
            assert named <= set(seats)
    assert won, "somebody must have won"
    counts = Counter(won)
    assert max(counts.values()) == 1, "a seat was won twice"

    rows = await committed_db.fetch(
        select(SeatOccupancy.seat_id, SeatOccupancy.hold_id).where(
            SeatOccupancy.showtime_id == show.id
        )
    )
    assert sorted(r.seat_id for r in rows) == sorted(won)
    holds = await committed_db.fetch(select(SeatHold.id).where(SeatHold.showtime_id == show.id))
    winners = sum(1 for p in results if p["hold"] is not None)
    assert len(holds) == winners
    # Every committed hold was one change of the showtime's seats.
    sequence = await committed_db.scalar(
        select(Showtime.seat_sequence).where(Showtime.id == show.id)
    )
    assert sequence == winners
    # Seats named as taken are in somebody's hold.
    for payload in results:
        for error in payload["errors"]:
            assert {parse_global_id(x)[1] for x in error["seatIds"]} <= set(won)
