"""`commit_early` (what the mutations use): the announcement and COMMIT in one round trip, so
the showtime's row lock is released inside PostgreSQL. Same outcome as a normal commit."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from sqlalchemy import select, update

from db.booking import actions
from db.booking.codes import SEAT_CHANNEL
from db.booking.models import SeatOccupancy
from db.cinemas.models import Showtime
from db.errors import DomainError
from db.session import Database
from graph.realtime import asyncpg_connector
from tests.booking.test_actions import LIMITS
from tests.factories import create_bookable_showtime, create_user


async def early_hold(
    db: Database, user_id: int, showtime_id: int, seats: list[int]
) -> actions.HoldResult:
    async with db.transaction() as session:
        return await actions.hold_seats(
            session,
            user_id=user_id,
            showtime_id=showtime_id,
            seat_ids=seats,
            commit_early=True,
            **LIMITS,
        )


async def test_commits_announces_and_counts(committed_db: Database) -> None:
    db = committed_db
    show = await create_bookable_showtime(db)
    alice, bob = await create_user(db), await create_user(db)
    s = show.seat_ids
    conn = await asyncpg_connector(db.engine.url.render_as_string(hide_password=False))()
    events: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    await conn.add_listener(SEAT_CHANNEL, lambda *a: events.put_nowait(orjson.loads(a[3])))
    try:
        first = await early_hold(db, alice.id, show.id, [s[0], s[1]])
        assert first.sequence is None  # committed early: not read back
        second = await early_hold(db, alice.id, show.id, [s[1], s[2]])  # replace
        assert second.sequence is None
        with pytest.raises(DomainError):  # taken: rolled back, nothing announced
            await early_hold(db, bob.id, show.id, [s[2], s[3]])
        got = [await asyncio.wait_for(events.get(), 5) for _ in range(2)]
        assert [(e["q"], e["a"], e["c"]) for e in got] == [
            (1, len(s) - 2, [[s[0], "H"], [s[1], "H"]]),
            (2, len(s) - 2, [[s[0], "A"], [s[2], "H"]]),
        ]
        await asyncio.sleep(0.2)
        assert events.empty()
    finally:
        await conn.close()
    rows = await db.fetch(select(SeatOccupancy.seat_id).where(SeatOccupancy.showtime_id == show.id))
    assert sorted(r.seat_id for r in rows) == [s[1], s[2]]
    assert await db.scalar(select(Showtime.seat_sequence).where(Showtime.id == show.id)) == 2
    # The pooled connection is usable afterwards (no transaction left open).
    assert await early_hold(db, bob.id, show.id, [s[4]]) is not None


async def test_not_scheduled_any_more_commits_nothing(committed_db: Database) -> None:
    db = committed_db
    show = await create_bookable_showtime(db)
    s = show.seat_ids

    async def cancel_then_announce() -> None:
        async with db.transaction() as session:
            # Cancelled after the hold's checks (here: by this very transaction): the guard
            # finds no SCHEDULED row to bump and aborts before COMMIT.
            await session.execute(
                update(Showtime).where(Showtime.id == show.id).values(status="CANCELLED")
            )
            await actions.announce_and_commit(
                session, show.id, {s[0]: "HELD"}, require_scheduled=True
            )

    with pytest.raises(actions.ShowtimeNotScheduled):
        await cancel_then_announce()
    row = (
        await db.fetch(
            select(Showtime.status, Showtime.seat_sequence).where(Showtime.id == show.id)
        )
    )[0]
    assert (row.status, row.seat_sequence) == ("SCHEDULED", 0)
