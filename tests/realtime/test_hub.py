"""The seat hub as the app builds it (graph.booking.subscriptions.start_seat_hub): its own
LISTEN connection to the test database, its snapshot loader over committed data, and seat
changes made by the booking actions. Everything is observed through what subscribers
receive (and the hub's public counters)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text, update

from db.booking import actions
from db.session import Database
from db.showtimes.models import Showtime
from graph.booking.subscriptions import start_seat_hub
from graph.booking.types import SeatAvailabilityEvent
from graph.context import Context
from graph.realtime import HUB_SERVICE, SeatHub, Subscriber, SubscriberClosed
from graph.relay import to_global_id
from graph.schema import build_schema
from graph.settings import Settings
from tests.factories import BookableShowtime, create_bookable_showtime, create_user
from tests.realtime.harness import SEAT_AVAILABILITY

WAIT = 5.0  # seconds: generous for one event, short enough to fail fast


@contextlib.asynccontextmanager
async def running_hub(
    db: Database, settings: Settings, queue_size: int = 64, audit_seconds: float = 0.0
) -> AsyncIterator[SeatHub]:
    """The hub exactly as the app's start-up hook builds and starts it, LISTENing (its
    audit off unless `audit_seconds` is given, so the other tests see only what they do)."""
    state = SimpleNamespace(
        db=db,
        settings=settings.model_copy(
            update={"subscriber_queue_size": queue_size, "seat_audit_seconds": audit_seconds}
        ),
        services={},
    )
    stop = await start_seat_hub(state)
    hub: SeatHub = state.services[HUB_SERVICE]
    try:
        await asyncio.wait_for(hub.connected.wait(), WAIT)
        yield hub
    finally:
        await stop()


async def take(sub: Subscriber, n: int = 1) -> list[SeatAvailabilityEvent]:
    out = []
    for _ in range(n):
        event: Any = await asyncio.wait_for(anext(sub), WAIT)
        out.append(event)
    return out


async def nothing_more(sub: Subscriber, wait: float = 0.3) -> None:
    with contextlib.suppress(TimeoutError):
        event = await asyncio.wait_for(anext(sub), wait)
        raise AssertionError(f"unexpected event {event}")


def shape(events: list[SeatAvailabilityEvent]) -> list[tuple[int, bool]]:
    return [(e.sequence, e.snapshot) for e in events]


def statuses(event: SeatAvailabilityEvent) -> dict[str, str]:
    return {str(s.seat_id): s.status.value for s in event.seats}


def seat(pk: int) -> str:
    return to_global_id("Seat", pk)


async def hold(db: Any, user_id: int, show: BookableShowtime, seats: list[int]) -> int:
    """Hold `seats` (replacing the user's hold); the new sequence."""
    result = await actions.hold_seats(
        db,
        user_id=user_id,
        showtime_id=show.id,
        seat_ids=seats,
        ttl_seconds=600,
        max_seats=10,
        sales_window_days=30,
    )
    assert result.sequence is not None
    return result.sequence


async def test_one_snapshot_and_one_event_object_for_all_subscribers(
    committed_db: Database, settings: Settings
) -> None:
    show = await create_bookable_showtime(committed_db)
    user = await create_user(committed_db)
    s = show.seat_ids
    for i in range(5):  # the snapshot reflects sequence 5
        await hold(committed_db, user.id, show, [s[i]])
    async with (
        running_hub(committed_db, settings) as hub,
        hub.subscribe(show.id) as a,
        hub.subscribe(show.id) as b,
    ):
        [first_a], [first_b] = await take(a), await take(b)
        # One snapshot read serves both subscribers: the very same object.
        assert first_a is first_b
        assert (first_a.sequence, first_a.snapshot) == (5, True)
        assert statuses(first_a)[seat(s[4])] == "HELD"
        assert statuses(first_a)[seat(s[0])] == "AVAILABLE"
        assert first_a.available_seat_count == 9

        assert await hold(committed_db, user.id, show, [s[4], s[7]]) == 6
        [delta_a], [delta_b] = await take(a), await take(b)
        assert delta_a is delta_b
        assert (delta_a.sequence, delta_a.snapshot) == (6, False)
        assert statuses(delta_a) == {seat(s[7]): "HELD"}
        assert delta_a.available_seat_count == 8
        assert hub.subscriber_count(show.id) == 2
    assert hub.subscriber_count() == 0


async def test_deltas_covered_by_the_snapshot_are_dropped(
    committed_db: Database, settings: Settings
) -> None:
    show = await create_bookable_showtime(committed_db)
    user = await create_user(committed_db)
    s = show.seat_ids
    async with running_hub(committed_db, settings) as hub, contextlib.AsyncExitStack() as stack:
        async with committed_db.transaction() as session:
            # Hold the seats table so the subscriber's snapshot read waits for this
            # transaction: its delta (sequence 1) reaches an already registered
            # subscriber, and the snapshot it waits for already contains it.
            await session.execute(text("LOCK TABLE seats IN ACCESS EXCLUSIVE MODE"))
            assert await hold(session, user.id, show, [s[0]]) == 1
            sub = await stack.enter_async_context(hub.subscribe(show.id))
            await wait_for_a_blocked_read(committed_db)
        # Committed: delta 1 and the snapshot read are both under way.
        [snap] = await take(sub)
        assert (snap.sequence, snap.snapshot) == (1, True)
        assert statuses(snap)[seat(s[0])] == "HELD"
        # Delta 1 is in the snapshot: the next event is delta 2.
        assert await hold(committed_db, user.id, show, [s[0], s[1]]) == 2
        [delta] = await take(sub)
        assert (delta.sequence, delta.snapshot) == (2, False)
        assert statuses(delta) == {seat(s[1]): "HELD"}
        await nothing_more(sub)


async def wait_for_a_blocked_read(db: Database) -> None:
    """Until some other session of this database waits for a lock (the snapshot read)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'"
    )
    for _ in range(int(WAIT / 0.01)):
        if await db.scalar(query):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no read waited for the lock")


async def test_a_gap_brings_a_fresh_snapshot(committed_db: Database, settings: Settings) -> None:
    show = await create_bookable_showtime(committed_db)
    user = await create_user(committed_db)
    s = show.seat_ids
    async with running_hub(committed_db, settings) as hub, hub.subscribe(show.id) as sub:
        assert shape(await take(sub)) == [(0, True)]
        assert await hold(committed_db, user.id, show, [s[0]]) == 1
        assert shape(await take(sub)) == [(1, False)]
        # Change 2 is committed but its notification never arrives (as if lost while
        # the LISTEN connection was down): the sequence moves without a NOTIFY.
        async with committed_db.transaction() as session:
            await session.execute(
                update(Showtime)
                .where(Showtime.id == show.id)
                .values(seat_sequence=Showtime.seat_sequence + 1)
            )
        # Delta 3 skips 2: instead of it, the subscriber gets a fresh snapshot at 3.
        assert await hold(committed_db, user.id, show, [s[0], s[1]]) == 3
        [snap] = await take(sub)
        assert (snap.sequence, snap.snapshot) == (3, True)
        assert statuses(snap)[seat(s[1])] == "HELD"
        # And deltas continue from there.
        assert await hold(committed_db, user.id, show, [s[1]]) == 4
        [delta] = await take(sub)
        assert (delta.sequence, delta.snapshot) == (4, False)
        assert statuses(delta) == {seat(s[0]): "AVAILABLE"}
        await nothing_more(sub)


async def test_reconnect_gives_every_subscriber_a_fresh_snapshot(
    committed_db: Database, settings: Settings
) -> None:
    one = await create_bookable_showtime(committed_db)
    two = await create_bookable_showtime(committed_db)
    user = await create_user(committed_db)
    async with (
        running_hub(committed_db, settings) as hub,
        hub.subscribe(one.id) as a,
        hub.subscribe(two.id) as b,
    ):
        assert shape(await take(a)) == [(0, True)]
        assert shape(await take(b)) == [(0, True)]
        assert hub.connections == 1
        terminated = await committed_db.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = 'marquee-listen'"
            )
        )
        assert terminated == 1
        # The hub LISTENs again and sends each subscriber a snapshot.
        assert shape(await take(a)) == [(0, True)]
        assert shape(await take(b)) == [(0, True)]
        assert hub.connections == 2
        # The new connection hears changes.
        assert await hold(committed_db, user.id, one, [one.seat_ids[2]]) == 1
        assert shape(await take(a)) == [(1, False)]
        await nothing_more(b)


async def test_too_slow_subscriber_is_closed_others_are_not(
    committed_db: Database, settings: Settings
) -> None:
    show = await create_bookable_showtime(committed_db)
    user = await create_user(committed_db)
    s = show.seat_ids
    async with (
        running_hub(committed_db, settings, queue_size=4) as hub,
        hub.subscribe(show.id) as slow,
        hub.subscribe(show.id) as fast,
    ):
        await take(slow)
        await take(fast)
        for seq in range(1, 9):  # the slow one reads nothing: its 4 places overflow
            assert await hold(committed_db, user.id, show, [s[seq]]) == seq
            assert shape(await take(fast)) == [(seq, False)]
        with pytest.raises(SubscriberClosed) as closed:
            await take(slow)
        assert closed.value.code == "RATE_LIMITED"
        assert hub.subscriber_count(show.id) == 1
        # The fast one goes on.
        assert await hold(committed_db, user.id, show, [s[0]]) == 9
        assert shape(await take(fast)) == [(9, False)]


async def test_unknown_showtime_closes_the_subscriber(
    committed_db: Database, settings: Settings
) -> None:
    async with running_hub(committed_db, settings) as hub, hub.subscribe(999_999) as sub:
        with pytest.raises(SubscriberClosed) as closed:
            await take(sub)
        assert closed.value.code == "BAD_USER_INPUT"
        assert hub.subscriber_count(999_999) == 0


async def test_notifications_are_decoded_once_and_only_when_watched(
    committed_db: Database, settings: Settings
) -> None:
    watched = await create_bookable_showtime(committed_db, rows=30, seats_per_row=30)
    unwatched = await create_bookable_showtime(committed_db)
    user = await create_user(committed_db)
    async with (
        running_hub(committed_db, settings) as hub,
        hub.subscribe(watched.id) as a,
        hub.subscribe(watched.id) as b,
    ):
        await take(a)
        await take(b)
        # Notifications come in commit order on the one connection: by the time the
        # watched showtime's delta is seen, the unwatched one's was handled (ignored).
        await hold(committed_db, user.id, unwatched, [unwatched.seat_ids[0]])
        assert await hold(committed_db, user.id, watched, [watched.seat_ids[0]]) == 1
        [delta_a], [delta_b] = await take(a), await take(b)
        assert delta_a is delta_b
        assert delta_a.sequence == 1
        assert hub.decoded_notifications == 1

        # A payload that is not ours is ignored; the hub goes on.
        await committed_db.scalar(text("SELECT pg_notify('seat_changes', 'not json')"))
        # A change too big for one NOTIFY (a resync marker) becomes a snapshot.
        async with committed_db.transaction() as session:
            sequence = await actions.announce_seat_changes(
                session, watched.id, dict.fromkeys(watched.seat_ids[1:], "AVAILABLE")
            )
        assert sequence == 2
        [snap_a], [snap_b] = await take(a), await take(b)
        assert (snap_a.sequence, snap_a.snapshot) == (2, True)
        assert snap_a is snap_b
        assert len(snap_a.seats) == 900
        assert hub.decoded_notifications == 1
        assert await hold(committed_db, user.id, watched, [watched.seat_ids[1]]) == 3
        assert shape(await take(a)) == [(3, False)]
        assert hub.decoded_notifications == 2


async def test_an_event_is_executed_once_for_all_subscribers(
    committed_db: Database, settings: Settings
) -> None:
    """graphql execution of a shared event happens once per operation and variables."""
    show = await create_bookable_showtime(committed_db)
    user = await create_user(committed_db)
    schema = build_schema(settings)
    show_gid = to_global_id("Showtime", show.id)
    async with running_hub(committed_db, settings) as hub:
        streams: list[Any] = []
        try:
            for _ in range(3):
                ctx = Context(db=committed_db, settings=settings, services={HUB_SERVICE: hub})
                streams.append(
                    await schema.subscribe(
                        SEAT_AVAILABILITY, context_value=ctx, variable_values={"id": show_gid}
                    )
                )
            firsts = await asyncio.wait_for(asyncio.gather(*(anext(s) for s in streams)), WAIT)
            assert not firsts[0].errors
            assert firsts[0].data["seatAvailability"]["snapshot"] is True
            assert all(f.data == firsts[0].data for f in firsts)

            await hold(committed_db, user.id, show, [show.seat_ids[3]])
            results = await asyncio.wait_for(asyncio.gather(*(anext(s) for s in streams)), WAIT)
            assert results[0].data == {
                "seatAvailability": {
                    "showtimeId": show_gid,
                    "sequence": 1,
                    "snapshot": False,
                    "availableSeatCount": 9,
                    "seats": [{"seatId": seat(show.seat_ids[3]), "status": "HELD"}],
                }
            }
            # One execution: every subscriber got the very same result data.
            assert all(r.data is results[0].data for r in results)
        finally:
            for stream in streams:
                await stream.aclose()


async def bump_without_notify(db: Database, showtime_id: int) -> None:
    """A change whose notification never reaches the hub: the sequence moves, no NOTIFY."""
    async with db.transaction() as session:
        await session.execute(
            update(Showtime)
            .where(Showtime.id == showtime_id)
            .values(seat_sequence=Showtime.seat_sequence + 1)
        )


async def test_a_lost_last_notification_is_found_by_the_audit(
    committed_db: Database, settings: Settings
) -> None:
    """Soak finding 4: subscribers stopped at a sequence the showtime had long left, and
    no later event showed them a gap. Here the last change's notification is lost and no
    change follows: only the audit can tell, and it sends a fresh snapshot."""
    show = await create_bookable_showtime(committed_db)
    user = await create_user(committed_db)
    s = show.seat_ids
    async with (
        running_hub(committed_db, settings, audit_seconds=0.1) as hub,
        hub.subscribe(show.id) as a,
        hub.subscribe(show.id) as b,
    ):
        assert shape(await take(a)) == [(0, True)]
        assert shape(await take(b)) == [(0, True)]
        assert await hold(committed_db, user.id, show, [s[0]]) == 1
        assert shape(await take(a)) == [(1, False)]
        assert shape(await take(b)) == [(1, False)]
        await bump_without_notify(committed_db, show.id)
        [snap_a] = await take(a)
        [snap_b] = await take(b)
        assert (snap_a.sequence, snap_a.snapshot) == (2, True)
        assert snap_a is snap_b  # one snapshot read for both
        assert statuses(snap_a)[seat(s[0])] == "HELD"
        assert hub.audit_resyncs == 2
        # Up to date now: later rounds leave them alone, and deltas go on from there.
        await nothing_more(a, wait=0.5)
        assert await hold(committed_db, user.id, show, [s[0], s[1]]) == 3
        assert shape(await take(a)) == [(3, False)]
        assert shape(await take(b)) == [(3, False)]
        assert hub.audit_resyncs == 2


async def test_the_audit_waits_a_round_before_judging(
    committed_db: Database, settings: Settings
) -> None:
    """A subscriber behind the database at one round only (its notification may be on the
    way) is not resynced; behind at two rounds, it is."""
    show = await create_bookable_showtime(committed_db)
    async with running_hub(committed_db, settings) as hub, hub.subscribe(show.id) as sub:
        assert shape(await take(sub)) == [(0, True)]
        assert await hub.audit() == 0  # up to date
        await bump_without_notify(committed_db, show.id)
        assert await hub.audit() == 0  # behind once: perhaps a notification in flight
        assert await hub.audit() == 1  # still behind: resynced
        assert shape(await take(sub)) == [(1, True)]
        assert await hub.audit() == 0
        assert await hub.audit() == 0
        await nothing_more(sub)


async def test_a_change_while_listen_is_down_reaches_the_subscriber(
    committed_db: Database, settings: Settings
) -> None:
    """The LISTEN connection is terminated and a change commits before it is back: the
    subscriber gets that change (as a snapshot after the reconnection), with no later
    change needed to reveal it."""
    show = await create_bookable_showtime(committed_db)
    user = await create_user(committed_db)
    async with running_hub(committed_db, settings) as hub, hub.subscribe(show.id) as sub:
        assert shape(await take(sub)) == [(0, True)]
        await committed_db.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = 'marquee-listen'"
            )
        )
        assert await hold(committed_db, user.id, show, [show.seat_ids[0]]) == 1
        events = await take(sub)
        while events[-1].sequence < 1:  # a snapshot of the reconnection taken before it
            events += await take(sub)
        assert (events[-1].sequence, events[-1].snapshot) == (1, True)
        assert statuses(events[-1])[seat(show.seat_ids[0])] == "HELD"
