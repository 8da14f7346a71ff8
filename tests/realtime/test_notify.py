"""What booking actions announce on the `seat_changes` channel, read by a raw LISTEN."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from db.booking import actions
from db.booking.codes import SEAT_CHANNEL
from db.listen import asyncpg_connector
from db.session import Database
from tests.factories import create_bookable_showtime, create_user


async def listen(db: Database) -> tuple[Any, asyncio.Queue[dict[str, Any]]]:
    conn = await asyncpg_connector(db.engine.url.render_as_string(hide_password=False))()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await conn.add_listener(SEAT_CHANNEL, lambda *a: queue.put_nowait(orjson.loads(a[3])))
    return conn, queue


async def test_payloads_and_resync_marker(committed_db: Database) -> None:
    show = await create_bookable_showtime(committed_db, rows=2, seats_per_row=5)
    user = await create_user(committed_db)
    conn, queue = await listen(committed_db)
    try:
        async with committed_db.transaction() as session:
            await actions.hold_seats(
                session,
                user_id=user.id,
                showtime_id=show.id,
                seat_ids=show.seat_ids[:2],
                ttl_seconds=600,
                max_seats=10,
                sales_window_days=30,
            )
        first = await asyncio.wait_for(queue.get(), 5)
        assert first == {
            "s": show.id,
            "q": 1,
            "a": 8,
            "c": [[show.seat_ids[0], "H"], [show.seat_ids[1], "H"]],
        }
        # A change too big for one NOTIFY (8000 bytes) is announced as a resync marker.
        async with committed_db.transaction() as session:
            await actions.announce_seat_changes(
                session, show.id, dict.fromkeys(range(10**9, 10**9 + 1000), "AVAILABLE")
            )
        marker = await asyncio.wait_for(queue.get(), 5)
        assert marker == {"s": show.id, "q": 2, "a": 8, "r": 1}
    finally:
        await conn.close()
