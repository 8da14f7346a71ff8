"""Every path that changes a showtime's seats announces through the one SQL function
`marquee_announce_seats` (migration 0006_seat_announcer): hold, replace, release, sweep,
showtime cancellation and layout change send payloads of one shape, with a sequence that
grows by one per change, the right available count and the right seat statuses."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from db.booking import actions
from db.booking.codes import SEAT_CHANNEL
from db.booking.models import SeatHold, SeatOccupancy
from db.cinemas import actions as cinema_actions
from db.cinemas.layout import SeatSpec
from db.listen import asyncpg_connector
from db.orders import actions as order_actions
from db.session import Database
from db.showtimes import actions as showtime_actions
from db.showtimes import queries as showtime_queries
from db.showtimes.models import Showtime
from tests.booking.test_actions import LIMITS
from tests.factories import create_bookable_showtime, create_user


async def next_event(queue: asyncio.Queue[dict[str, Any]]) -> dict[str, Any]:
    return await asyncio.wait_for(queue.get(), 5)


async def test_every_path_announces_alike(committed_db: Database) -> None:
    db = committed_db
    show = await create_bookable_showtime(db, rows=2, seats_per_row=5)
    other = await create_bookable_showtime(db, rows=1, seats_per_row=3)
    s = show.seat_ids
    total = len(s)
    alice, bob, carol, dave = [await create_user(db) for _ in range(4)]
    conn = await asyncpg_connector(db.engine.url.render_as_string(hide_password=False))()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await conn.add_listener(SEAT_CHANNEL, lambda *a: queue.put_nowait(orjson.loads(a[3])))
    got: list[tuple[str, dict[str, Any]]] = []
    try:
        # Hold: one statement on an autocommit connection (what the mutation does).
        await actions.hold_seats(
            db, user_id=alice.id, showtime_id=show.id, seat_ids=[s[1], s[0]], **LIMITS
        )
        got.append(("hold", await next_event(queue)))
        # Replace: s[0] released, s[2] added, s[1] kept (not listed).
        await actions.hold_seats(
            db, user_id=alice.id, showtime_id=show.id, seat_ids=[s[1], s[2]], **LIMITS
        )
        got.append(("replace", await next_event(queue)))
        # A hold inside a session transaction, on another showtime too (its own sequence).
        async with db.transaction() as session:
            bobs = await actions.hold_seats(
                session, user_id=bob.id, showtime_id=show.id, seat_ids=[s[3], s[4]], **LIMITS
            )
        got.append(("hold in a session", await next_event(queue)))
        await actions.hold_seats(
            db, user_id=bob.id, showtime_id=other.id, seat_ids=[other.seat_ids[0]], **LIMITS
        )
        got.append(("hold elsewhere", await next_event(queue)))
        # Release.
        async with db.transaction() as session:
            await actions.release_hold(session, user_id=bob.id, hold_id=bobs.id)
        got.append(("release", await next_event(queue)))
        # Sweep of an expired hold.
        await actions.hold_seats(
            db, user_id=carol.id, showtime_id=show.id, seat_ids=[s[5]], **LIMITS
        )
        got.append(("hold to expire", await next_event(queue)))
        past = func.now() - text("interval '1 second'")
        async with db.transaction() as session:
            await session.execute(
                update(SeatOccupancy).where(SeatOccupancy.seat_id == s[5]).values(expires_at=past)
            )
            await session.execute(
                update(SeatHold).where(SeatHold.user_id == carol.id).values(expires_at=past)
            )
        async with db.transaction() as session:
            assert await actions.sweep_expired_holds(session) == {show.id: [s[5]]}
        got.append(("sweep", await next_event(queue)))
        # Layout change: the last seat (row B, 9 seats left) goes, and dave's hold on it.
        await actions.hold_seats(
            db, user_id=dave.id, showtime_id=show.id, seat_ids=[s[9]], **LIMITS
        )
        got.append(("hold a seat to remove", await next_event(queue)))
        layout = [SeatSpec(chr(ord("A") + r), n + 1, n, r) for r in range(2) for n in range(5)][:-1]
        async with db.transaction() as session:
            await cinema_actions.update_hall_layout(session, show.hall_id, layout)
        got.append(("layout change", await next_event(queue)))
        # Showtime cancellation releases alice's seats.
        async with db.transaction() as session:
            assert await showtime_actions.cancel_showtime(session, show.id) is True
        async with db.transaction() as session:
            released = await order_actions.release_cancelled_showtime(session, show.id)
            assert released.released_seats == [s[1], s[2]]
        got.append(("cancel", await next_event(queue)))
        await asyncio.sleep(0.2)
        assert queue.empty()
    finally:
        await conn.close()

    def event(showtime: int, q: int, a: int, changes: list[list[Any]]) -> dict[str, Any]:
        return {"s": showtime, "q": q, "a": a, "c": changes}

    assert got == [
        ("hold", event(show.id, 1, total - 2, [[s[0], "H"], [s[1], "H"]])),
        ("replace", event(show.id, 2, total - 2, [[s[0], "A"], [s[2], "H"]])),
        ("hold in a session", event(show.id, 3, total - 4, [[s[3], "H"], [s[4], "H"]])),
        ("hold elsewhere", event(other.id, 1, 2, [[other.seat_ids[0], "H"]])),
        ("release", event(show.id, 4, total - 2, [[s[3], "A"], [s[4], "A"]])),
        ("hold to expire", event(show.id, 5, total - 3, [[s[5], "H"]])),
        ("sweep", event(show.id, 6, total - 2, [[s[5], "A"]])),
        ("hold a seat to remove", event(show.id, 7, total - 3, [[s[9], "H"]])),
        # The removed seat is gone from the hall, so it is in no list: only the count.
        ("layout change", event(show.id, 8, total - 1 - 2, [])),
        ("cancel", event(show.id, 9, total - 1, [[s[1], "A"], [s[2], "A"]])),
    ]
    # One shape for all: the same keys, in the same order, and the same JSON types.
    shapes = {(tuple(e), tuple(type(v).__name__ for v in e.values())) for _, e in got}
    assert shapes == {(("s", "q", "a", "c"), ("int", "int", "int", "list"))}
    # One step per change per showtime, and the stored sequence agrees.
    for showtime in (show.id, other.id):
        seqs = [e["q"] for _, e in got if e["s"] == showtime]
        assert seqs == list(range(1, len(seqs) + 1))
        stored = await db.scalar(select(Showtime.seat_sequence).where(Showtime.id == showtime))
        assert stored == seqs[-1]


async def test_announcer_checks_its_input(committed_db: Database) -> None:
    """A status the payload has no letter for is refused, and so is a cancelled showtime
    when the caller requires SCHEDULED: nothing is bumped."""
    db = committed_db
    show = await create_bookable_showtime(db, status="CANCELLED")
    async with db.transaction() as session:
        seq = await actions.announce_seat_changes(
            session, show.id, {show.seat_ids[0]: "AVAILABLE"}, require_scheduled=True
        )
        assert seq is None
        assert await actions.announce_seat_changes(session, show.id + 1000, {}) is None
    conn = await asyncpg_connector(db.engine.url.render_as_string(hide_password=False))()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await conn.add_listener(SEAT_CHANNEL, lambda *a: queue.put_nowait(orjson.loads(a[3])))
    try:
        with pytest.raises(DBAPIError, match="unknown seat status"):
            async with db.transaction() as session:
                await actions.announce_seat_changes(
                    session, show.id, {show.seat_ids[0]: "GONE", show.seat_ids[1]: "SOLD"}
                )
        stored = await db.scalar(select(Showtime.seat_sequence).where(Showtime.id == show.id))
        assert stored == 0
        # Nothing was sent either (since 0034 the check follows the NOTIFY in one statement,
        # and the error rolls it back): the first event is the next good announcement's.
        async with db.transaction() as session:
            await actions.announce_seat_changes(session, show.id, {show.seat_ids[1]: "SOLD"})
        first = await asyncio.wait_for(queue.get(), 5)
        assert (first["q"], first["c"]) == (1, [[show.seat_ids[1], "S"]])
    finally:
        await conn.close()


async def test_announced_count_agrees_with_the_seats(committed_db: Database) -> None:
    """The announced count (migration 0025_announce_count: the hall's stored layout less
    the live occupancies) agrees with a count over every seat (`available_seat_counts`)
    through blocked seats, a sold seat blocked afterwards, an expired hold not swept yet
    and a hold on another showtime of the same hall."""
    db = committed_db
    show = await create_bookable_showtime(db, rows=2, seats_per_row=5, blocked=(7,))
    s = show.seat_ids
    async with db.transaction() as session:
        twin = await session.scalar(
            text(
                "INSERT INTO showtimes (movie_id, hall_id, starts_at, ends_at, format,"
                " language, sales_open_at) SELECT movie_id, hall_id, starts_at + interval"
                " '1 day', ends_at + interval '1 day', format, language, sales_open_at"
                " FROM showtimes WHERE id = :id RETURNING id"
            ),
            {"id": show.id},
        )
    users = [await create_user(db) for _ in range(5)]
    conn = await asyncpg_connector(db.engine.url.render_as_string(hide_password=False))()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await conn.add_listener(SEAT_CHANNEL, lambda *a: queue.put_nowait(orjson.loads(a[3])))

    async def counted(user: int, showtime: int, seats: list[int]) -> None:
        await actions.hold_seats(db, user_id=user, showtime_id=showtime, seat_ids=seats, **LIMITS)
        announced = (await next_event(queue))["a"]
        counts = {r[0]: r[1] for r in await showtime_queries.available_seat_counts(db, [showtime])}
        assert announced == counts[showtime]
        got.append(announced)

    got: list[int] = []
    try:
        await counted(users[0].id, show.id, [s[0], s[1]])  # 10 - 1 blocked - 2 held
        # s[0] sold, then blocked: neither available nor counted twice.
        async with db.transaction() as session:
            await session.execute(
                update(SeatOccupancy)
                .where(SeatOccupancy.seat_id == s[0])
                .values(status="SOLD", expires_at=None)
            )
            await session.execute(
                text("UPDATE seats SET is_blocked = true WHERE id = :id"), {"id": s[0]}
            )
        await counted(users[1].id, show.id, [s[2]])
        # s[2]'s hold expires without a sweep: available again at once.
        async with db.transaction() as session:
            past = func.now() - text("interval '1 second'")
            await session.execute(
                update(SeatOccupancy).where(SeatOccupancy.seat_id == s[2]).values(expires_at=past)
            )
        await counted(users[2].id, show.id, [s[3]])
        # A hold on the other showtime of the hall takes nothing from this one.
        await counted(users[3].id, twin, [s[4], s[5]])
        await counted(users[4].id, show.id, [s[6]])
    finally:
        await conn.close()
    assert got == [7, 6, 6, 6, 5]
