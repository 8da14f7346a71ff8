"""The sweeper: one instance at a time, and it frees only expired, unpaid holds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.booking import actions
from db.booking.models import SeatHold, SeatOccupancy
from db.orders.actions import sweep_due
from db.orders.models import IdempotencyKey
from db.session import Database, capture_statements
from db.showtimes.models import Showtime
from graph.booking.sweeper import sweep_once
from tests.factories import create_bookable_showtime, create_user


async def expire_all(db: Database) -> None:
    async with db.transaction() as session:
        past = func.now() - text("interval '1 minute'")
        await session.execute(update(SeatHold).values(expires_at=past))
        await session.execute(
            update(SeatOccupancy).where(SeatOccupancy.status == "HELD").values(expires_at=past)
        )


async def _hold_two(session: AsyncSession, user_id: int, show: Any) -> Any:
    """The first two seats of `show`, held by the user for ten minutes."""
    return await actions.hold_seats(
        session,
        user_id=user_id,
        showtime_id=show.id,
        seat_ids=show.seat_ids[:2],
        ttl_seconds=600,
        max_seats=10,
        sales_window_days=30,
    )


async def test_one_sweeper_at_a_time(committed_db: Database) -> None:
    show = await create_bookable_showtime(committed_db)
    user = await create_user(committed_db)
    async with committed_db.transaction() as session:
        await _hold_two(session, user.id, show)
    await expire_all(committed_db)
    async with committed_db.transaction() as first:
        # Another instance is sweeping (it holds the lock): this one skips the round.
        await first.execute(select(func.pg_advisory_xact_lock(actions.SWEEPER_LOCK_KEY)))
        assert await sweep_once(committed_db) == 0
    assert await sweep_once(committed_db) == 2
    assert await committed_db.scalar(select(func.count()).select_from(SeatHold)) == 0
    sequence = await committed_db.scalar(
        select(Showtime.seat_sequence).where(Showtime.id == show.id)
    )
    assert sequence == 2  # the hold, then its release by the sweeper
    assert await sweep_once(committed_db) == 0


async def test_sold_seats_survive_the_sweep(committed_db: Database) -> None:
    show = await create_bookable_showtime(committed_db)
    user = await create_user(committed_db)
    async with committed_db.transaction() as session:
        result = await _hold_two(session, user.id, show)
        # Paid: one seat sold in place (what checkout/payment will do).
        await session.execute(
            update(SeatOccupancy)
            .where(SeatOccupancy.seat_id == show.seat_ids[0])
            .values(status="SOLD", expires_at=None)
        )
    await expire_all(committed_db)
    # The unpaid seat is freed; the sold one and its hold row stay (the order owns them).
    assert await sweep_once(committed_db) == 1
    rows = await committed_db.fetch(select(SeatOccupancy.seat_id, SeatOccupancy.hold_id))
    assert {(r.seat_id, r.hold_id) for r in rows} == {(show.seat_ids[0], result.id)}
    assert await committed_db.scalar(select(func.count()).select_from(SeatHold)) == 1
    assert await sweep_once(committed_db) == 0
    # The expired hold row of a sale is nothing to sweep: rounds go back to the probe alone.
    assert not await sweep_due(committed_db)


async def test_a_round_with_nothing_due_is_one_probe_and_no_transaction(
    committed_db: Database,
) -> None:
    """Every process sweeps every second: an empty round reads one row on the driver and
    opens no transaction; expired holds and day-old idempotency keys make it sweep (an
    expired order: tests/orders/test_cancel_check_in.py)."""
    show = await create_bookable_showtime(committed_db)
    user = await create_user(committed_db)
    async with committed_db.transaction() as session:
        await _hold_two(session, user.id, show)
        await session.execute(
            insert(IdempotencyKey).values(
                user_id=user.id, operation="checkout", key="fresh", request_hash="0" * 64
            )
        )
    with capture_statements() as statements:
        assert await sweep_once(committed_db) == 0
    assert len(statements) == 1
    assert "EXISTS" in statements[0]

    await expire_all(committed_db)
    assert await sweep_due(committed_db)
    with capture_statements() as statements:
        assert await sweep_once(committed_db) == 2
    assert len(statements) > 1
    assert not await sweep_due(committed_db)

    async with committed_db.transaction() as session:
        await session.execute(
            update(IdempotencyKey).values(created_at=func.now() - timedelta(hours=26))
        )
    assert await sweep_due(committed_db)
    await sweep_once(committed_db)
    assert await committed_db.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
    assert not await sweep_due(committed_db)
