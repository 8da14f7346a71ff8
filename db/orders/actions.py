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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Executable,
    Integer,
    Numeric,
    Text,
    bindparam,
    cast,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts.models import User
from db.booking.actions import SWEEPABLE_HOLD, SWEEPER_LOCK_KEY, announce_seat_changes
from db.booking.models import SeatOccupancy
from db.errors import DomainError
from db.orders import queries
from db.orders.codes import (
    OrderErrorCode,
    OrderLineKind,
    OrderStatus,
    TicketStatus,
)
from db.orders.models import IdempotencyKey, Order, OrderLine, Ticket
from db.orders.pricing import (
    NO_GUESS_LIMIT,
    GuessLimit,
    ProductLine,
    cart_arguments,
    decode_json,
    pricing_error,
)
from db.outbox.actions import enqueue_email, enqueue_sms
from db.outbox.codes import SmsTemplate
from db.session import Database
from db.showtimes.models import Showtime

C = OrderErrorCode

# How long idempotency keys are kept (at least 24 hours, as the API promises).
IDEMPOTENCY_TTL = timedelta(hours=25)

# sign(ticket_id, showtime_id, seat_id) -> the ticket's signed QR payload.
Signer = Callable[[int, int, int], str]


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


# Whether the sweeper's round has anything to do: expired holds to free, unpaid orders to
# expire, idempotency keys to forget (each by its index). Built once. The keys' part is the
# oldest key (`min`, which PostgreSQL reads as the first entry of the index), not `EXISTS`:
# with `EXISTS` the planner, guessing a third of the keys old, chose to scan the table for
# the first old one, every second in every process, through every key of the last day.
_SWEEP_DUE = select(
    or_(
        exists().where(SWEEPABLE_HOLD),
        exists().where(
            # Written out, not a parameter: a generic plan can use the partial index.
            Order.status == literal_column(f"'{OrderStatus.PENDING_PAYMENT.value}'"),
            Order.expires_at <= func.now(),
        ),
        select(func.min(IdempotencyKey.created_at)).scalar_subquery()
        < func.now() - IDEMPOTENCY_TTL,
    )
)


async def sweep_due(db: Database) -> bool:
    """A probe on the driver before the sweeper's transaction: every process sweeps every
    second, and most rounds find nothing (graph/booking/sweeper.py)."""
    rows = await db.fetch_static(_SWEEP_DUE)
    return bool(rows[0][0])


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


@dataclass(frozen=True, slots=True)
class CheckedOut:
    order_id: int
    # The order as the payload shows it, read by the checkout's own statement (None when it
    # returned early: an idempotent replay).
    order: queries.PayloadOrder | None


# The whole checkout in one statement: the function `marquee_checkout` (migration
# 0012_shop_functions; 0029_payload_order returns the order too). Typed binds: the driver
# gets one exact signature.
_CHECKOUT: Executable = select(
    literal_column("o_outcome"),
    literal_column("o_order_id"),
    literal_column("o_detail"),
    *queries.PAYLOAD_ORDER_COLUMNS,
).select_from(
    func.marquee_checkout(
        bindparam("user_id", type_=BigInteger),
        bindparam("hold_id", type_=BigInteger),
        bindparam("key", type_=Text),
        bindparam("hash", type_=Text),
        cast(bindparam("products", type_=Text), JSONB),
        bindparam("promo", type_=Text),
        bindparam("guess_limit", type_=Integer),
        bindparam("guess_window", type_=Integer),
    ).alias("checkout")
)


async def checkout(
    on: AsyncSession | Database,
    *,
    user_id: int,
    hold_id: int,
    products: Sequence[ProductLine] = (),
    promo_code: str | None = None,
    guesses: GuessLimit = NO_GUESS_LIMIT,
    idempotency_key: str | None = None,
) -> CheckedOut:
    """Turn the user's live hold, with products and a promo code, into a PENDING_PAYMENT
    order; returns its id and, when the statement read it, the order as a payload shows it.

    The hold's seats move to the order (still HELD, same expiry) and the hold row goes, so
    the user may hold other seats of the showtime meanwhile. Prices are the database's, read
    here (`db.orders.pricing`); nothing the client sends is a price. The products' stock and
    the promo code's use are reserved in the same statement, judged under lock; an order that
    expires or is cancelled gives them back (docs/shop.md). A hold already checked out
    returns its order while that is pending or paid (one order per hold).

    With an idempotency key the first call stores its order; a repeat (or a racing twin,
    which waits on the key's row until the first commits) returns that order and does
    nothing more; the same key with another input is IDEMPOTENCY_KEY_REUSED. A call that
    fails stores nothing, so it may be retried with the same key.

    One statement (`marquee_checkout`): on a `Database` it runs on a pooled autocommit
    connection, the statement being the transaction (what the mutation does); on a session
    it runs inside the caller's transaction."""
    cart, promo = cart_arguments(products, promo_code)
    fields: dict[str, Any] = {"holdId": hold_id}
    if products or promo is not None:
        fields.update(products=orjson.loads(cart), promoCode=promo)
    params = {
        "user_id": user_id,
        "hold_id": hold_id,
        "key": idempotency_key,
        "hash": request_hash("checkout", fields) if idempotency_key else None,
        "products": cart,
        "promo": promo,
        "guess_limit": guesses.attempts,
        "guess_window": guesses.window_seconds,
    }
    if isinstance(on, AsyncSession):
        row: Any = (await on.execute(_CHECKOUT, params)).one()
    else:
        row = (await on.fetch_static(_CHECKOUT, params))[0]
    outcome, order_id, detail = row[0], row[1], row[2]
    if outcome == "OK":
        return CheckedOut(int(order_id), queries.payload_order(row, order_id))
    if outcome == "KEY_REUSED":
        raise DomainError(
            C.IDEMPOTENCY_KEY_REUSED,
            "This idempotency key was used with a different input.",
            "idempotencyKey",
        )
    errors = decode_json(detail) if outcome == "ERRORS" else [{"code": outcome}]
    raise DomainError(details=[pricing_error(e) for e in errors])


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
    session: AsyncSession,
    order_id: int | ColumnElement[int],
    *,
    user_id: int | None = None,
    skip_locked: bool = False,
) -> LockedOrder | None:
    """The order, row-locked for this transaction; None when missing or (with `user_id`)
    not that user's. `skip_locked`: None when another transaction holds it. `order_id` may
    be a scalar subquery (the order of a payment: one statement)."""
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


_FULFIL: Executable = select(
    literal_column("o_ticket_id"),
    literal_column("o_reference"),
    literal_column("o_line_id"),
    literal_column("o_seat_id"),
    literal_column("o_showtime_id"),
).select_from(
    func.marquee_fulfil_order(
        bindparam("order_id", type_=BigInteger),
        bindparam("points_per_unit", type_=Numeric),
    ).alias("fulfil")
)


async def fulfil(
    session: AsyncSession,
    order: LockedOrder,
    *,
    points_per_unit: Decimal,
    sign: Signer,
) -> bool:
    """Turn a payable, locked order into a PAID one, in the caller's transaction: its seats
    SOLD in place, one ticket per seat, loyalty points and total spent, the seats announced
    SOLD (one statement, `marquee_fulfil_order` of migration 0009_sale_functions), and the
    confirmation e-mail in the outbox. Returns False, having changed nothing, when the
    order's seats are not all still held by it (expired and taken meanwhile)."""
    made = (
        await session.execute(_FULFIL, {"order_id": order.id, "points_per_unit": points_per_unit})
    ).all()
    if not made:
        return False
    tickets = [(int(r[0]), str(r[1]), r[2]) for r in made]
    await _enqueue_confirmation(session, order, tickets, sign)
    return True


# What an order's e-mails say, in one statement: the customer, the showtime and the lines
# (with their seats) as JSON.
_MAIL_FACTS = text(
    """
    SELECT u.email, coalesce(u.full_name, u.username) AS customer_name,
        CASE WHEN u.sms_opt_in THEN u.phone END AS sms_to,
        m.title AS movie_title, c.name AS cinema_name, c.time_zone, h.name AS hall_name,
        st.starts_at,
        (SELECT json_agg(json_build_object(
                'id', l.id, 'description', l.description, 'quantity', l.quantity,
                'unit_price', l.unit_price::text,
                'total', (l.unit_price * l.quantity - l.discount)::text,
                'seat_id', l.seat_id, 'showtime_id', l.showtime_id,
                'seat_label', s.row_label || s.number) ORDER BY l.position)
         FROM order_lines l LEFT JOIN seats s ON s.id = l.seat_id
         WHERE l.order_id = o.id) AS lines
    FROM orders o
    JOIN users u ON u.id = o.user_id
    LEFT JOIN showtimes st ON st.id = o.showtime_id
    LEFT JOIN movies m ON m.id = st.movie_id
    LEFT JOIN halls h ON h.id = st.hall_id
    LEFT JOIN cinemas c ON c.id = h.cinema_id
    WHERE o.id = :order_id
    """
).bindparams(bindparam("order_id", type_=BigInteger))


async def _mail_facts(
    session: AsyncSession, order: LockedOrder
) -> tuple[str, dict[str, Any], list[Any], str | None]:
    """(recipient, the context every e-mail of the order shares, the lines, the phone to
    text too: the customer's when they opted in and the order is for a showtime)."""
    row = (await session.execute(_MAIL_FACTS, {"order_id": order.id})).one()
    context: dict[str, Any] = {
        "order_number": order.number,
        "customer_name": row.customer_name,
        "currency": order.currency,
    }
    if row.starts_at is not None:
        context.update(
            movie_title=row.movie_title,
            cinema_name=row.cinema_name,
            hall_name=row.hall_name,
            starts_at=row.starts_at.isoformat(),
            time_zone=row.time_zone,
        )
    sms_to = row.sms_to if row.starts_at is not None else None
    return row.email, context, list(row.lines or []), sms_to


async def _enqueue_confirmation(
    session: AsyncSession,
    order: LockedOrder,
    tickets: list[tuple[int, str, Any]],
    sign: Signer,
) -> None:
    to, context, lines, sms_to = await _mail_facts(session, order)
    by_line = {int(line["id"]): line for line in lines}
    context["total"] = str(order.total)
    context["lines"] = [
        {"description": line["description"], "quantity": line["quantity"], "total": line["total"]}
        for line in lines
    ]
    context["tickets"] = [
        {
            "booking_reference": ref,
            "seat_label": by_line[int(line_id)]["seat_label"],
            "price": by_line[int(line_id)]["unit_price"],
            "qr_payload": sign(
                ticket_id,
                int(by_line[int(line_id)]["showtime_id"]),
                int(by_line[int(line_id)]["seat_id"]),
            ),
        }
        for ticket_id, ref, line_id in sorted(tickets, key=lambda t: t[0])
    ]
    await enqueue_email(
        session,
        template="order_confirmation",
        to=to,
        context=context,
        dedupe_key=f"order-confirmation:{order.id}",
    )
    if sms_to is not None:
        # The key payOrder's settle function (migration 0019_sms) writes too: one message.
        await enqueue_sms(
            session,
            template="order_confirmation",
            to=sms_to,
            context=context,
            dedupe_key=f"order-confirmation-sms:{order.id}",
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


async def check_cancellable(
    session: AsyncSession, order: LockedOrder, *, cutoff: timedelta, by_staff: bool = False
) -> None:
    """Raise ORDER_NOT_CANCELLABLE unless the order may be cancelled now: pending, or paid
    with no ticket used, no product picked up, and the showtime more than `cutoff` away
    (staff cancelling a cancelled showtime skip the cutoff)."""
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
    # Like a used ticket: products handed over at the cinema are not refunded by a cancel
    # (a cancelled showtime still refunds the whole order; docs/shop.md, "Pickup").
    picked_up = await session.scalar(
        select(OrderLine.id)
        .where(OrderLine.order_id == order.id, OrderLine.picked_up_at.is_not(None))
        .limit(1)
    )
    if picked_up is not None:
        raise DomainError(
            C.ORDER_NOT_CANCELLABLE,
            "A product of this order has been picked up at the cinema.",
            "orderId",
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
    to, context, _, sms_to = await _mail_facts(session, order)
    context.update(amount=str(order.total), refund_amount=str(order.total), reason=reason)
    await enqueue_email(
        session,
        template=template,
        to=to,
        context=context,
        dedupe_key=f"{template}:{order.id}",
    )
    if sms_to is not None and template == SmsTemplate.SHOWTIME_CANCELLED:
        await enqueue_sms(
            session,
            template=template,
            to=sms_to,
            context=context,
            dedupe_key=f"{template}-sms:{order.id}",
        )


@dataclass(frozen=True, slots=True)
class ReleasedShowtime:
    """What `release_cancelled_showtime` did: pending orders cancelled, seats released, and
    the PAID orders left for the payment background work to refund."""

    cancelled_orders: list[int]
    released_seats: list[int]
    refunds_pending: int


async def release_cancelled_showtime(session: AsyncSession, showtime_id: int) -> ReleasedShowtime:
    """The second of cancelShowtime's transactions, and the background work's for a
    cancelled showtime with leftovers (docs/orders.md, "Lock order"). In the sale's lock
    order: the showtime's pending orders (locked in id order, then CANCELLED; the
    `orders_released` trigger then locks their variants and promo codes), then its HELD
    seats (deleted, whoever held them), then the showtime row last (the announcement).
    A pending order being paid meanwhile is waited for: it is PAID when we get its lock,
    and the refunds take it. Does nothing unless the showtime is CANCELLED."""
    status = await session.scalar(select(Showtime.status).where(Showtime.id == showtime_id))
    if status != "CANCELLED":
        return ReleasedShowtime([], [], 0)
    locked = [
        int(r[0])
        for r in (
            await session.execute(
                select(Order.id)
                .where(
                    Order.showtime_id == showtime_id,
                    Order.status == OrderStatus.PENDING_PAYMENT.value,
                )
                .order_by(Order.id)
                .with_for_update()
            )
        ).all()
    ]
    cancelled: list[int] = []
    if locked:
        rows = await session.execute(
            update(Order)
            .where(Order.id.in_(locked), Order.status == OrderStatus.PENDING_PAYMENT.value)
            .values(status=OrderStatus.CANCELLED.value, cancelled_at=func.now())
            .returning(Order.id)
        )
        cancelled = sorted(int(r[0]) for r in rows.all())
    released = sorted(
        int(r[0])
        for r in (
            await session.execute(
                delete(SeatOccupancy)
                .where(SeatOccupancy.showtime_id == showtime_id, SeatOccupancy.status == "HELD")
                .returning(SeatOccupancy.seat_id)
            )
        ).all()
    )
    if released:
        await announce_seat_changes(session, showtime_id, dict.fromkeys(released, "AVAILABLE"))
    paid = await session.scalar(
        select(func.count())
        .select_from(Order)
        .where(Order.showtime_id == showtime_id, Order.status == OrderStatus.PAID.value)
    )
    return ReleasedShowtime(cancelled, released, int(paid or 0))


async def cancelled_showtimes_with_leftovers(session: AsyncSession, *, limit: int) -> list[int]:
    """CANCELLED showtimes that still have a pending order or a HELD seat: an order checked
    out or a hold committed in the moment between the cancellation's two transactions, or
    a process that died between them (oldest first)."""
    pending = (
        select(Order.id)
        .where(
            Order.showtime_id == Showtime.id,
            Order.status == OrderStatus.PENDING_PAYMENT.value,
        )
        .exists()
    )
    held = (
        select(SeatOccupancy.id)
        .where(SeatOccupancy.showtime_id == Showtime.id, SeatOccupancy.status == "HELD")
        .exists()
    )
    stmt = (
        select(Showtime.id)
        .where(Showtime.status == "CANCELLED", or_(pending, held))
        .order_by(Showtime.id)
        .limit(limit)
    )
    return [int(r[0]) for r in (await session.execute(stmt)).all()]


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
    # Lock the ticket's order first, as cancellation and payment do (one lock order: a
    # check-in racing a refund waits for it, or the refund sees the ticket USED).
    order_of = (
        select(Ticket.order_id).where(Ticket.id == ticket_id)
        if ticket_id is not None
        else select(Ticket.order_id).where(Ticket.booking_reference == booking_reference)
    )
    await session.execute(
        select(Order.id).where(Order.id == order_of.scalar_subquery()).with_for_update()
    )
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


# --- pickup of products ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PickupResult:
    order_id: int | None
    line_ids: list[int]
    error: DomainError | None


async def mark_picked_up(
    session: AsyncSession,
    *,
    staff_id: int,
    booking_reference: str | None = None,
    order_number: str | None = None,
    line_ids: Sequence[int] | None = None,
) -> PickupResult:
    """Hand over a paid order's products (docs/shop.md, "Pickup"): the order found by a
    ticket's booking reference or by its number, all its product lines not yet picked up
    (or those of `line_ids`), in one guarded update. The order's row is locked first, as
    refunds lock it, so a pickup and a refund serialize (the refund then gives back only
    what was not picked up); of two staff racing, one marks the lines, the other gets
    ALREADY_PICKED_UP."""
    if booking_reference is not None:
        field = "bookingReference"
        order_of = (
            select(Ticket.order_id)
            .where(Ticket.booking_reference == booking_reference)
            .scalar_subquery()
        )
    else:
        field = "orderNumber"
        order_of = select(Order.id).where(Order.number == order_number).scalar_subquery()
    order = await lock_order(session, order_of)
    if order is None:
        what = "ticket has this booking reference" if booking_reference else "order has this number"
        return PickupResult(None, [], DomainError(C.NOT_FOUND, f"No {what}.", field))
    if order.status == OrderStatus.PENDING_PAYMENT:
        return PickupResult(
            order.id,
            [],
            DomainError(C.ORDER_NOT_PAID, "This order is not paid yet.", field),
        )
    if order.status != OrderStatus.PAID:
        return PickupResult(
            order.id,
            [],
            DomainError(
                C.ORDER_CANCELLED,
                f"This order is {order.status.lower()}: nothing to hand over.",
                field,
            ),
        )
    lines = (
        await session.execute(
            select(OrderLine.id, OrderLine.picked_up_at).where(
                OrderLine.order_id == order.id, OrderLine.kind == OrderLineKind.PRODUCT.value
            )
        )
    ).all()
    product_lines = {int(r.id): r.picked_up_at for r in lines}
    if not product_lines:
        return PickupResult(
            order.id, [], DomainError(C.NOT_FOUND, "This order has no products.", field)
        )
    wanted = sorted(set(line_ids)) if line_ids else sorted(product_lines)
    if any(pk not in product_lines for pk in wanted):
        return PickupResult(
            order.id,
            [],
            DomainError(C.NOT_FOUND, "A line is not a product line of this order.", "lineIds"),
        )
    marked = (
        await session.execute(
            update(OrderLine)
            .where(
                OrderLine.id.in_(wanted),
                OrderLine.order_id == order.id,
                OrderLine.kind == OrderLineKind.PRODUCT.value,
                OrderLine.picked_up_at.is_(None),
            )
            .values(picked_up_at=func.now(), picked_up_by=staff_id)
            .returning(OrderLine.id)
        )
    ).all()
    if not marked:
        times = [t for t in (product_lines[pk] for pk in wanted) if t is not None]
        when = f" at {max(times).isoformat()}" if times else ""
        return PickupResult(
            order.id, [], DomainError(C.ALREADY_PICKED_UP, f"Already picked up{when}.", field)
        )
    return PickupResult(order.id, sorted(int(r.id) for r in marked), None)


# Used by tests and reconciliation reports: seats with more than one live ticket.
DOUBLE_SOLD_SEATS = text(
    "SELECT showtime_id, seat_id FROM tickets WHERE status IN ('VALID', 'USED') "
    "GROUP BY showtime_id, seat_id HAVING count(*) > 1"
)
