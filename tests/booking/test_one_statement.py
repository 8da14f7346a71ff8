"""A hold on a `Database` (what the mutation does): one statement, `marquee_hold_seats`, on
a pooled autocommit connection, so the statement is the transaction. Same outcomes as in a
session; a failure leaves nothing behind and announces nothing."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from sqlalchemy import select, text

from db.booking import actions
from db.booking.codes import SEAT_CHANNEL
from db.booking.models import SeatHold, SeatOccupancy
from db.errors import DomainError
from db.listen import asyncpg_connector
from db.session import Database
from db.showtimes.models import Showtime
from tests.booking.test_actions import LIMITS
from tests.factories import create_bookable_showtime, create_user


async def hold_now(
    db: Database, user_id: int, showtime_id: int, seats: list[int]
) -> actions.HoldResult:
    return await actions.hold_seats(
        db, user_id=user_id, showtime_id=showtime_id, seat_ids=seats, **LIMITS
    )


async def seats_of(db: Database, showtime_id: int) -> dict[int, int]:
    rows = await db.fetch(
        select(SeatOccupancy.seat_id, SeatHold.user_id)
        .join(SeatHold, SeatHold.id == SeatOccupancy.hold_id)
        .where(SeatOccupancy.showtime_id == showtime_id)
    )
    return {r.seat_id: r.user_id for r in rows}


async def test_commits_announces_and_counts(committed_db: Database) -> None:
    db = committed_db
    show = await create_bookable_showtime(db)
    alice, bob = await create_user(db), await create_user(db)
    s = show.seat_ids
    conn = await asyncpg_connector(db.engine.url.render_as_string(hide_password=False))()
    events: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    await conn.add_listener(SEAT_CHANNEL, lambda *a: events.put_nowait(orjson.loads(a[3])))
    try:
        first = await hold_now(db, alice.id, show.id, [s[1], s[0]])
        assert (first.seat_ids, first.sequence) == ([s[0], s[1]], 1)
        second = await hold_now(db, alice.id, show.id, [s[1], s[2]])  # replace
        assert (second.id, second.sequence) == (first.id, 2)
        assert second.expires_at >= first.expires_at
        # Taken: nothing of the call remains (alice's hold is untouched), nothing announced.
        with pytest.raises(DomainError) as err:
            await hold_now(db, bob.id, show.id, [s[2], s[3]])
        assert (err.value.code, err.value.details[0].extra["seat_ids"]) == (
            "SEAT_UNAVAILABLE",
            [s[2]],
        )
        await hold_now(db, bob.id, show.id, [s[3]])
        # A failed replace keeps the old hold as it was.
        with pytest.raises(DomainError):
            await hold_now(db, alice.id, show.id, [s[0], s[3]])
        got = [await asyncio.wait_for(events.get(), 5) for _ in range(3)]
        assert got == [
            {"s": show.id, "q": 1, "a": len(s) - 2, "c": [[s[0], "H"], [s[1], "H"]]},
            {"s": show.id, "q": 2, "a": len(s) - 2, "c": [[s[0], "A"], [s[2], "H"]]},
            {"s": show.id, "q": 3, "a": len(s) - 3, "c": [[s[3], "H"]]},
        ]
        await asyncio.sleep(0.2)
        assert events.empty()
    finally:
        await conn.close()
    # The same seats again only renew the expiry: no sequence step.
    renewed = await hold_now(db, alice.id, show.id, [s[2], s[1]])
    assert (renewed.id, renewed.sequence) == (first.id, None)
    assert await seats_of(db, show.id) == {s[1]: alice.id, s[2]: alice.id, s[3]: bob.id}
    assert await db.scalar(select(Showtime.seat_sequence).where(Showtime.id == show.id)) == 3


async def test_taken_seat_undoes_the_whole_call(committed_db: Database) -> None:
    db = committed_db
    show = await create_bookable_showtime(db)
    alice, bob = await create_user(db), await create_user(db)
    s = show.seat_ids
    await hold_now(db, alice.id, show.id, [s[0]])
    await hold_now(db, bob.id, show.id, [s[5]])
    with pytest.raises(DomainError) as err:
        await hold_now(db, alice.id, show.id, [s[1], s[5]])
    assert err.value.details[0].extra["seat_ids"] == [s[5]]
    assert await seats_of(db, show.id) == {s[0]: alice.id, s[5]: bob.id}
    assert await db.scalar(select(Showtime.seat_sequence).where(Showtime.id == show.id)) == 2


async def test_cancelled_while_holding_leaves_nothing(committed_db: Database) -> None:
    """The showtime is cancelled by a transaction that commits while the hold waits for the
    showtime's row lock (its checks already passed): SHOWTIME_NOT_BOOKABLE, nothing kept."""
    db = committed_db
    show = await create_bookable_showtime(db)
    alice = await create_user(db)
    s = show.seat_ids
    async with db.engine.connect() as canceller:
        await canceller.execute(
            text("UPDATE showtimes SET status = 'CANCELLED' WHERE id = :id"), {"id": show.id}
        )
        holding = asyncio.create_task(hold_now(db, alice.id, show.id, [s[0]]))
        await asyncio.sleep(0.5)  # the hold now waits for the row lock
        assert not holding.done()
        await canceller.commit()
        with pytest.raises(DomainError) as err:
            await holding
    assert (err.value.code, err.value.details[0].message) == (
        "SHOWTIME_NOT_BOOKABLE",
        "This showtime is cancelled.",
    )
    assert await seats_of(db, show.id) == {}
    assert await db.scalar(select(SeatHold.id).where(SeatHold.user_id == alice.id)) is None
    assert await db.scalar(select(Showtime.seat_sequence).where(Showtime.id == show.id)) == 0


async def test_big_change_is_a_resync_marker(committed_db: Database) -> None:
    """The function keeps the NOTIFY size rule of `announce_seat_changes`."""
    db = committed_db
    show = await create_bookable_showtime(db, rows=50, seats_per_row=20)
    alice = await create_user(db)
    conn = await asyncpg_connector(db.engine.url.render_as_string(hide_password=False))()
    events: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    await conn.add_listener(SEAT_CHANNEL, lambda *a: events.put_nowait(orjson.loads(a[3])))
    try:
        limits = LIMITS | {"max_seats": 1000}
        await actions.hold_seats(
            db, user_id=alice.id, showtime_id=show.id, seat_ids=show.seat_ids[:5], **limits
        )
        await actions.hold_seats(
            db, user_id=alice.id, showtime_id=show.id, seat_ids=show.seat_ids, **limits
        )
        got = [await asyncio.wait_for(events.get(), 5) for _ in range(2)]
    finally:
        await conn.close()
    assert got[0]["c"] == [[seat, "H"] for seat in sorted(show.seat_ids[:5])]
    assert got[1] == {"s": show.id, "q": 2, "a": 0, "r": 1}


async def _wait_for_lock_wait(db: Database) -> None:
    """Until some backend running a hold waits for a lock (the hold blocked on a seat)."""
    for _ in range(500):
        waiting = await db.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE '%marquee_hold_seats%' AND pid <> pg_backend_pid()"
            )
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the hold never waited")


@pytest.mark.parametrize("alice_wants", ["new seat only", "new seat and the old one"])
async def test_a_replacing_hold_waits_before_it_changes_its_old_seats(
    committed_db: Database, alice_wants: str
) -> None:
    """Alice holds seat 9 and replaces her hold with seat 3 (releasing 9) or with 3 and 9
    (renewing 9) while Bob's open transaction has just taken seat 3; Bob then asks for 3
    and 9. Alice must wait for Bob without having touched seat 9, so Bob's insert of 9
    finds it held and is refused at once: no deadlock (migration 0028_hold_seat_order; a
    hold that released or renewed first made Bob wait for Alice while she waited for him)."""
    db = committed_db
    show = await create_bookable_showtime(db)
    alice, bob = await create_user(db), await create_user(db)
    s3, s9 = show.seat_ids[3], show.seat_ids[9]
    await hold_now(db, alice.id, show.id, [s9])
    wanted = [s3] if alice_wants == "new seat only" else [s3, s9]
    async with db.transaction() as bob_tx:
        await actions.hold_seats(
            bob_tx, user_id=bob.id, showtime_id=show.id, seat_ids=[s3], **LIMITS
        )
        alice_task = asyncio.create_task(hold_now(db, alice.id, show.id, wanted))
        await _wait_for_lock_wait(db)
        with pytest.raises(DomainError) as err:
            await actions.hold_seats(
                bob_tx, user_id=bob.id, showtime_id=show.id, seat_ids=[s3, s9], **LIMITS
            )
        assert (err.value.code, err.value.details[0].extra["seat_ids"]) == (
            "SEAT_UNAVAILABLE",
            [s9],
        )
    # Bob committed seat 3; Alice, released from her wait, finds it taken and keeps seat 9.
    with pytest.raises(DomainError) as alice_err:
        await asyncio.wait_for(alice_task, 10)
    assert alice_err.value.details[0].extra["seat_ids"] == [s3]
    assert await seats_of(db, show.id) == {s3: bob.id, s9: alice.id}


async def test_a_kept_seat_taken_over_while_the_hold_renews_it_is_refused(
    committed_db: Database,
) -> None:
    """Alice's hold on seat 9 has expired (not swept yet) and Bob's open transaction takes
    the seat over; Alice, holding 3 and 9 again, reads 9 as hers, takes 3, then waits to
    renew 9. When Bob commits, the row she would renew is gone: her hold is refused naming
    seat 9, nothing of it remains (not even seat 3), and Bob has the seat."""
    db = committed_db
    show = await create_bookable_showtime(db)
    alice, bob = await create_user(db), await create_user(db)
    s3, s9 = show.seat_ids[3], show.seat_ids[9]
    await hold_now(db, alice.id, show.id, [s9])
    async with db.transaction() as session:  # time passes: the hold expires, not swept
        for table in ("seat_occupancy", "seat_holds"):
            await session.execute(
                text(f"UPDATE {table} SET expires_at = now() - interval '1 second'")
            )
    async with db.transaction() as bob_tx:
        taken = await actions.hold_seats(
            bob_tx, user_id=bob.id, showtime_id=show.id, seat_ids=[s9], **LIMITS
        )
        assert taken.seat_ids == [s9]
        alice_task = asyncio.create_task(hold_now(db, alice.id, show.id, [s3, s9]))
        await _wait_for_lock_wait(db)
    with pytest.raises(DomainError) as err:
        await asyncio.wait_for(alice_task, 10)
    assert (err.value.code, err.value.details[0].extra["seat_ids"]) == ("SEAT_UNAVAILABLE", [s9])
    assert await seats_of(db, show.id) == {s9: bob.id}


async def test_a_hold_for_a_taken_seat_writes_nothing(committed_db: Database) -> None:
    """A seat another hold or an order occupies is refused before the hold row is written
    or renewed (0034_fewer_statements): a stale seat map's click costs a read, not an insert,
    its foreign-key checks and a rollback. Counted in the caller's transaction, where
    PostgreSQL counts attempted writes whether they were rolled back or not."""
    db = committed_db
    show = await create_bookable_showtime(db)
    alice, bob, carol = await create_user(db), await create_user(db), await create_user(db)
    s = show.seat_ids
    await hold_now(db, alice.id, show.id, [s[0]])
    bobs = await hold_now(db, bob.id, show.id, [s[1]])
    conn = await asyncpg_connector(db.engine.url.render_as_string(hide_password=False))()
    try:
        for user, wanted in ((carol.id, [s[0], s[2]]), (bob.id, [s[1], s[0]])):
            async with conn.transaction():
                outcome, seats = await conn.fetchrow(
                    "SELECT o_outcome, o_seat_ids FROM marquee_hold_seats($1, $2, $3, $4, $5, $6)",
                    user,
                    show.id,
                    wanted,
                    *LIMITS.values(),
                )
                assert (outcome, seats) == ("TAKEN", [s[0]])
                written = await conn.fetch(
                    "SELECT pg_stat_get_xact_tuples_inserted(t)"
                    " + pg_stat_get_xact_tuples_updated(t) + pg_stat_get_xact_tuples_deleted(t)"
                    " FROM unnest($1::regclass[]) t",
                    ["seat_holds", "seat_occupancy"],
                )
                assert [r[0] for r in written] == [0, 0]
    finally:
        await conn.close()
    # Bob's hold is as it was: its seat, its expiry.
    assert await seats_of(db, show.id) == {s[0]: alice.id, s[1]: bob.id}
    expiry = await db.fetch(select(SeatHold.expires_at).where(SeatHold.id == bobs.id))
    assert expiry[0].expires_at == bobs.expires_at
