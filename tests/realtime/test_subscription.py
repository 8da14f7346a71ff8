"""seatAvailability over a real WebSocket: snapshot, deltas, rollback, expiry, anonymity."""

from __future__ import annotations

import pytest

from db.booking import actions
from db.session import Database
from graph.relay import to_global_id
from tests.factories import create_bookable_showtime, create_user
from tests.realtime.conftest import Live
from tests.realtime.harness import WsClient, seat_events


def gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


async def test_snapshot_then_delta(live: Live, committed_db: Database) -> None:
    show = await create_bookable_showtime(committed_db, rows=2, seats_per_row=5)
    alice, bob = await create_user(committed_db), await create_user(committed_db)
    s = show.seat_ids
    await live.hold(live.token_for(alice), show.id, [s[0]])
    async with WsClient.connect(live.url) as ws:  # anonymous
        op = await seat_events(ws, gid("Showtime", show.id))
        snap = (await ws.next(op))["seatAvailability"]
        assert snap["snapshot"] is True
        assert snap["sequence"] == 1
        assert snap["showtimeId"] == gid("Showtime", show.id)
        assert len(snap["seats"]) == 10
        statuses = {x["seatId"]: x["status"] for x in snap["seats"]}
        assert statuses[gid("Seat", s[0])] == "HELD"
        assert snap["availableSeatCount"] == 9

        await live.hold(live.token_for(bob), show.id, [s[3], s[4]])
        delta = (await ws.next(op))["seatAvailability"]
        assert delta == {
            "showtimeId": gid("Showtime", show.id),
            "sequence": 2,
            "snapshot": False,
            "availableSeatCount": 7,
            "seats": [
                {"seatId": gid("Seat", s[3]), "status": "HELD"},
                {"seatId": gid("Seat", s[4]), "status": "HELD"},
            ],
        }
        # Bob changes his mind: one seat released, one added, in one event.
        await live.hold(live.token_for(bob), show.id, [s[4], s[5]])
        delta = (await ws.next(op))["seatAvailability"]
        assert delta["sequence"] == 3
        assert {(x["seatId"], x["status"]) for x in delta["seats"]} == {
            (gid("Seat", s[3]), "AVAILABLE"),
            (gid("Seat", s[5]), "HELD"),
        }


async def test_rolled_back_change_sends_nothing(live: Live, committed_db: Database) -> None:
    show = await create_bookable_showtime(committed_db)
    alice = await create_user(committed_db)
    async with WsClient.connect(live.url, token=live.token_for(alice)) as ws:
        op = await seat_events(ws, gid("Showtime", show.id))
        assert (await ws.next(op))["seatAvailability"]["sequence"] == 0

        class Boom(Exception):
            pass

        async def hold_then_fail() -> None:
            async with committed_db.transaction() as session:
                await actions.hold_seats(
                    session,
                    user_id=alice.id,
                    showtime_id=show.id,
                    seat_ids=[show.seat_ids[0]],
                    ttl_seconds=600,
                    max_seats=10,
                    sales_window_days=30,
                )
                raise Boom

        with pytest.raises(Boom):
            await hold_then_fail()
        await ws.nothing(op, 0.5)
        # A failed hold (a taken seat) announces nothing either.
        await live.hold(live.token_for(alice), show.id, [show.seat_ids[1]])
        assert (await ws.next(op))["seatAvailability"]["sequence"] == 1
        bob = await create_user(committed_db)
        failed = await live.hold(live.token_for(bob), show.id, [show.seat_ids[1]])
        assert failed["errors"][0]["code"] == "SEAT_UNAVAILABLE"
        await ws.nothing(op, 0.5)


async def test_unknown_showtime_is_bad_input(live: Live) -> None:
    async with WsClient.connect(live.url) as ws:
        op = await seat_events(ws, gid("Showtime", 999_999))
        msg = await ws.message(op)
        errors = msg["payload"] if msg["type"] == "error" else msg["payload"]["errors"]
        assert errors[0]["message"] == "No such showtime.", msg
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", msg
