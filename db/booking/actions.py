"""Booking actions: hold, replace and release seats; sweep expired holds; announce changes.

The unique constraint on seat_occupancy (showtime_id, seat_id) is the judge of who gets a
seat: inserts use ON CONFLICT DO NOTHING, so a seat someone else holds is a missing row in
RETURNING, never an exception. A hold is one statement, the PL/pgSQL function
`marquee_hold_seats` (migration 0004_booking; 0013_presale adds the presale check), which the
mutation runs in autocommit mode.
Every change of a showtime's seats bumps `showtimes.seat_sequence` and calls pg_notify
inside the same transaction, always through the SQL function `marquee_announce_seats`
(migration 0006_seat_announcer: `announce_seat_changes` here, and the hold function), so
subscribers hear of exactly the changes that committed, in commit order (the row lock on
the showtime orders them).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Executable,
    Integer,
    Text,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from db.booking.codes import BookingErrorCode
from db.booking.models import SeatHold, SeatOccupancy
from db.errors import DomainError
from db.session import Database

# Key of the advisory lock that lets one instance sweep at a time.
SWEEPER_LOCK_KEY = 0x4D51_5357  # "MQSW"
# Holds cannot wait on each other in a cycle (migration 0028_hold_seat_order), but a hold
# and the sweeper taking over the same expired seats still can; PostgreSQL aborts one
# transaction, which is simply run again.
RETRYABLE_SQLSTATES = {"40P01", "40001"}
ATTEMPTS = 3

log = logging.getLogger("marquee.booking")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class HoldResult:
    id: int
    user_id: int
    showtime_id: int
    seat_ids: list[int]
    expires_at: datetime
    # The showtime's sequence after this change (None: nothing changed, only renewed).
    sequence: int | None


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    hold_id: int
    showtime_id: int
    seat_ids: list[int]


def sqlstate(exc: DBAPIError | asyncpg.PostgresError) -> str | None:
    """The SQLSTATE of a database error, through SQLAlchemy's wrapper or straight from the
    driver."""
    orig: Any = exc.orig if isinstance(exc, DBAPIError) else exc
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


async def retrying(fn: Callable[[], Awaitable[T]]) -> T:
    """Run `fn` (one transaction) again after a deadlock or serialization failure, at most
    `ATTEMPTS` times in all."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await fn()
        # asyncpg's own errors: from statements run on the driver (`Database.fetch_static`).
        except (DBAPIError, asyncpg.PostgresError) as exc:
            if sqlstate(exc) not in RETRYABLE_SQLSTATES or attempt == ATTEMPTS:
                raise
            log.info("retrying a booking transaction after %s", sqlstate(exc))
    raise AssertionError("unreachable")


async def in_transaction(db: Database, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`fn` in one transaction of its own, run again (`retrying`) after a deadlock."""

    async def once() -> T:
        async with db.transaction() as session:
            return await fn(session)

    return await retrying(once)


async def announce_seat_changes(
    session: AsyncSession,
    showtime_id: int,
    changes: Mapping[int, str],
    *,
    require_scheduled: bool = False,
) -> int | None:
    """Bump the showtime's sequence and NOTIFY the change (seat id -> new status), inside
    the caller's transaction, through the one announcer, the SQL function
    `marquee_announce_seats` (migration 0006_seat_announcer; the hold function calls it
    too). Returns the new sequence, or None when the showtime is gone (or, with
    `require_scheduled`, not SCHEDULED any more).

    Call it as late as possible in the transaction: the UPDATE holds the showtime's row
    lock until commit, which is what keeps sequences in commit order.
    """
    seats = sorted(changes)
    sequence = await session.scalar(
        _ANNOUNCE_SEATS,
        {
            "showtime_id": showtime_id,
            "seat_ids": seats,
            "statuses": [changes[seat] for seat in seats],
            "require_scheduled": require_scheduled,
        },
    )
    return None if sequence is None else int(sequence)


# Typed binds, so the driver sends the function's exact signature.
_ANNOUNCE_SEATS: Executable = select(
    func.marquee_announce_seats(
        bindparam("showtime_id", type_=BigInteger),
        bindparam("seat_ids", type_=ARRAY(BigInteger)),
        bindparam("statuses", type_=ARRAY(Text)),
        bindparam("require_scheduled", type_=Boolean),
    )
)


# The whole hold in one statement: the function `marquee_hold_seats` (migration
# 0004_booking, last redefined by 0013_presale) checks (presale waves included), upserts the
# hold, replaces its seats, bumps the sequence and NOTIFYs.
# Typed binds: the driver gets `$1::BIGINT`, ..., `$3::BIGINT[]` (one exact signature).
_HOLD_SEATS: Executable = select(
    literal_column("o_outcome"),
    literal_column("o_seat_ids"),
    literal_column("o_hold_id"),
    literal_column("o_expires_at"),
    literal_column("o_sequence"),
    literal_column("o_opens_at"),
).select_from(
    func.marquee_hold_seats(
        bindparam("user_id", type_=BigInteger),
        bindparam("showtime_id", type_=BigInteger),
        bindparam("seat_ids", type_=ARRAY(BigInteger)),
        bindparam("ttl_seconds", type_=Integer),
        bindparam("max_seats", type_=Integer),
        bindparam("sales_window_days", type_=Integer),
        bindparam("promo_code", type_=Text),
    ).alias("hold")
)


async def hold_seats(
    on: AsyncSession | Database,
    *,
    user_id: int,
    showtime_id: int,
    seat_ids: list[int],
    ttl_seconds: int,
    max_seats: int,
    sales_window_days: int,
    promo_code: str | None = None,
) -> HoldResult:
    """Hold exactly `seat_ids` for the user, replacing the user's current hold on this
    showtime: seats still wanted stay held (no gap), dropped ones are released, new ones
    are added, and the expiry restarts. All or nothing.

    Before the showtime's general sale (`sales_open_at`) only members of an open presale
    wave may hold: loyalty members with enough points, or holders of the wave's promo code
    (`promo_code`, case-insensitive, active). Others get SHOWTIME_NOT_BOOKABLE naming when
    sales open for them (`opens_at` on the error).

    One statement (`marquee_hold_seats`). On a `Database` it runs on a pooled autocommit
    connection: the statement is the transaction (what the mutation does; no lock is held
    across a round trip). On a session it runs inside the caller's transaction."""
    params = {
        "user_id": user_id,
        "showtime_id": showtime_id,
        "seat_ids": seat_ids,
        "ttl_seconds": ttl_seconds,
        "max_seats": max_seats,
        "sales_window_days": sales_window_days,
        "promo_code": promo_code,
    }
    if isinstance(on, AsyncSession):
        row: Any = (await on.execute(_HOLD_SEATS, params)).one()
    else:
        row = (await on.fetch_static(_HOLD_SEATS, params))[0]
    outcome, seats, hold_id, expires_at, sequence = row[0], row[1], row[2], row[3], row[4]
    if outcome == "OK":
        return HoldResult(
            int(hold_id),
            user_id,
            showtime_id,
            list(seats),
            expires_at,
            None if sequence is None else int(sequence),
        )
    if outcome == "NOT_YET":
        opens_at: datetime = row[5]
        raise not_on_sale_yet(opens_at)
    raise _hold_failure(
        outcome, None if seats is None else list(seats), max_seats, sales_window_days
    )


def not_on_sale_yet(opens_at: datetime) -> DomainError:
    """The refusal of a hold before the user's sales opening (general sale, or the earliest
    presale wave they belong to), naming that time (UTC, ISO 8601) and carrying it as
    `opens_at`."""
    when = opens_at.astimezone(UTC).isoformat(timespec="seconds")
    return DomainError(
        BookingErrorCode.SHOWTIME_NOT_BOOKABLE,
        f"Tickets for this showtime are not on sale for you yet: sales open for you at {when}.",
        "showtimeId",
        opens_at=opens_at,
    )


def _hold_failure(
    outcome: str, seats: list[int] | None, max_seats: int, sales_window_days: int
) -> DomainError:
    """The DomainError for a failure outcome of `marquee_hold_seats`."""
    code = BookingErrorCode
    failures: dict[str, tuple[BookingErrorCode, str, str]] = {
        "EMPTY": (
            code.VALIDATION_ERROR,
            "Choose at least one seat (use releaseHold to let go of all of them).",
            "seatIds",
        ),
        "HOLD_LIMIT_EXCEEDED": (
            code.HOLD_LIMIT_EXCEEDED,
            f"At most {max_seats} seats can be held at once.",
            "seatIds",
        ),
        "REPEATED": (code.VALIDATION_ERROR, "A seat is listed more than once.", "seatIds"),
        "NOT_FOUND": (code.NOT_FOUND, "No such showtime.", "showtimeId"),
        "CANCELLED": (code.SHOWTIME_NOT_BOOKABLE, "This showtime is cancelled.", "showtimeId"),
        "STARTED": (code.SHOWTIME_NOT_BOOKABLE, "This showtime has started.", "showtimeId"),
        "TOO_FAR": (
            code.SHOWTIME_NOT_BOOKABLE,
            f"Tickets go on sale {sales_window_days} days before the showtime.",
            "showtimeId",
        ),
        "FOREIGN": (
            code.VALIDATION_ERROR,
            "These seats are not in this showtime's hall.",
            "seatIds",
        ),
        "BLOCKED": (code.SEAT_UNAVAILABLE, "These seats are blocked.", "seatIds"),
        "TAKEN": (code.SEAT_UNAVAILABLE, "These seats are already taken.", "seatIds"),
    }
    error_code, message, field = failures[outcome]
    if seats is None:
        return DomainError(error_code, message, field)
    return DomainError(error_code, message, field, seat_ids=seats)


async def release_hold(session: AsyncSession, *, user_id: int, hold_id: int) -> ReleaseResult:
    """Release the user's hold (owner only: someone else's hold is NOT_FOUND)."""
    hold = (
        await session.execute(
            select(SeatHold.showtime_id)
            .where(SeatHold.id == hold_id, SeatHold.user_id == user_id)
            .with_for_update()
        )
    ).first()
    if hold is None:
        raise DomainError(BookingErrorCode.NOT_FOUND, "No such hold.", "holdId")
    sold = await session.scalar(
        select(exists().where(SeatOccupancy.hold_id == hold_id, SeatOccupancy.status == "SOLD"))
    )
    if sold:
        raise DomainError(
            BookingErrorCode.VALIDATION_ERROR,
            "This hold has been paid for; cancel the order instead.",
            "holdId",
        )
    freed = [
        int(r[0])
        for r in (
            await session.execute(
                delete(SeatOccupancy)
                .where(SeatOccupancy.hold_id == hold_id)
                .returning(SeatOccupancy.seat_id)
            )
        ).all()
    ]
    await session.execute(delete(SeatHold).where(SeatHold.id == hold_id))
    showtime_id = int(hold.showtime_id)
    if freed:
        await announce_seat_changes(session, showtime_id, dict.fromkeys(freed, "AVAILABLE"))
    return ReleaseResult(hold_id, showtime_id, sorted(freed))


def _occupancy(status: str) -> ColumnElement[bool]:
    return exists().where(SeatOccupancy.hold_id == SeatHold.id, SeatOccupancy.status == status)


# An expired hold the sweeper deletes: seats still HELD by it, or nothing paid (a hold that
# became tickets keeps its row: it belongs to its order then).
SWEEPABLE_HOLD: ColumnElement[bool] = and_(
    SeatHold.expires_at <= func.now(), or_(_occupancy("HELD"), not_(_occupancy("SOLD")))
)


async def sweep_expired_holds(session: AsyncSession, *, limit: int = 1000) -> dict[int, list[int]]:
    """Delete expired holds and announce the freed seats; returns {showtime_id: seat_ids}.

    Only one instance sweeps at a time (a transaction-level advisory lock; the others skip
    this round). Holds locked by a concurrent holdSeats (which is renewing them) are skipped.
    """
    got_lock = await session.scalar(select(func.pg_try_advisory_xact_lock(SWEEPER_LOCK_KEY)))
    if not got_lock:
        return {}
    expired = (
        select(SeatHold.id)
        .where(SWEEPABLE_HOLD)
        .order_by(SeatHold.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    hold_ids = [int(r[0]) for r in (await session.execute(expired)).all()]
    if not hold_ids:
        return {}
    freed = (
        await session.execute(
            delete(SeatOccupancy)
            .where(SeatOccupancy.hold_id.in_(hold_ids), SeatOccupancy.status == "HELD")
            .returning(SeatOccupancy.showtime_id, SeatOccupancy.seat_id)
        )
    ).all()
    await session.execute(
        delete(SeatHold).where(SeatHold.id.in_(hold_ids), not_(_occupancy("SOLD")))
    )
    by_showtime: dict[int, list[int]] = {}
    for showtime_id, seat_id in freed:
        by_showtime.setdefault(int(showtime_id), []).append(int(seat_id))
    for showtime_id in sorted(by_showtime):  # one lock order for every sweeper
        seats = sorted(by_showtime[showtime_id])
        by_showtime[showtime_id] = seats
        await announce_seat_changes(session, showtime_id, dict.fromkeys(seats, "AVAILABLE"))
    return by_showtime
