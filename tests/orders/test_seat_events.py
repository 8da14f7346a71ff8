"""The sale's seat changes reach seatAvailability through the one announcer: checkout
changes nothing visible (the seats stay HELD), payment announces them SOLD, cancellation
and expiry AVAILABLE, each with the next sequence number."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from sqlalchemy import text

from db.booking.codes import SEAT_CHANNEL
from db.listen import asyncpg_connector
from db.session import Database
from graph.booking.sweeper import sweep_once
from tests.conftest import GraphQLClient
from tests.factories import create_bookable_showtime, create_user
from tests.orders.flows import CANCEL, checkout, hold, pay


async def test_sale_paths_announce(committed_gql: GraphQLClient, committed_db: Database) -> None:
    gql, db = committed_gql, committed_db
    show = await create_bookable_showtime(db, rows=2, seats_per_row=5)
    s = show.seat_ids
    token = gql.token_for(await create_user(db))
    conn = await asyncpg_connector(db.engine.url.render_as_string(hide_password=False))()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await conn.add_listener(SEAT_CHANNEL, lambda *a: queue.put_nowait(orjson.loads(a[3])))

    async def event() -> dict[str, Any]:
        return await asyncio.wait_for(queue.get(), 5)

    try:
        hold_id = await hold(gql, token, show.id, s[:2])
        held = await event()
        assert held["c"] == [[s[0], "H"], [s[1], "H"]]
        order = (await checkout(gql, token, hold_id))["order"]
        paid = await pay(gql, token, order["id"])
        assert paid["errors"] == []
        sold = await event()
        assert queue.empty()  # checkout announced nothing: the seats stayed HELD
        assert sold["c"] == [[s[0], "S"], [s[1], "S"]]
        assert sold["q"] == held["q"] + 1
        assert sold["a"] == len(s) - 2
        await gql.execute(CANCEL, {"input": {"orderId": order["id"]}}, token=token)
        refunded = await event()
        assert refunded["c"] == [[s[0], "A"], [s[1], "A"]]
        assert refunded["q"] == sold["q"] + 1
        assert refunded["a"] == len(s)
        # An order left unpaid expires: the sweeper frees and announces its seats.
        second = (await checkout(gql, token, await hold(gql, token, show.id, [s[5]])))["order"]
        await event()
        async with db.transaction() as session:
            await session.execute(
                text("UPDATE orders SET expires_at = now() - interval '1 s' WHERE number = :n"),
                {"n": second["number"]},
            )
            await session.execute(
                text(
                    "UPDATE seat_occupancy SET expires_at = now() - interval '1 s' "
                    "WHERE seat_id = :s"
                ),
                {"s": s[5]},
            )
        await sweep_once(db)
        expired = await event()
        assert expired["c"] == [[s[5], "A"]]
        assert expired["q"] == refunded["q"] + 2
    finally:
        await conn.close()


async def test_payment_takes_the_showtimes_lock_last(
    committed_gql: GraphQLClient, committed_db: Database
) -> None:
    """The showtime's row lock (its sequence, held until commit) is payOrder's last: a
    payment that has to wait for it waits with its e-mail already in the outbox, so every
    other hold or payment of the showtime waits only for its commit (0033_sale_plans; with
    the lock taken first, it waited before writing the e-mail)."""
    gql, db = committed_gql, committed_db
    show = await create_bookable_showtime(db, rows=1, seats_per_row=4)
    token = gql.token_for(await create_user(db))
    order = (await checkout(gql, token, await hold(gql, token, show.id, show.seat_ids[:1])))[
        "order"
    ]
    waiting = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE '%marquee_settle_payment%'"
    )
    held = (
        "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
        " WHERE l.pid = :pid AND l.granted"
    )
    async with db.engine.connect() as blocker:
        await blocker.execute(
            text("SELECT 1 FROM showtimes WHERE id = :id FOR NO KEY UPDATE"), {"id": show.id}
        )
        paying = asyncio.create_task(pay(gql, token, order["id"]))
        for _ in range(200):
            async with db.engine.connect() as conn:
                pids = (await conn.execute(text(waiting))).scalars().all()
                tables = (
                    set((await conn.execute(text(held), {"pid": pids[0]})).scalars())
                    if pids
                    else set()
                )
            if pids:
                break
            assert not paying.done(), paying.result()
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the payment never waited for the showtime")
        await blocker.rollback()
    paid = await paying
    assert paid["errors"] == []
    assert paid["order"]["status"] == "PAID"
    assert {"tickets", "payments", "outbox_messages"} <= tables, tables
