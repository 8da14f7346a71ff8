"""Order actions: checkout, fulfilment of a paid order, expiry, cancellation with refund,
check-in, and idempotency keys (docs/orders.md).

Every function here runs inside the caller's transaction (one per mutation) and raises
`DomainError` with `OrderErrorCode`s; the payment flow that spans the provider call lives in
`db.payments.actions`. Row locks, always taken in the order order -> payment -> seats ->
showtime (the announcement), serialize racing payments, expiry, cancellation and check-in.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts.models import User
from db.booking.actions import SWEEPER_LOCK_KEY, announce_seat_changes
from db.booking.models import SeatHold, SeatOccupancy
from db.catalog.models import Movie
from db.cinemas.models import Cinema, Hall, Seat
from db.errors import DomainError
from db.orders.codes import (
    ORDER_NUMBER_LENGTH,
    ORDER_NUMBER_PREFIX,
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    OrderErrorCode,
    OrderLineKind,
    OrderStatus,
    TicketStatus,
)
from db.orders.models import IdempotencyKey, Order, OrderLine, Ticket
from db.outbox.actions import enqueue_email
from db.showtimes.models import Showtime, ShowtimePrice

C = OrderErrorCode

# How long idempotency keys are kept (at least 24 hours, as the API promises).
IDEMPOTENCY_TTL = timedelta(hours=25)

# sign(ticket_id, showtime_id, seat_id) -> the ticket's signed QR payload.
Signer = Callable[[int, int, int], str]


def random_code(length: int) -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(length))


# --- idempotency keys ----------------------------------------------------------------------


def request_hash(operation: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 of the operation's canonical input (sorted keys, no whitespace)."""
    canonical = json.dumps({"op": operation, **fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredResult:
    """The first result of a call with an idempotency key; `done` is False while that call
    is still running (payOrder spans several transactions)."""

    done: bool
    order_id: int | None
    errors: list[dict[str, Any]]


async def claim_idempotency_key(
    session: AsyncSession, *, user_id: int, operation: str, key: str, digest: str
) -> StoredResult | None:
    """Claim `key` for this call; None when it is new (go on, then `store_result`). A racing
    call with the same key waits on the primary key until this transaction ends, then reads
    what it stored. The same key with another input is IDEMPOTENCY_KEY_REUSED."""
    claimed = await session.scalar(
        pg_insert(IdempotencyKey)
        .values(user_id=user_id, operation=operation, key=key, request_hash=digest)
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    )
    if claimed is not None:
        return None
    row = (
        await session.execute(
            select(IdempotencyKey.request_hash, IdempotencyKey.result).where(
                IdempotencyKey.user_id == user_id,
                IdempotencyKey.operation == operation,
                IdempotencyKey.key == key,
            )
        )
    ).one()
    if row.request_hash != digest:
        raise DomainError(
            C.IDEMPOTENCY_KEY_REUSED,
            "This idempotency key was used with a different input.",
            "idempotencyKey",
        )
    if row.result is None:
        return StoredResult(False, None, [])
    return StoredResult(True, row.result.get("order_id"), list(row.result.get("errors", [])))


async def store_result(
    session: AsyncSession,
    *,
    user_id: int,
    operation: str,
    key: str,
    order_id: int | None,
    errors: Sequence[Mapping[str, Any]] = (),
) -> None:
    await session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.operation == operation,
            IdempotencyKey.key == key,
        )
        .values(result={"order_id": order_id, "errors": [dict(e) for e in errors]})
    )


async def read_stored_result(
    session: AsyncSession, *, user_id: int, operation: str, key: str
) -> StoredResult | None:
    row = (
        await session.execute(
            select(IdempotencyKey.result).where(
                IdempotencyKey.user_id == user_id,
                IdempotencyKey.operation == operation,
                IdempotencyKey.key == key,
            )
        )
    ).first()
    if row is None:
        return None
    if row.result is None:
        return StoredResult(False, None, [])
    return StoredResult(True, row.result.get("order_id"), list(row.result.get("errors", [])))


async def delete_old_idempotency_keys(session: AsyncSession) -> int:
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < func.now() - IDEMPOTENCY_TTL)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- checkout ------------------------------------------------------------------------------


def ticket_line_description(title: str, row_label: str, number: int, seat_type: str) -> str:
    """A ticket line as sold, e.g. "Amélie: seat F7 (standard)"."""
    return f"{title}: seat {row_label}{number} ({seat_type.lower()})"[:300]


def loyalty_points_for(total: Decimal, points_per_unit: Decimal) -> int:
    """The loyalty points a paid order earns: `points_per_unit` per whole currency unit of
    its total, rounded down."""
    return int((total * points_per_unit).to_integral_value(rounding=ROUND_FLOOR))


async def checkout(session: AsyncSession, *, user_id: int, hold_id: int) -> int:
    """Turn the user's live hold into a PENDING_PAYMENT order; returns the order id.

    The hold's seats move to the order (still HELD, same expiry) and the hold row goes, so
    the user may hold other seats of the showtime meanwhile. Prices are the showtime's,
    read here; nothing the client sends is a price. A hold already checked out returns its
    order while that is pending or paid (one order per hold)."""
    hold = (
        await session.execute(
            select(SeatHold.id, SeatHold.user_id, SeatHold.showtime_id, SeatHold.expires_at)
            .where(SeatHold.id == hold_id)
            .with_for_update()
        )
    ).first()
    if hold is None or hold.user_id != user_id:
        existing = (
            await session.execute(
                select(Order.id, Order.status).where(
                    Order.hold_id == hold_id, Order.user_id == user_id
                )
            )
        ).first()
        if existing is None:
            raise DomainError(C.NOT_FOUND, "No such hold.", "holdId")
        if existing.status in (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID):
            return int(existing.id)
        raise DomainError(C.HOLD_EXPIRED, "This hold's order has expired or was cancelled.")
    now = await session.scalar(select(func.now()))
    if hold.expires_at <= now:
        raise DomainError(C.HOLD_EXPIRED, "This hold has expired; hold the seats again.", "holdId")
    show = (
        await session.execute(
            select(
                Showtime.status,
                Showtime.starts_at,
                Movie.title,
            )
            .join(Movie, Movie.id == Showtime.movie_id)
            .where(Showtime.id == hold.showtime_id)
        )
    ).one()
    if show.status != "SCHEDULED" or show.starts_at <= now:
        raise DomainError(
            C.SHOWTIME_NOT_BOOKABLE, "This showtime is cancelled or has started.", "holdId"
        )
    seats = (
        await session.execute(
            select(
                Seat.id,
                Seat.row_label,
                Seat.number,
                Seat.seat_type,
                ShowtimePrice.amount,
                ShowtimePrice.currency,
            )
            .join(SeatOccupancy, SeatOccupancy.seat_id == Seat.id)
            .outerjoin(
                ShowtimePrice,
                and_(
                    ShowtimePrice.showtime_id == SeatOccupancy.showtime_id,
                    ShowtimePrice.seat_type == Seat.seat_type,
                ),
            )
            .where(SeatOccupancy.hold_id == hold_id, SeatOccupancy.status == "HELD")
            .order_by(Seat.y, Seat.x, Seat.id)
        )
    ).all()
    if not seats:
        raise DomainError(C.HOLD_EXPIRED, "This hold has no seats left.", "holdId")
    unpriced = sorted({s.seat_type for s in seats if s.amount is None})
    if unpriced:
        raise DomainError(
            C.SHOWTIME_NOT_BOOKABLE,
            f"This showtime has no price for {', '.join(unpriced)} seats.",
            "holdId",
        )
    currencies = {s.currency for s in seats}
    if len(currencies) != 1:
        raise DomainError(C.SHOWTIME_NOT_BOOKABLE, "This showtime's prices mix currencies.")
    currency = currencies.pop()
    subtotal = sum((Decimal(s.amount) for s in seats), Decimal(0))

    order_id = await _insert_order(
        session,
        user_id=user_id,
        hold_id=hold_id,
        showtime_id=int(hold.showtime_id),
        currency=currency,
        subtotal=subtotal,
        expires_at=hold.expires_at,
    )
    await session.execute(
        insert(OrderLine),
        [
            {
                "order_id": order_id,
                "position": i,
                "kind": OrderLineKind.TICKET.value,
                "description": ticket_line_description(
                    show.title, s.row_label, s.number, s.seat_type
                ),
                "quantity": 1,
                "unit_price": s.amount,
                "showtime_id": hold.showtime_id,
                "seat_id": s.id,
                "seat_type": s.seat_type,
            }
            for i, s in enumerate(seats)
        ],
    )
    await session.execute(
        update(SeatOccupancy)
        .where(SeatOccupancy.hold_id == hold_id, SeatOccupancy.status == "HELD")
        .values(order_id=order_id, hold_id=None)
    )
    await session.execute(delete(SeatHold).where(SeatHold.id == hold_id))
    return order_id


async def _insert_order(session: AsyncSession, **values: Any) -> int:
    """Insert with a fresh random number (a clash, rare, draws again)."""
    for _ in range(8):
        number = ORDER_NUMBER_PREFIX + random_code(ORDER_NUMBER_LENGTH)
        order_id = await session.scalar(
            pg_insert(Order)
            .values(
                number=number,
                status=OrderStatus.PENDING_PAYMENT.value,
                discount=Decimal(0),
                total=values["subtotal"],
                **values,
            )
            .on_conflict_do_nothing(index_elements=["number"])
            .returning(Order.id)
        )
        if order_id is not None:
            return int(order_id)
    raise RuntimeError("could not draw a free order number")


# --- reading an order under lock -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LockedOrder:
    id: int
    number: str
    user_id: int
    showtime_id: int | None
    status: str
    currency: str
    total: Decimal
    loyalty_points: int
    expires_at: datetime
    now: datetime


async def lock_order(
    session: AsyncSession, order_id: int, *, user_id: int | None = None, skip_locked: bool = False
) -> LockedOrder | None:
    """The order, row-locked for this transaction; None when missing or (with `user_id`)
    not that user's. `skip_locked`: None when another transaction holds it."""
    stmt = (
        select(
            Order.id,
            Order.number,
            Order.user_id,
            Order.showtime_id,
            Order.status,
            Order.currency,
            Order.total,
            Order.loyalty_points,
            Order.expires_at,
            func.now().label("now"),
        )
        .where(Order.id == order_id)
        .with_for_update(skip_locked=skip_locked)
    )
    if user_id is not None:
        stmt = stmt.where(Order.user_id == user_id)
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    return LockedOrder(
        int(row.id),
        row.number,
        int(row.user_id),
        None if row.showtime_id is None else int(row.showtime_id),
        row.status,
        row.currency,
        Decimal(row.total),
        int(row.loyalty_points),
        row.expires_at,
        row.now,
    )


def payable(order: LockedOrder) -> bool:
    return order.status == OrderStatus.PENDING_PAYMENT and order.expires_at > order.now


# --- fulfilment: a paid order becomes tickets -----------------------------------------------


async def fulfil(
    session: AsyncSession,
    order: LockedOrder,
    *,
    points_per_unit: Decimal,
    sign: Signer,
) -> bool:
    """Turn a payable, locked order into a PAID one, in the caller's transaction: its seats
    SOLD in place, one ticket per seat, loyalty points and total spent, the confirmation
    e-mail in the outbox, the seats announced SOLD. Returns False (and changes nothing)
    when the order's seats are not all still held by it (expired and taken meanwhile)."""
    lines = (
        await session.execute(
            select(
                OrderLine.id, OrderLine.seat_id, OrderLine.showtime_id, OrderLine.unit_price
            ).where(OrderLine.order_id == order.id, OrderLine.kind == OrderLineKind.TICKET.value)
        )
    ).all()
    sold = (
        await session.execute(
            update(SeatOccupancy)
            .where(SeatOccupancy.order_id == order.id, SeatOccupancy.status == "HELD")
            .values(status="SOLD", expires_at=None)
            .returning(SeatOccupancy.seat_id)
        )
    ).all()
    if sorted(int(r[0]) for r in sold) != sorted(int(line.seat_id) for line in lines):
        return False
    points = loyalty_points_for(order.total, points_per_unit)
    await session.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(status=OrderStatus.PAID.value, paid_at=func.now(), loyalty_points=points)
    )
    await session.execute(
        update(User)
        .where(User.id == order.user_id)
        .values(
            loyalty_points=User.loyalty_points + points,
            total_spent=User.total_spent + order.total,
        )
    )
    pending = list(lines)
    tickets: list[tuple[int, str, Any]] = []
    for _ in range(8):
        drawn = [(line, random_code(REFERENCE_LENGTH)) for line in pending]
        made = (
            await session.execute(
                pg_insert(Ticket)
                .values(
                    [
                        {
                            "booking_reference": ref,
                            "order_id": order.id,
                            "order_line_id": line.id,
                            "user_id": order.user_id,
                            "showtime_id": line.showtime_id,
                            "seat_id": line.seat_id,
                            "status": TicketStatus.VALID.value,
                            "price": line.unit_price,
                            "currency": order.currency,
                        }
                        for line, ref in drawn
                    ]
                )
                .on_conflict_do_nothing(index_elements=["booking_reference"])
                .returning(Ticket.id, Ticket.booking_reference, Ticket.order_line_id)
            )
        ).all()
        done = {int(r.order_line_id) for r in made}
        tickets += [(int(r.id), r.booking_reference, r.order_line_id) for r in made]
        pending = [line for line in pending if int(line.id) not in done]
        if not pending:
            break
    if pending:
        raise RuntimeError("could not draw free booking references")
    await _enqueue_confirmation(session, order, tickets, sign)
    if order.showtime_id is not None and sold:
        await announce_seat_changes(
            session, order.showtime_id, dict.fromkeys((int(r[0]) for r in sold), "SOLD")
        )
    return True


async def _showtime_context(session: AsyncSession, showtime_id: int) -> dict[str, Any]:
    row = (
        await session.execute(
            select(
                Movie.title,
                Cinema.name.label("cinema"),
                Cinema.time_zone,
                Hall.name.label("hall"),
                Showtime.starts_at,
            )
            .select_from(Showtime)
            .join(Movie, Movie.id == Showtime.movie_id)
            .join(Hall, Hall.id == Showtime.hall_id)
            .join(Cinema, Cinema.id == Hall.cinema_id)
            .where(Showtime.id == showtime_id)
        )
    ).one()
    return {
        "movie_title": row.title,
        "cinema_name": row.cinema,
        "hall_name": row.hall,
        "starts_at": row.starts_at.isoformat(),
        "time_zone": row.time_zone,
    }


async def _customer(session: AsyncSession, user_id: int) -> Any:
    return (
        await session.execute(
            select(User.email, User.full_name, User.username).where(User.id == user_id)
        )
    ).one()


async def _enqueue_confirmation(
    session: AsyncSession,
    order: LockedOrder,
    tickets: list[tuple[int, str, Any]],
    sign: Signer,
) -> None:
    customer = await _customer(session, order.user_id)
    lines = (
        await session.execute(
            select(
                OrderLine.id,
                OrderLine.description,
                OrderLine.quantity,
                OrderLine.unit_price,
                OrderLine.discount,
                OrderLine.seat_id,
                OrderLine.showtime_id,
                Seat.row_label,
                Seat.number,
            )
            .outerjoin(Seat, Seat.id == OrderLine.seat_id)
            .where(OrderLine.order_id == order.id)
            .order_by(OrderLine.position)
        )
    ).all()
    by_line = {int(line.id): line for line in lines}
    context: dict[str, Any] = {
        "order_number": order.number,
        "customer_name": customer.full_name or customer.username,
        "total": str(order.total),
        "currency": order.currency,
        "lines": [
            {
                "description": line.description,
                "quantity": line.quantity,
                "total": str(line.unit_price * line.quantity - line.discount),
            }
            for line in lines
        ],
        "tickets": [
            {
                "booking_reference": ref,
                "seat_label": f"{by_line[int(line_id)].row_label}{by_line[int(line_id)].number}",
                "price": str(by_line[int(line_id)].unit_price),
                "qr_payload": sign(
                    ticket_id,
                    int(by_line[int(line_id)].showtime_id),
                    int(by_line[int(line_id)].seat_id),
                ),
            }
            for ticket_id, ref, line_id in sorted(tickets, key=lambda t: t[0])
        ],
    }
    if order.showtime_id is not None:
        context.update(await _showtime_context(session, order.showtime_id))
    await enqueue_email(
        session,
        template="order_confirmation",
        to=customer.email,
        context=context,
        dedupe_key=f"order-confirmation:{order.id}",
    )


# --- releasing an order's seats ------------------------------------------------------------


async def release_order_seats(session: AsyncSession, order: LockedOrder) -> list[int]:
    """Free every seat the order occupies (held or sold) and announce them AVAILABLE."""
    freed = sorted(
        int(r[0])
        for r in (
            await session.execute(
                delete(SeatOccupancy)
                .where(SeatOccupancy.order_id == order.id)
                .returning(SeatOccupancy.seat_id)
            )
        ).all()
    )
    if freed and order.showtime_id is not None:
        await announce_seat_changes(session, order.showtime_id, dict.fromkeys(freed, "AVAILABLE"))
    return freed


async def expire_orders(session: AsyncSession, *, limit: int = 500) -> list[int]:
    """Pending orders past their expiry become EXPIRED, their seats released and announced
    (the sweeper's round, under its advisory lock: an instance that does not get it skips
    the round). Orders locked by a payment in progress are skipped this round."""
    if not await session.scalar(select(func.pg_try_advisory_xact_lock(SWEEPER_LOCK_KEY))):
        return []
    rows = (
        await session.execute(
            select(Order.id)
            .where(
                Order.status == OrderStatus.PENDING_PAYMENT.value,
                Order.expires_at <= func.now(),
            )
            .order_by(Order.showtime_id, Order.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    ids = [int(r[0]) for r in rows]
    if not ids:
        return []
    await session.execute(
        update(Order).where(Order.id.in_(ids)).values(status=OrderStatus.EXPIRED.value)
    )
    freed = (
        await session.execute(
            delete(SeatOccupancy)
            .where(SeatOccupancy.order_id.in_(ids), SeatOccupancy.status == "HELD")
            .returning(SeatOccupancy.showtime_id, SeatOccupancy.seat_id)
        )
    ).all()
    by_showtime: dict[int, list[int]] = {}
    for showtime_id, seat_id in freed:
        by_showtime.setdefault(int(showtime_id), []).append(int(seat_id))
    for showtime_id in sorted(by_showtime):
        await announce_seat_changes(
            session, showtime_id, dict.fromkeys(sorted(by_showtime[showtime_id]), "AVAILABLE")
        )
    return ids


# --- cancellation --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refund:
    """What cancelling a paid order must refund through the provider."""

    payment_id: int
    provider: str
    charge_id: str
    amount: Decimal


async def check_cancellable(
    session: AsyncSession, order: LockedOrder, *, cutoff: timedelta, by_staff: bool = False
) -> None:
    """Raise ORDER_NOT_CANCELLABLE unless the order may be cancelled now: pending, or paid
    with no ticket used and the showtime more than `cutoff` away (staff cancelling a
    cancelled showtime skip the cutoff)."""
    if order.status == OrderStatus.PENDING_PAYMENT:
        return
    if order.status != OrderStatus.PAID:
        raise DomainError(
            C.ORDER_NOT_CANCELLABLE, f"This order is {order.status.lower()}.", "orderId"
        )
    used = await session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.order_id == order.id, Ticket.status == TicketStatus.USED.value)
    )
    if used:
        raise DomainError(
            C.ORDER_NOT_CANCELLABLE, "A ticket of this order has been used.", "orderId"
        )
    if by_staff or order.showtime_id is None:
        return
    starts_at = await session.scalar(
        select(Showtime.starts_at).where(Showtime.id == order.showtime_id)
    )
    if starts_at is not None and starts_at - cutoff <= order.now:
        minutes = int(cutoff.total_seconds() // 60)
        raise DomainError(
            C.ORDER_NOT_CANCELLABLE,
            f"Orders can be cancelled up to {minutes} minutes before the showtime.",
            "orderId",
        )


async def cancel_pending(session: AsyncSession, order: LockedOrder) -> None:
    """A pending order becomes CANCELLED and its seats are released. A payment still in
    flight (tok_async) is refunded when its confirmation arrives (the order is no longer
    payable then)."""
    await session.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(status=OrderStatus.CANCELLED.value, cancelled_at=func.now())
    )
    await release_order_seats(session, order)


async def mark_refunded(
    session: AsyncSession, order: LockedOrder, *, reason: str, template: str = "refund"
) -> None:
    """After the provider refunded a paid order: REFUNDED, tickets CANCELLED, seats freed
    and announced, loyalty points and total spent taken back, the customer e-mailed."""
    await session.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(
            status=OrderStatus.REFUNDED.value,
            refunded_at=func.now(),
            cancelled_at=func.now(),
        )
    )
    await session.execute(
        update(Ticket)
        .where(Ticket.order_id == order.id, Ticket.status != TicketStatus.CANCELLED.value)
        .values(status=TicketStatus.CANCELLED.value, cancelled_at=func.now())
    )
    await session.execute(
        update(User)
        .where(User.id == order.user_id)
        .values(
            loyalty_points=func.greatest(0, User.loyalty_points - order.loyalty_points),
            total_spent=func.greatest(0, User.total_spent - order.total),
        )
    )
    await release_order_seats(session, order)
    customer = await _customer(session, order.user_id)
    context: dict[str, Any] = {
        "order_number": order.number,
        "customer_name": customer.full_name or customer.username,
        "amount": str(order.total),
        "refund_amount": str(order.total),
        "currency": order.currency,
        "reason": reason,
    }
    if order.showtime_id is not None:
        context.update(await _showtime_context(session, order.showtime_id))
    await enqueue_email(
        session,
        template=template,
        to=customer.email,
        context=context,
        dedupe_key=f"{template}:{order.id}",
    )


async def cancel_pending_orders_of_showtime(session: AsyncSession, showtime_id: int) -> list[int]:
    """When a showtime is cancelled: its pending orders become CANCELLED (their seats are
    released by the showtime's own cancellation)."""
    rows = (
        await session.execute(
            update(Order)
            .where(
                Order.showtime_id == showtime_id,
                Order.status == OrderStatus.PENDING_PAYMENT.value,
            )
            .values(status=OrderStatus.CANCELLED.value, cancelled_at=func.now())
            .returning(Order.id)
        )
    ).all()
    return [int(r[0]) for r in rows]


async def paid_orders_of_cancelled_showtimes(
    session: AsyncSession, *, limit: int, showtime_id: int | None = None
) -> list[int]:
    """PAID orders of CANCELLED showtimes, still to be refunded (oldest first)."""
    stmt = (
        select(Order.id)
        .join(Showtime, Showtime.id == Order.showtime_id)
        .where(Order.status == OrderStatus.PAID.value, Showtime.status == "CANCELLED")
        .order_by(Order.id)
        .limit(limit)
    )
    if showtime_id is not None:
        stmt = stmt.where(Order.showtime_id == showtime_id)
    return [int(r[0]) for r in (await session.execute(stmt)).all()]


# --- check-in ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckInResult:
    ticket_id: int | None
    error: DomainError | None


async def check_in(
    session: AsyncSession,
    *,
    staff_id: int,
    ticket_id: int | None = None,
    booking_reference: str | None = None,
    claims: tuple[int, int] | None = None,
    opens_before: timedelta,
) -> CheckInResult:
    """Mark a VALID ticket USED (a guarded update: of two racing scanners exactly one wins;
    the other sees ALREADY_CHECKED_IN). `claims` (showtime id, seat id) come from a
    verified QR payload and must match the ticket."""
    stmt = select(
        Ticket.id,
        Ticket.status,
        Ticket.showtime_id,
        Ticket.seat_id,
        Ticket.checked_in_at,
        Showtime.starts_at,
        Showtime.ends_at,
        func.now().label("now"),
    ).join(Showtime, Showtime.id == Ticket.showtime_id)
    if ticket_id is not None:
        stmt = stmt.where(Ticket.id == ticket_id)
    else:
        stmt = stmt.where(Ticket.booking_reference == booking_reference)
    row = (await session.execute(stmt.with_for_update(of=Ticket))).first()
    if row is None:
        if claims is not None:
            return CheckInResult(None, DomainError(C.INVALID_TICKET, "No such ticket."))
        return CheckInResult(
            None,
            DomainError(C.NOT_FOUND, "No ticket has this booking reference.", "bookingReference"),
        )
    tid = int(row.id)
    if claims is not None and (int(row.showtime_id), int(row.seat_id)) != claims:
        return CheckInResult(None, DomainError(C.INVALID_TICKET, "This QR code is not valid."))
    if row.status == TicketStatus.CANCELLED:
        return CheckInResult(tid, DomainError(C.TICKET_CANCELLED, "This ticket was cancelled."))
    if row.status == TicketStatus.USED:
        return CheckInResult(
            tid,
            DomainError(
                C.ALREADY_CHECKED_IN,
                f"Already checked in at {row.checked_in_at.isoformat()}.",
                checked_in_at=row.checked_in_at,
            ),
        )
    if not (row.starts_at - opens_before <= row.now < row.ends_at):
        return CheckInResult(
            tid,
            DomainError(
                C.WRONG_SHOWTIME,
                f"This ticket is for the showtime at {row.starts_at.isoformat()}; check-in "
                f"opens {int(opens_before.total_seconds() // 60)} minutes before it starts "
                "and closes when it ends.",
            ),
        )
    await session.execute(
        update(Ticket)
        .where(Ticket.id == tid, Ticket.status == TicketStatus.VALID.value)
        .values(status=TicketStatus.USED.value, checked_in_at=func.now(), checked_in_by=staff_id)
    )
    return CheckInResult(tid, None)


# Used by tests and reconciliation reports: seats with more than one live ticket.
DOUBLE_SOLD_SEATS = text(
    "SELECT showtime_id, seat_id FROM tickets WHERE status IN ('VALID', 'USED') "
    "GROUP BY showtime_id, seat_id HAVING count(*) > 1"
)


async def checkout_once(
    session: AsyncSession, *, user_id: int, hold_id: int, idempotency_key: str | None
) -> int:
    """checkout with an optional idempotency key, in one transaction: the first call with a
    key stores its order; a repeat (or a racing twin, which waits on the key's row until
    the first commits) returns that order and does nothing more. A call that fails stores
    nothing (its transaction rolls back), so it may be retried with the same key."""
    if idempotency_key is not None:
        digest = request_hash("checkout", {"holdId": hold_id})
        stored = await claim_idempotency_key(
            session, user_id=user_id, operation="checkout", key=idempotency_key, digest=digest
        )
        if stored is not None and stored.order_id is not None:
            return stored.order_id
    order_id = await checkout(session, user_id=user_id, hold_id=hold_id)
    if idempotency_key is not None:
        await store_result(
            session, user_id=user_id, operation="checkout", key=idempotency_key, order_id=order_id
        )
    return order_id
