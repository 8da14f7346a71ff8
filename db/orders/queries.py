"""Order reads: orders, lines, tickets and payments by id and by user (pages newest first)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB

from db.cinemas.models import Seat
from db.cinemas.queries import SEAT_COLUMNS
from db.orders.codes import FulfilmentStatus, OrderLineKind, OrderStatus
from db.orders.models import Order, OrderLine, Ticket
from db.orders.pricing import (
    NO_GUESS_LIMIT,
    CartPrice,
    GuessLimit,
    ProductLine,
    cart_arguments,
    cart_price,
)
from db.payments.models import Payment
from db.session import ByName, Database, any_id
from db.shop.models import PromoCode
from db.showtimes.models import Showtime

ORDER_COLUMNS = (
    Order.id,
    Order.number,
    Order.user_id,
    Order.showtime_id,
    Order.status,
    Order.currency,
    Order.subtotal,
    Order.discount,
    Order.total,
    Order.created_at,
    Order.expires_at,
    Order.paid_at,
    Order.cancelled_at,
    select(PromoCode.code)
    .where(PromoCode.id == Order.promo_code_id)
    .scalar_subquery()
    .label("promo_code"),
)


@dataclass(frozen=True, slots=True)
class PayloadOrder:
    """An order row as `orders_by_ids` reads it (the columns of ORDER_COLUMNS a payload
    shows), from the OUT columns checkout and payOrder's settle return with their outcome
    (migration 0029_payload_order): each field but `id` as `o_<name>`."""

    id: int
    number: str
    user_id: int
    status: str
    currency: str
    subtotal: Decimal
    discount: Decimal
    total: Decimal
    promo_code: str | None
    created_at: datetime
    expires_at: datetime | None
    paid_at: datetime | None
    cancelled_at: datetime | None


PAYLOAD_ORDER_FIELDS = tuple(f.name for f in fields(PayloadOrder) if f.name != "id")
PAYLOAD_ORDER_COLUMNS: tuple[ColumnElement[Any], ...] = tuple(
    literal_column(f"o_{name}") for name in PAYLOAD_ORDER_FIELDS
)


def payload_order(row: Any, order_id: int | None) -> PayloadOrder | None:
    """The order a sale function returned with its outcome, or None when it returned none
    (an early exit: idempotent replay, refund)."""
    if order_id is None or row.o_number is None:
        return None
    return PayloadOrder(int(order_id), *(getattr(row, f"o_{f}") for f in PAYLOAD_ORDER_FIELDS))


# The seat of a line or ticket, joined in as `seat__<column>` (graph primes its seat loader).
SEAT_JOINED = tuple(c.label(f"seat__{c.key}") for c in SEAT_COLUMNS)


class PayloadTicket(ByName, dict[str, Any]):
    """A ticket as `tickets_by_order_ids` reads it (its columns, its seat's as `seat__*`),
    made from the rows payOrder's settle returns: by name and as attributes, like a row."""

    __slots__ = ()


def payload_tickets(row: Any) -> list[PayloadTicket] | None:
    """Every ticket of the order a settle paid or left unpaid, with its seat, in id order
    (`o_tickets` and `o_seats`, migration 0031_payload_tickets), or None when the function
    returned none (an early exit)."""
    tickets, seats = row.o_tickets, row.o_seats
    if tickets is None or seats is None:
        return None
    by_id = {seat["id"]: seat for seat in seats}
    found = []
    for ticket in tickets:
        merged = PayloadTicket(ticket.items())
        merged.update((f"seat__{k}", v) for k, v in by_id[ticket["seat_id"]].items())
        found.append(merged)
    return found


TICKET_COLUMNS = (
    Ticket.id,
    Ticket.booking_reference,
    Ticket.order_id,
    Ticket.user_id,
    Ticket.showtime_id,
    Ticket.seat_id,
    Ticket.status,
    Ticket.price,
    Ticket.currency,
    Ticket.checked_in_at,
    Ticket.created_at,
    *SEAT_JOINED,
)


# Reads by a list of ids, each built once and run on the driver (`fetch_static`, `any_id`):
# the loaders behind every order payload (checkout, payOrder, me.orders) skip SQLAlchemy's
# compilation, cache key and result processing (~0.3 ms of CPU each).
_ORDERS_BY_IDS = select(*ORDER_COLUMNS).where(any_id(Order.id))


async def orders_by_ids(db: Database, ids: Sequence[int]) -> Sequence[Any]:
    return await db.fetch_static(_ORDERS_BY_IDS, {"ids": list(ids)})


# A line's fulfilment status (docs/shop.md, "Pickup"): none for tickets; for products
# PICKED_UP once handed over, READY while the order is PAID, PENDING otherwise.
FULFILMENT_STATUS: ColumnElement[str | None] = case(
    (OrderLine.kind != OrderLineKind.PRODUCT.value, None),
    (OrderLine.picked_up_at.is_not(None), FulfilmentStatus.PICKED_UP.value),
    (Order.status == OrderStatus.PAID.value, FulfilmentStatus.READY.value),
    else_=FulfilmentStatus.PENDING.value,
).label("fulfilment_status")

_LINES_BY_ORDER_IDS = (
    select(
        OrderLine.id,
        OrderLine.order_id,
        OrderLine.kind,
        OrderLine.description,
        OrderLine.quantity,
        OrderLine.unit_price,
        OrderLine.discount,
        OrderLine.showtime_id,
        OrderLine.seat_id,
        OrderLine.product_id,
        OrderLine.variant_id,
        OrderLine.picked_up_at,
        FULFILMENT_STATUS,
        Order.currency,
        *SEAT_JOINED,
    )
    .join(Order, Order.id == OrderLine.order_id)
    .outerjoin(Seat, Seat.id == OrderLine.seat_id)
    .where(any_id(OrderLine.order_id))
    .order_by(OrderLine.order_id, OrderLine.position)
)


async def lines_by_order_ids(db: Database, ids: Sequence[int]) -> Sequence[Any]:
    """The lines of orders, with their fulfilment status (reads the order's status)."""
    return await db.fetch_static(_LINES_BY_ORDER_IDS, {"ids": list(ids)})


_TICKETS = select(*TICKET_COLUMNS).join(Seat, Seat.id == Ticket.seat_id)
_TICKETS_BY_ORDER_IDS = _TICKETS.where(any_id(Ticket.order_id)).order_by(Ticket.order_id, Ticket.id)
_TICKETS_BY_IDS = _TICKETS.where(any_id(Ticket.id))


async def tickets_by_order_ids(db: Database, ids: Sequence[int]) -> Sequence[Any]:
    return await db.fetch_static(_TICKETS_BY_ORDER_IDS, {"ids": list(ids)})


async def tickets_by_ids(db: Database, ids: Sequence[int]) -> Sequence[Any]:
    return await db.fetch_static(_TICKETS_BY_IDS, {"ids": list(ids)})


_PAYMENTS_BY_ORDER_IDS = (
    select(
        Payment.id,
        Payment.order_id,
        Payment.provider,
        Payment.status,
        Payment.amount,
        Payment.currency,
        Payment.created_at,
    )
    .where(any_id(Payment.order_id))
    .order_by(Payment.order_id, Payment.id)
)


async def payments_by_order_ids(db: Database, ids: Sequence[int]) -> Sequence[Any]:
    return await db.fetch_static(_PAYMENTS_BY_ORDER_IDS, {"ids": list(ids)})


def _user_orders(user_id: int, status: OrderStatus | None) -> Select[*tuple[Any, ...]]:
    stmt = select(*ORDER_COLUMNS).where(Order.user_id == user_id)
    if status is not None:
        stmt = stmt.where(Order.status == status.value)
    return stmt


async def count_user_orders(db: Database, user_id: int, status: OrderStatus | None) -> int:
    sub = _user_orders(user_id, status).subquery()
    return int(await db.scalar(select(func.count()).select_from(sub)) or 0)


async def user_orders(
    db: Database, user_id: int, status: OrderStatus | None, offset: int, limit: int
) -> Sequence[Any]:
    return await db.fetch(
        _user_orders(user_id, status)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .offset(offset)
        .limit(limit)
    )


def _user_tickets(user_id: int, upcoming: bool | None) -> Select[*tuple[Any, ...]]:
    stmt = (
        select(*TICKET_COLUMNS)
        .join(Seat, Seat.id == Ticket.seat_id)
        .where(Ticket.user_id == user_id)
    )
    if upcoming is not None:
        later = select(Showtime.id).where(
            Showtime.id == Ticket.showtime_id, Showtime.ends_at > func.now()
        )
        stmt = stmt.where(later.exists() if upcoming else ~later.exists())
    return stmt


async def count_user_tickets(db: Database, user_id: int, upcoming: bool | None) -> int:
    sub = _user_tickets(user_id, upcoming).subquery()
    return int(await db.scalar(select(func.count()).select_from(sub)) or 0)


async def user_tickets(
    db: Database, user_id: int, upcoming: bool | None, offset: int, limit: int
) -> Sequence[Any]:
    return await db.fetch(
        _user_tickets(user_id, upcoming)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .offset(offset)
        .limit(limit)
    )


async def spending_currency(db: Database, user_id: int) -> str | None:
    """The currency of the user's latest paid (or refunded) order: the one `total_spent`
    was summed in (None when the user never paid)."""
    currency = await db.scalar(
        select(Order.currency)
        .where(
            Order.user_id == user_id,
            Order.status.in_([OrderStatus.PAID.value, OrderStatus.REFUNDED.value]),
        )
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(1)
    )
    return None if currency is None else str(currency)


# --- pricing a cart (previewCheckout) ------------------------------------------------------

_PRICE_CART = select(
    func.marquee_price_cart(
        bindparam("user_id", type_=BigInteger),
        bindparam("hold_id", type_=BigInteger),
        cast(bindparam("products", type_=Text), JSONB),
        bindparam("promo", type_=Text),
        bindparam("guess_limit", type_=Integer),
        bindparam("guess_window", type_=Integer),
    )
)


async def price_cart(
    db: Database,
    *,
    user_id: int,
    hold_id: int,
    products: Sequence[ProductLine],
    promo_code: str | None,
    guesses: GuessLimit = NO_GUESS_LIMIT,
) -> CartPrice:
    """What checking out would cost now, with what is wrong; creates and reserves nothing
    (one read-only statement; docs/shop.md, "Pricing"). Raises DomainError only for input no
    database is needed to refuse."""
    cart, promo = cart_arguments(products, promo_code)
    params = {
        "user_id": user_id,
        "hold_id": hold_id,
        "products": cart,
        "promo": promo,
        "guess_limit": guesses.attempts,
        "guess_window": guesses.window_seconds,
    }
    rows = await db.fetch_static(_PRICE_CART, params)
    return cart_price(rows[0][0])
