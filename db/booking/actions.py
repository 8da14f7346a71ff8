"""Booking actions: hold, replace and release seats; sweep expired holds; announce changes.

The unique constraint on seat_occupancy (showtime_id, seat_id) is the judge of who gets a
seat: inserts use ON CONFLICT DO NOTHING, so a seat someone else holds is a missing row in
RETURNING, never an exception. Every change of a showtime's seats bumps
`showtimes.seat_sequence` and calls pg_notify inside the same transaction
(`announce_seat_changes`), so subscribers hear of exactly the changes that committed, in
commit order (the row lock on the showtime orders them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Table,
    Text,
    and_,
    cast,
    delete,
    exists,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from db.booking.codes import SEAT_CHANNEL, STATUS_LETTERS, BookingErrorCode
from db.booking.models import SeatHold, SeatOccupancy
from db.cinemas.models import Seat, Showtime
from db.errors import DomainError

# NOTIFY payloads must stay under 8000 bytes; past this a "resync" marker is sent instead
# and every subscriber of the showtime gets a fresh snapshot.
MAX_PAYLOAD_BYTES = 7900
# Key of the advisory lock that lets one instance sweep at a time.
SWEEPER_LOCK_KEY = 0x4D51_5357  # "MQSW"
# In RETURNING of an upsert: true when the row was inserted, false when it was updated.
CREATED = literal_column("xmax = 0", Boolean).label("created")


@dataclass(frozen=True, slots=True)
class HoldResult:
    id: int
    user_id: int
    showtime_id: int
    seat_ids: list[int]
    expires_at: datetime
    # The showtime's sequence after this change (None: nothing changed, or committed early).
    sequence: int | None


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    hold_id: int
    showtime_id: int
    seat_ids: list[int]


def cast_table(model: type[Any]) -> Table:
    """A mapped class's Table (for Core statements)."""
    table: Table = model.__table__
    return table


def live_occupancy() -> ColumnElement[bool]:
    """SQL condition: an occupancy row that still occupies its seat (sold, or a live hold)."""
    return or_(SeatOccupancy.status == "SOLD", SeatOccupancy.expires_at > func.now())


async def announce_seat_changes(
    session: AsyncSession,
    showtime_id: int,
    changes: Mapping[int, str],
    *,
    require_scheduled: bool = False,
) -> int | None:
    """Bump the showtime's sequence and NOTIFY the change (seat id -> new status), inside
    the caller's transaction. Returns the new sequence, or None when the showtime is gone
    (or, with `require_scheduled`, not SCHEDULED any more).

    Call it as late as possible in the transaction: the UPDATE holds the showtime's row
    lock until commit, which is what keeps sequences in commit order.
    """
    stmt = _announcement(showtime_id, changes, require_scheduled=require_scheduled)
    row = (await session.execute(stmt)).first()
    return None if row is None else int(row[0])


# What `announce_seat_changes` does, plus COMMIT, as one simple query (three statements in
# one round trip) for `announce_and_commit`. A literal text, not compiled per call.
# 1. Bump the sequence (this takes the showtime's row lock). When nothing was bumped
#    (showtime gone, or not SCHEDULED), 1 / 0 aborts the transaction and the statements
#    after it are skipped: nothing is committed and nothing announced.
# 2. NOTIFY with the sequence and the available seats counted in a snapshot taken after the
#    lock was granted (so it includes every change committed before this one).
# 3. COMMIT, which releases the lock.
_ANNOUNCE_AND_COMMIT = """
WITH bumped AS (
    UPDATE showtimes SET seat_sequence = seat_sequence + 1
    WHERE id = {showtime} {scheduled}
    RETURNING id
)
SELECT 1 / (SELECT count(*) FROM bumped);
SELECT pg_notify('{channel}', json_build_object(
    's', st.id,
    'q', st.seat_sequence,
    'a', (
        SELECT count(*) FROM seats s
        WHERE s.hall_id = st.hall_id AND NOT s.is_blocked AND NOT EXISTS (
            SELECT 1 FROM seat_occupancy o
            WHERE o.showtime_id = st.id AND o.seat_id = s.id
            AND (o.status = 'SOLD' OR o.expires_at > now())
        )
    ),
    {tail}
)::text)
FROM showtimes st WHERE st.id = {showtime};
COMMIT
"""


class ShowtimeNotScheduled(Exception):
    """`announce_and_commit` found the showtime cancelled (nothing was committed)."""


# SQLSTATE of the division by zero that `announce_and_commit` uses to abort the transaction
# when the showtime is gone or not SCHEDULED any more.
_GONE_SQLSTATE = "22012"


async def announce_and_commit(
    session: AsyncSession,
    showtime_id: int,
    changes: Mapping[int, str],
    *,
    require_scheduled: bool = False,
) -> int | None:
    """`announce_seat_changes` as the LAST statement of a top-level transaction, sent
    together with COMMIT in one round trip, so the showtime's row lock (which orders the
    sequences) is released inside PostgreSQL without waiting for this process to send
    COMMIT. Under load, that wait (event-loop latency while the lock is held) serialized
    every hold of a showtime: ~40-90 holds/s on one showtime instead of several hundred.

    Returns None when committed here (the new sequence is not read back then): the
    session's own commit then finds no transaction (PostgreSQL only warns). Inside a
    savepoint (tests' shared connection) it cannot commit, so it announces as usual and
    returns the new sequence. Raises ShowtimeNotScheduled, with the transaction aborted,
    when the showtime is gone (or not SCHEDULED with `require_scheduled`).
    """
    conn = await session.connection()
    if conn.in_nested_transaction():
        sequence = await announce_seat_changes(
            session, showtime_id, changes, require_scheduled=require_scheduled
        )
        if sequence is None:
            raise ShowtimeNotScheduled(showtime_id)
        return sequence
    listed = orjson.dumps([[seat, STATUS_LETTERS[st]] for seat, st in sorted(changes.items())])
    # Too big for NOTIFY: subscribers resync. Else only digits, brackets, commas and quoted
    # status letters: nothing to escape.
    too_big = len(listed) + 100 > MAX_PAYLOAD_BYTES
    tail = "'r', 1" if too_big else f"'c', '{listed.decode()}'::json"
    sql = _ANNOUNCE_AND_COMMIT.format(
        showtime=int(showtime_id),
        scheduled="AND status = 'SCHEDULED'" if require_scheduled else "",
        channel=SEAT_CHANNEL,
        tail=tail,
    )
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    try:
        # Simple-query protocol: both statements in one message (no parameters: the SQL
        # holds only integers and the JSON of seat ids and status letters).
        await driver.execute(sql)
    except Exception as exc:
        if getattr(exc, "sqlstate", None) == _GONE_SQLSTATE:
            raise ShowtimeNotScheduled(showtime_id) from exc
        raise
    return None


def _announcement(
    showtime_id: int, changes: Mapping[int, str], *, require_scheduled: bool
) -> Select[Any]:
    """SELECT (new sequence, pg_notify(...)) after bumping the sequence: no row when the
    showtime is gone (or not SCHEDULED with `require_scheduled`)."""
    cond = [Showtime.id == showtime_id]
    if require_scheduled:
        cond.append(Showtime.status == "SCHEDULED")
    bumped = (
        update(Showtime)
        .where(*cond)
        .values(seat_sequence=Showtime.seat_sequence + 1)
        .returning(Showtime.seat_sequence, Showtime.hall_id)
        .cte("bumped")
    )
    taken = exists().where(
        SeatOccupancy.showtime_id == showtime_id,
        SeatOccupancy.seat_id == Seat.id,
        live_occupancy(),
    )
    available = (
        select(func.count())
        .select_from(Seat)
        .where(Seat.hall_id == bumped.c.hall_id, Seat.is_blocked.is_(False), not_(taken))
        .scalar_subquery()
    )
    counted = select(bumped.c.seat_sequence.label("q"), available.label("a")).cte("counted")
    # The payload is built in SQL so that bump, count and NOTIFY are one round trip.
    listed = orjson.dumps([[seat, STATUS_LETTERS[st]] for seat, st in sorted(changes.items())])
    if len(listed) + 100 > MAX_PAYLOAD_BYTES:  # too big for NOTIFY: subscribers resync
        tail: tuple[Any, ...] = ("r", 1)
    else:
        tail = ("c", cast(literal(listed.decode(), Text), JSON))
    body = func.json_build_object("s", showtime_id, "q", counted.c.q, "a", counted.c.a, *tail)
    notify = func.pg_notify(SEAT_CHANNEL, cast(body, Text))
    return select(counted.c.q, notify)


async def hold_seats(
    session: AsyncSession,
    *,
    user_id: int,
    showtime_id: int,
    seat_ids: list[int],
    ttl_seconds: int,
    max_seats: int,
    sales_window_days: int,
    commit_early: bool = False,
) -> HoldResult:
    """Hold exactly `seat_ids` for the user, replacing the user's current hold on this
    showtime: seats still wanted stay held (no gap), dropped ones are released, new ones
    are added, and the expiry restarts. All or nothing.

    `commit_early`: the caller's transaction is committed together with the announcement
    (`announce_and_commit`) when seats changed; the caller must run nothing after it."""
    if not seat_ids:
        raise DomainError(
            BookingErrorCode.VALIDATION_ERROR,
            "Choose at least one seat (use releaseHold to let go of all of them).",
            "seatIds",
        )
    if len(seat_ids) > max_seats:
        raise DomainError(
            BookingErrorCode.HOLD_LIMIT_EXCEEDED,
            f"At most {max_seats} seats can be held at once.",
            "seatIds",
        )
    repeated = sorted({s for s in seat_ids if seat_ids.count(s) > 1})
    if repeated:
        raise DomainError(
            BookingErrorCode.VALIDATION_ERROR,
            "A seat is listed more than once.",
            "seatIds",
            seat_ids=repeated,
        )
    wanted = sorted(set(seat_ids))

    # The showtime and the wanted seats of its hall, in one statement.
    rows = (
        await session.execute(
            select(
                Showtime.status,
                (Showtime.starts_at <= func.now()).label("started"),
                (
                    Showtime.starts_at > func.now() + func.make_interval(0, 0, 0, sales_window_days)
                ).label("too_far"),
                Seat.id.label("seat_id"),
                Seat.is_blocked,
            )
            .select_from(Showtime)
            .outerjoin(Seat, and_(Seat.hall_id == Showtime.hall_id, Seat.id.in_(wanted)))
            .where(Showtime.id == showtime_id)
        )
    ).all()
    if not rows:
        raise DomainError(BookingErrorCode.NOT_FOUND, "No such showtime.", "showtimeId")
    show = rows[0]
    if show.status != "SCHEDULED":
        raise DomainError(
            BookingErrorCode.SHOWTIME_NOT_BOOKABLE, "This showtime is cancelled.", "showtimeId"
        )
    if show.started:
        raise DomainError(
            BookingErrorCode.SHOWTIME_NOT_BOOKABLE, "This showtime has started.", "showtimeId"
        )
    if show.too_far:
        raise DomainError(
            BookingErrorCode.SHOWTIME_NOT_BOOKABLE,
            f"Tickets go on sale {sales_window_days} days before the showtime.",
            "showtimeId",
        )
    found = {row.seat_id: row.is_blocked for row in rows if row.seat_id is not None}
    foreign = [s for s in wanted if s not in found]
    if foreign:
        raise DomainError(
            BookingErrorCode.VALIDATION_ERROR,
            "These seats are not in this showtime's hall.",
            "seatIds",
            seat_ids=foreign,
        )
    blocked = [s for s in wanted if found[s]]
    if blocked:
        raise DomainError(
            BookingErrorCode.SEAT_UNAVAILABLE,
            "These seats are blocked.",
            "seatIds",
            seat_ids=blocked,
        )

    # The upsert creates the hold or locks and renews the user's existing one.
    expires_at_sql = func.least(
        func.now() + func.make_interval(0, 0, 0, 0, 0, 0, float(ttl_seconds)),
        select(Showtime.starts_at).where(Showtime.id == showtime_id).scalar_subquery(),
    )
    # On the Table, not the mapped class: a Core insert skips the ORM's bulk-insert
    # machinery (measured: ~9% of a worker's time under the hold benchmark).
    holds = cast_table(SeatHold)
    new_hold = insert(holds).values(
        user_id=user_id, showtime_id=showtime_id, expires_at=expires_at_sql
    )
    upsert = new_hold.on_conflict_do_update(
        index_elements=[holds.c.user_id, holds.c.showtime_id],
        set_={"expires_at": new_hold.excluded.expires_at},
    ).returning(holds.c.id, holds.c.expires_at, CREATED)
    hold = (await session.execute(upsert)).one()
    hold_id, expires_at = int(hold.id), hold.expires_at

    released: list[int] = []
    kept: set[int] = set()
    if not hold.created:
        released, kept = await _renew_previous(session, hold_id, wanted, expires_at)

    to_add = [s for s in wanted if s not in kept]
    if to_add:
        lost = await _occupy(session, showtime_id, hold_id, to_add, expires_at)
        if lost:
            # An expired hold that the sweeper has not reached yet does not occupy its
            # seat: free such seats and try them once more.
            expired = (
                await session.execute(
                    delete(SeatOccupancy)
                    .where(
                        SeatOccupancy.showtime_id == showtime_id,
                        SeatOccupancy.seat_id.in_(lost),
                        SeatOccupancy.status == "HELD",
                        SeatOccupancy.expires_at <= func.now(),
                    )
                    .returning(SeatOccupancy.seat_id)
                )
            ).all()
            if expired:
                lost = await _occupy(session, showtime_id, hold_id, lost, expires_at)
        if lost:
            raise DomainError(
                BookingErrorCode.SEAT_UNAVAILABLE,
                "These seats are already taken.",
                "seatIds",
                seat_ids=lost,
            )

    changes = dict.fromkeys(released, "AVAILABLE") | dict.fromkeys(to_add, "HELD")
    sequence = None
    if changes:
        try:
            if commit_early:
                sequence = await announce_and_commit(
                    session, showtime_id, changes, require_scheduled=True
                )
            else:
                sequence = await announce_seat_changes(
                    session, showtime_id, changes, require_scheduled=True
                )
                if sequence is None:
                    raise ShowtimeNotScheduled(showtime_id)
        except ShowtimeNotScheduled:  # cancelled while we were holding
            raise DomainError(
                BookingErrorCode.SHOWTIME_NOT_BOOKABLE, "This showtime is cancelled.", "showtimeId"
            ) from None
    return HoldResult(hold_id, user_id, showtime_id, wanted, expires_at, sequence)


async def _renew_previous(
    session: AsyncSession, hold_id: int, wanted: list[int], expires_at: datetime
) -> tuple[list[int], set[int]]:
    """Seats of the user's previous hold: release those not wanted any more, renew the
    expiry of the others (one statement). Returns (released, kept)."""
    released: list[int] = []
    kept: set[int] = set()
    gone = (
        delete(SeatOccupancy)
        .where(
            SeatOccupancy.hold_id == hold_id,
            SeatOccupancy.status == "HELD",
            SeatOccupancy.seat_id.not_in(wanted),
        )
        .returning(SeatOccupancy.seat_id)
        .cte("gone")
    )
    renewed = (
        update(SeatOccupancy)
        .where(
            SeatOccupancy.hold_id == hold_id,
            SeatOccupancy.status == "HELD",
            SeatOccupancy.seat_id.in_(wanted),
        )
        .values(expires_at=expires_at)
        .returning(SeatOccupancy.seat_id)
        .cte("renewed")
    )
    previous = select(gone.c.seat_id, literal(False).label("kept")).union_all(
        select(renewed.c.seat_id, literal(True).label("kept"))
    )
    for row in (await session.execute(previous)).all():
        if row.kept:
            kept.add(int(row.seat_id))
        else:
            released.append(int(row.seat_id))
    return released, kept


async def _occupy(
    session: AsyncSession, showtime_id: int, hold_id: int, seats: list[int], expires_at: datetime
) -> list[int]:
    """Insert occupancy rows; the unique constraint decides. Returns the seats lost."""
    # Sorted inserts: two racing holds lock their seats in the same order.
    rows = [
        {
            "showtime_id": showtime_id,
            "seat_id": s,
            "hold_id": hold_id,
            "status": "HELD",
            "expires_at": expires_at,
        }
        for s in sorted(seats)
    ]
    occupancy = cast_table(SeatOccupancy)  # Core insert (see the hold upsert)
    stmt = (
        insert(occupancy)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[occupancy.c.showtime_id, occupancy.c.seat_id])
        .returning(occupancy.c.seat_id)
    )
    won = {int(r[0]) for r in (await session.execute(stmt)).all()}
    return [s for s in sorted(seats) if s not in won]


async def release_hold(
    session: AsyncSession, *, user_id: int, hold_id: int, commit_early: bool = False
) -> ReleaseResult:
    """Release the user's hold (owner only: someone else's hold is NOT_FOUND).
    `commit_early`: as for hold_seats."""
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
        changes = dict.fromkeys(freed, "AVAILABLE")
        if commit_early:
            try:
                await announce_and_commit(session, showtime_id, changes)
            except ShowtimeNotScheduled:  # the showtime was deleted meanwhile
                raise DomainError(BookingErrorCode.NOT_FOUND, "No such hold.", "holdId") from None
        else:
            await announce_seat_changes(session, showtime_id, changes)
    return ReleaseResult(hold_id, showtime_id, sorted(freed))


async def sweep_expired_holds(session: AsyncSession, *, limit: int = 1000) -> dict[int, list[int]]:
    """Delete expired holds and announce the freed seats; returns {showtime_id: seat_ids}.

    Only one instance sweeps at a time (a transaction-level advisory lock; the others skip
    this round). Holds locked by a concurrent holdSeats (which is renewing them) are skipped.
    """
    got_lock = await session.scalar(select(func.pg_try_advisory_xact_lock(SWEEPER_LOCK_KEY)))
    if not got_lock:
        return {}

    def occupancy(status: str) -> ColumnElement[bool]:
        return exists().where(SeatOccupancy.hold_id == SeatHold.id, SeatOccupancy.status == status)

    # Expired holds with seats to free, or nothing paid (a hold that became tickets keeps
    # its row: it belongs to its order then).
    expired = (
        select(SeatHold.id)
        .where(SeatHold.expires_at <= func.now(), or_(occupancy("HELD"), not_(occupancy("SOLD"))))
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
        delete(SeatHold).where(SeatHold.id.in_(hold_ids), not_(occupancy("SOLD")))
    )
    by_showtime: dict[int, list[int]] = {}
    for showtime_id, seat_id in freed:
        by_showtime.setdefault(int(showtime_id), []).append(int(seat_id))
    for showtime_id in sorted(by_showtime):  # one lock order for every sweeper
        seats = sorted(by_showtime[showtime_id])
        by_showtime[showtime_id] = seats
        await announce_seat_changes(session, showtime_id, dict.fromkeys(seats, "AVAILABLE"))
    return by_showtime
