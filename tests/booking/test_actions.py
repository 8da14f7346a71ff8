"""Booking actions on a session, without GraphQL: holds, replacement, release, events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from db.booking import actions
from db.booking.models import SeatHold, SeatOccupancy
from db.booking.queries import seat_snapshot
from db.errors import DomainError
from db.session import Database
from db.showtimes.models import Showtime
from tests.factories import create_bookable_showtime, create_user

LIMITS: dict[str, Any] = {"ttl_seconds": 600, "max_seats": 10, "sales_window_days": 30}


async def hold(db: Database, user_id: int, showtime_id: int, seats: list[int]) -> Any:
    async with db.transaction() as session:
        return await actions.hold_seats(
            session, user_id=user_id, showtime_id=showtime_id, seat_ids=seats, **LIMITS
        )


async def held_by(db: Database, showtime_id: int) -> dict[int, int]:
    rows = await db.fetch(
        select(SeatOccupancy.seat_id, SeatHold.user_id)
        .join(SeatHold, SeatHold.id == SeatOccupancy.hold_id)
        .where(SeatOccupancy.showtime_id == showtime_id)
    )
    return {r.seat_id: r.user_id for r in rows}


async def test_hold_then_conflict_is_all_or_nothing(db: Database) -> None:
    show = await create_bookable_showtime(db)
    alice, bob = await create_user(db), await create_user(db)
    s = show.seat_ids
    result = await hold(db, alice.id, show.id, [s[0], s[1]])
    assert result.seat_ids == sorted([s[0], s[1]])
    assert result.sequence == 1
    with pytest.raises(DomainError) as err:
        await hold(db, bob.id, show.id, [s[1], s[2]])
    detail = err.value.details[0]
    assert (detail.code, detail.extra["seat_ids"]) == ("SEAT_UNAVAILABLE", [s[1]])
    assert await held_by(db, show.id) == {s[0]: alice.id, s[1]: alice.id}
    snap = await seat_snapshot(db, show.id)
    assert snap is not None
    assert snap.sequence == 1
    assert snap.available_count == len(s) - 2


async def test_replace_keeps_adds_and_releases(db: Database) -> None:
    show = await create_bookable_showtime(db)
    alice = await create_user(db)
    s = show.seat_ids
    first = await hold(db, alice.id, show.id, [s[0], s[1]])
    second = await hold(db, alice.id, show.id, [s[1], s[2]])
    assert second.id == first.id
    assert second.sequence == 2
    assert await held_by(db, show.id) == {s[1]: alice.id, s[2]: alice.id}
    # The same seats again: nothing changes, no sequence bump.
    third = await hold(db, alice.id, show.id, [s[1], s[2]])
    assert third.sequence is None
    assert await db.scalar(select(Showtime.seat_sequence).where(Showtime.id == show.id)) == 2


async def test_failed_replace_keeps_the_old_hold(db: Database) -> None:
    show = await create_bookable_showtime(db)
    alice, bob = await create_user(db), await create_user(db)
    s = show.seat_ids
    await hold(db, alice.id, show.id, [s[0]])
    await hold(db, bob.id, show.id, [s[5]])
    with pytest.raises(DomainError):
        await hold(db, alice.id, show.id, [s[1], s[5]])
    assert await held_by(db, show.id) == {s[0]: alice.id, s[5]: bob.id}


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("empty", "VALIDATION_ERROR"),
        ("too_many", "HOLD_LIMIT_EXCEEDED"),
        ("repeated", "VALIDATION_ERROR"),
        ("foreign", "VALIDATION_ERROR"),
        ("blocked", "SEAT_UNAVAILABLE"),
    ],
)
async def test_bad_seat_lists(db: Database, case: str, code: str) -> None:
    show = await create_bookable_showtime(db, rows=3, blocked=(3,))
    other = await create_bookable_showtime(db)
    alice = await create_user(db)
    s = show.seat_ids
    seats = {
        "empty": [],
        "too_many": s[:11],
        "repeated": [s[0], s[0]],
        "foreign": [s[0], other.seat_ids[0]],
        "blocked": [s[3]],
    }[case]
    with pytest.raises(DomainError) as err:
        await hold(db, alice.id, show.id, seats)
    assert err.value.code == code


@pytest.mark.parametrize(
    ("kwargs"),
    [
        {"status": "CANCELLED"},
        {"starts_in": -timedelta(minutes=5)},
        {"starts_in": timedelta(days=45)},
    ],
)
async def test_showtime_not_bookable(db: Database, kwargs: dict[str, Any]) -> None:
    show = await create_bookable_showtime(db, **kwargs)
    alice = await create_user(db)
    with pytest.raises(DomainError) as err:
        await hold(db, alice.id, show.id, [show.seat_ids[0]])
    assert err.value.code == "SHOWTIME_NOT_BOOKABLE"


async def test_release_owner_only(db: Database) -> None:
    show = await create_bookable_showtime(db)
    alice, bob = await create_user(db), await create_user(db)
    h = await hold(db, alice.id, show.id, show.seat_ids[:2])
    async with db.transaction() as session:
        with pytest.raises(DomainError) as err:
            await actions.release_hold(session, user_id=bob.id, hold_id=h.id)
    assert err.value.code == "NOT_FOUND"
    async with db.transaction() as session:
        released = await actions.release_hold(session, user_id=alice.id, hold_id=h.id)
    assert released.seat_ids == sorted(show.seat_ids[:2])
    assert await held_by(db, show.id) == {}


async def test_expired_hold_reads_available_and_can_be_taken(db: Database) -> None:
    show = await create_bookable_showtime(db)
    alice, bob = await create_user(db), await create_user(db)
    s = show.seat_ids
    await hold(db, alice.id, show.id, [s[0], s[1]])
    async with db.transaction() as session:  # time passes: the hold is expired, not swept
        await session.execute(
            update(SeatOccupancy).values(expires_at=func.now() - text("interval '1 second'"))
        )
        await session.execute(
            update(SeatHold).values(expires_at=func.now() - text("interval '1 second'"))
        )
    snap = await seat_snapshot(db, show.id)
    assert snap is not None
    assert dict(snap.seats)[s[0]] == "AVAILABLE"
    await hold(db, bob.id, show.id, [s[0]])
    assert await held_by(db, show.id) == {s[0]: bob.id, s[1]: alice.id}
    async with db.transaction() as session:
        freed = await actions.sweep_expired_holds(session)
    assert freed == {show.id: [s[1]]}
    assert await held_by(db, show.id) == {s[0]: bob.id}


async def test_notification_payload(db: Database) -> None:
    show = await create_bookable_showtime(db)
    async with db.transaction() as session:
        seq = await actions.announce_seat_changes(
            session, show.id, {show.seat_ids[0]: "HELD", show.seat_ids[1]: "AVAILABLE"}
        )
    assert seq == 1
    # A huge change becomes a resync marker (NOTIFY payloads are capped at 8000 bytes).
    async with db.transaction() as session:
        seq = await actions.announce_seat_changes(
            session, show.id, dict.fromkeys(range(10_000_000, 10_001_000), "HELD")
        )
    assert seq == 2  # the payload itself: tests/realtime/test_notify.py
