"""Demo orders: each demo customer has paid orders for upcoming and for past showtimes, and
one refunded or cancelled order, so `me { orders tickets }` has something to show.

- Upcoming paid orders go through the real sale, in the seeding transaction: `hold_seats`
  (on the session), `checkout`, `lock_order` and `fulfil`, which prices the lines, sells the
  seats, issues the tickets and adds the loyalty points and total spent. Only the payment is
  written here (a SUCCEEDED `payments` row and its `sandbox_charges` row, what `payOrder`
  with `tok_visa` leaves): the sandbox provider commits its charges in transactions of its
  own, which cannot happen inside this one. Every other upcoming order also buys one or
  two snacks, drinks or combos of the demo shop sold at its cinema (stock reserved by
  checkout like any other). The first two paid upcoming orders also buy a piece of
  merchandise, to pick up at the cinema: the first one's is READY, the second one's was
  handed over already (`mark_picked_up` by the manager, PICKED_UP).
- The refunded order (alice, chloe: every other customer from the first) is such an order,
  refunded as `cancelOrder` does: the payment and the charge REFUNDED, then `mark_refunded`.
  The cancelled order (the others) is a checkout whose card was declined (a FAILED payment),
  then `cancel_pending`.
- E-mails: `fulfil` and `mark_refunded` write the confirmation and refund e-mails to the
  outbox. Demo data sends none (a fresh `make run` would otherwise deliver, or write as .eml
  files, mail to the @marquee.test customers for orders nobody placed), so the seeder
  deletes those outbox rows again in the same transaction: no sender ever sees them. Hence
  the signer given to `fulfil` signs nothing: it only feeds the e-mail's QR payloads
  (`Ticket.qrPayload` is signed when read, with the server's key).
- Past showtimes: the demo schedule starts after now, so this seeder schedules a few in
  the past (`create_showtime` with its clock set before them: the same price and overlap
  checks, `ends_at` from the film and the hall's cleaning time), one per hall and day, two
  or more days ago. Their orders are written directly, as the sale would have left them:
  lines priced from the showtime, seats SOLD, one ticket per seat, a SUCCEEDED sandbox
  payment, points and total spent added like `fulfil`. The first past order of each
  customer is for a film they reviewed when there is one (`Review.verifiedPurchase`) and
  its tickets were checked in by the manager (USED).

Deterministic for a given rng and day, except the order numbers and booking references of
the orders made by the real actions, which draw them from `secrets` as in production.
Each customer buys in one city (`HOME_CITY`), so their `totalSpent`, which has no currency,
adds up amounts of one currency.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts.models import User
from db.booking.actions import hold_seats
from db.booking.models import SeatOccupancy
from db.catalog.models import Movie
from db.cinemas.models import Cinema, Hall, Seat
from db.demo.accounts import DEMO_PASSWORD, DEMO_USERS
from db.orders import actions as orders
from db.orders.codes import (
    ORDER_NUMBER_LENGTH,
    ORDER_NUMBER_PREFIX,
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    OrderLineKind,
    OrderStatus,
    TicketStatus,
)
from db.orders.models import Order, OrderLine, Ticket
from db.orders.pricing import ProductLine
from db.outbox.models import OutboxMessage
from db.payments.codes import PaymentStatus
from db.payments.models import Payment, SandboxCharge
from db.payments.sandbox import NAME as SANDBOX
from db.reviews.models import Review
from db.shop.models import Product, ProductCinema, ProductVariant
from db.showtimes import actions as showtime_actions
from db.showtimes.models import Showtime, ShowtimePrice

# The settings' defaults (the db layer reads no settings): MARQUEE_LOYALTY_POINTS_PER_UNIT,
# MARQUEE_HOLD_TTL_SECONDS, MARQUEE_MAX_SEATS_PER_HOLD, MARQUEE_SALES_WINDOW_DAYS.
POINTS_PER_UNIT = Decimal(1)
HOLD_TTL_SECONDS = 600
MAX_SEATS = 10
SALES_WINDOW_DAYS = 30
# Upcoming orders are for showtimes at least this far away, beyond the default cancellation
# cutoff (60 minutes), so a developer can try cancelOrder on them.
UPCOMING_AFTER = timedelta(hours=2)
# Past showtimes are scheduled this many days ago (local days, one per hall and day).
PAST_DAYS = (2, 12)
# The staff account that checked the past tickets in.
SCANNER = "manager"
MERCHANDISE_ORDERS = 2
HOME_CITY = {"alice": "Paris", "chloe": "Paris", "bob": "New York", "dmitri": "New York"}
SEAT_COUNTS = (1, 2, 2, 2, 3, 4)
# The outbox keys of the e-mails `fulfil` and `mark_refunded` write (deleted again here).
CONFIRMATION_KEY = "order-confirmation:{}"
CONFIRMATION_SMS_KEY = "order-confirmation-sms:{}"  # customers who opted in to SMS
REFUND_KEY = "refund:{}"


def _no_signature(ticket_id: int, showtime_id: int, seat_id: int) -> str:
    """The signer for `fulfil`: it only signs the QR payloads of the confirmation e-mail,
    which demo data does not send (see the module docstring)."""
    return ""


@dataclass(frozen=True, slots=True)
class _Seat:
    id: int
    row_label: str
    number: int
    seat_type: str
    x: int
    y: int


@dataclass(frozen=True, slots=True)
class _Show:
    id: int
    hall_id: int
    movie_id: int
    title: str
    starts_at: datetime
    city: str
    time_zone: str


@dataclass(slots=True)
class _Tally:
    upcoming: int = 0
    past: int = 0
    tickets: int = 0
    checked_in: int = 0
    refunded: int = 0
    cancelled: int = 0
    verified: int = 0


class _SeatPicker:
    """Free seats side by side in one row, of one seat type; remembers what it gave."""

    def __init__(self, by_hall: dict[int, list[_Seat]]) -> None:
        self.by_hall = by_hall
        self.taken: set[tuple[int, int]] = set()

    def pick(self, rng: random.Random, show_id: int, hall_id: int, count: int) -> list[_Seat]:
        rows: dict[str, list[_Seat]] = {}
        for seat in self.by_hall.get(hall_id, []):
            rows.setdefault(seat.row_label, []).append(seat)
        blocks: list[list[_Seat]] = []
        for label in sorted(rows):
            row = sorted(rows[label], key=lambda s: s.number)
            for i in range(len(row) - count + 1):
                block = row[i : i + count]
                if (
                    len({s.seat_type for s in block}) == 1
                    and block[-1].number - block[0].number == count - 1
                    and all((show_id, s.id) not in self.taken for s in block)
                ):
                    blocks.append(block)
        if not blocks:
            return []
        block = rng.choice(blocks)
        self.taken.update((show_id, s.id) for s in block)
        return sorted(block, key=lambda s: (s.y, s.x, s.id))


class _Codes:
    """Order numbers and booking references from the rng, none already in use."""

    def __init__(self, numbers: set[str], references: set[str]) -> None:
        self.numbers = numbers
        self.references = references

    @staticmethod
    def _draw(rng: random.Random, length: int, used: set[str]) -> str:
        while True:
            code = "".join(rng.choice(REFERENCE_ALPHABET) for _ in range(length))
            if code not in used:
                used.add(code)
                return code

    def number(self, rng: random.Random) -> str:
        return ORDER_NUMBER_PREFIX + self._draw(rng, ORDER_NUMBER_LENGTH, self.numbers)

    def reference(self, rng: random.Random) -> str:
        return self._draw(rng, REFERENCE_LENGTH, self.references)


def _hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}"


async def _record_payment(
    session: AsyncSession,
    rng: random.Random,
    *,
    order_id: int,
    amount: Decimal,
    currency: str,
    status: PaymentStatus,
    at: datetime | None = None,
) -> None:
    """Our payment row and the sandbox's charge, as `payOrder` leaves them: tok_visa
    (SUCCEEDED, or REFUNDED after a cancellation) or tok_chargeDeclined (FAILED)."""
    reference, charge_id = f"pay_{_hex(rng)}", f"ch_{_hex(rng)}"
    declined = status is PaymentStatus.FAILED
    refunded = amount if status is PaymentStatus.REFUNDED else Decimal(0)
    when: dict[str, Any] = {} if at is None else {"created_at": at}
    await session.execute(
        insert(SandboxCharge).values(
            id=charge_id,
            reference=reference,
            token="tok_chargeDeclined" if declined else "tok_visa",
            amount=amount,
            currency=currency,
            status={"FAILED": "failed", "REFUNDED": "refunded"}.get(status.value, "succeeded"),
            failure_code="card_declined" if declined else None,
            refunded_amount=refunded,
            **when,
        )
    )
    await session.execute(
        insert(Payment).values(
            order_id=order_id,
            provider=SANDBOX,
            reference=reference,
            charge_id=charge_id,
            status=status.value,
            amount=amount,
            currency=currency,
            failure_code="card_declined" if declined else None,
            refunded_amount=refunded,
            **when,
            **({} if at is None else {"updated_at": at}),
        )
    )


# --- upcoming orders, through the real sale -------------------------------------------------


async def _snacks(
    session: AsyncSession, show: _Show, categories: tuple[str, ...] = ("SNACK", "DRINK", "COMBO")
) -> list[tuple[int, int]]:
    """(product, variant) of the food, drinks and combos (or `categories`) sold at the
    show's cinema, in its tickets' currency, with stock to spare (the demo shop)."""
    cinema = select(Hall.cinema_id).where(Hall.id == show.hall_id).scalar_subquery()
    currency = (
        select(ShowtimePrice.currency)
        .where(ShowtimePrice.showtime_id == show.id)
        .limit(1)
        .scalar_subquery()
    )
    sold_here = or_(
        ~select(ProductCinema.product_id).where(ProductCinema.product_id == Product.id).exists(),
        select(ProductCinema.product_id)
        .where(ProductCinema.product_id == Product.id, ProductCinema.cinema_id == cinema)
        .exists(),
    )
    rows = await session.execute(
        select(Product.id, ProductVariant.id)
        .join(ProductVariant, ProductVariant.product_id == Product.id)
        .where(
            Product.is_active,
            ProductVariant.is_active,
            Product.category.in_(categories),
            Product.currency == currency,
            or_(ProductVariant.stock.is_(None), ProductVariant.stock > 10),
            sold_here,
        )
        .order_by(Product.id, ProductVariant.id)
    )
    return [(int(p), int(v)) for p, v in rows.all()]


async def _checkout(
    session: AsyncSession,
    user_id: int,
    show: _Show,
    seats: list[_Seat],
    snacks: random.Random | None = None,
    merchandise: bool = False,
) -> int:
    """Hold and check out; with `snacks` (a generator of its own, so the rest of the demo
    stays as it was), one or two products of the cinema go with the seats; with
    `merchandise`, also the first merchandise item sold there (to pick up at the cinema)."""
    products: list[ProductLine] = []
    if snacks is not None:
        menu = await _snacks(session, show)
        for index, (product, variant) in enumerate(
            snacks.sample(menu, min(len(menu), snacks.randint(1, 2)))
        ):
            products.append(ProductLine(index, product, variant, snacks.randint(1, 2)))
    if merchandise:
        for product, variant in (await _snacks(session, show, ("MERCHANDISE",)))[:1]:
            products.append(ProductLine(len(products), product, variant, 1))
    hold = await hold_seats(
        session,
        user_id=user_id,
        showtime_id=show.id,
        seat_ids=[s.id for s in seats],
        ttl_seconds=HOLD_TTL_SECONDS,
        max_seats=MAX_SEATS,
        sales_window_days=SALES_WINDOW_DAYS,
    )
    checked_out = await orders.checkout(
        session, user_id=user_id, hold_id=hold.id, products=products
    )
    return checked_out.order_id


async def _locked(session: AsyncSession, order_id: int) -> orders.LockedOrder:
    order = await orders.lock_order(session, order_id)
    assert order is not None
    return order


async def _paid_upcoming(
    session: AsyncSession, rng: random.Random, order_id: int, mails: list[str]
) -> orders.LockedOrder:
    order = await _locked(session, order_id)
    if not await orders.fulfil(session, order, points_per_unit=POINTS_PER_UNIT, sign=_no_signature):
        raise RuntimeError(f"demo order {order_id} could not be fulfilled")
    mails += [CONFIRMATION_KEY.format(order_id), CONFIRMATION_SMS_KEY.format(order_id)]
    await _record_payment(
        session,
        rng,
        order_id=order_id,
        amount=order.total,
        currency=order.currency,
        status=PaymentStatus.SUCCEEDED,
    )
    return order


async def _refunded_upcoming(
    session: AsyncSession, rng: random.Random, order_id: int, mails: list[str]
) -> None:
    order = await _locked(session, order_id)
    if not await orders.fulfil(session, order, points_per_unit=POINTS_PER_UNIT, sign=_no_signature):
        raise RuntimeError(f"demo order {order_id} could not be fulfilled")
    await _record_payment(
        session,
        rng,
        order_id=order_id,
        amount=order.total,
        currency=order.currency,
        status=PaymentStatus.REFUNDED,
    )
    # Locked again: mark_refunded takes back the points fulfil recorded on the order.
    await orders.mark_refunded(
        session, await _locked(session, order_id), reason="Cancelled at your request."
    )
    mails += [
        CONFIRMATION_KEY.format(order_id),
        CONFIRMATION_SMS_KEY.format(order_id),
        REFUND_KEY.format(order_id),
    ]


async def _cancelled_upcoming(session: AsyncSession, rng: random.Random, order_id: int) -> None:
    order = await _locked(session, order_id)
    await _record_payment(
        session,
        rng,
        order_id=order_id,
        amount=order.total,
        currency=order.currency,
        status=PaymentStatus.FAILED,
    )
    await orders.cancel_pending(session, order)


# --- past orders, written directly ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Template:
    """What a past showtime in a hall copies from one of the hall's upcoming showtimes."""

    format: str
    language: str
    subtitles: str | None
    prices: list[showtime_actions.PriceSpec]


async def _templates(session: AsyncSession, show_ids: dict[int, int]) -> dict[int, _Template]:
    """Per hall: the format, language and prices of its showtime `show_ids[hall]`."""
    rows = (
        await session.execute(
            select(
                Showtime.id,
                Showtime.hall_id,
                Showtime.format,
                Showtime.language,
                Showtime.subtitles,
            ).where(Showtime.id.in_(list(show_ids.values())))
        )
    ).all()
    prices: dict[int, list[showtime_actions.PriceSpec]] = {}
    for p in (
        await session.execute(
            select(
                ShowtimePrice.showtime_id,
                ShowtimePrice.seat_type,
                ShowtimePrice.amount,
                ShowtimePrice.currency,
            )
            .where(ShowtimePrice.showtime_id.in_(list(show_ids.values())))
            .order_by(ShowtimePrice.showtime_id, ShowtimePrice.seat_type)
        )
    ).all():
        prices.setdefault(int(p.showtime_id), []).append(
            showtime_actions.PriceSpec(p.seat_type, Decimal(p.amount), p.currency)
        )
    return {
        int(r.hall_id): _Template(r.format, r.language, r.subtitles, prices.get(int(r.id), []))
        for r in rows
    }


async def _past_showtime(
    session: AsyncSession,
    rng: random.Random,
    *,
    now: datetime,
    movie: tuple[int, str],
    halls: list[tuple[int, str]],
    templates: dict[int, _Template],
    slots: set[tuple[int, int]],
    city: str,
) -> _Show:
    """A showtime that ended days ago, in a hall and on a day with no other past one (so
    none overlap; the demo's own showtimes all start after now)."""
    while True:
        hall_id, tz_name = rng.choice(halls)
        days_ago = rng.randint(*PAST_DAYS)
        if (hall_id, days_ago) not in slots:
            break
    slots.add((hall_id, days_ago))
    tz = ZoneInfo(tz_name)
    day = now.astimezone(tz).date() - timedelta(days=days_ago)
    starts_at = datetime.combine(day, time(14, 0), tzinfo=tz) + timedelta(
        minutes=15 * rng.randrange(0, 25)
    )
    template = templates[hall_id]
    # Scheduled "back then": the clock given to create_showtime is before the start.
    scheduled_at = starts_at - timedelta(days=rng.randint(14, 28))
    show_id = await showtime_actions.create_showtime(
        session,
        movie_id=movie[0],
        hall_id=hall_id,
        starts_at=starts_at,
        format=template.format,
        language=template.language,
        subtitles=template.subtitles,
        prices=template.prices,
        now=scheduled_at,
    )
    await session.execute(
        update(Showtime)
        .where(Showtime.id == show_id)
        .values(created_at=scheduled_at, updated_at=scheduled_at)
    )
    return _Show(show_id, hall_id, movie[0], movie[1], starts_at, city, tz_name)


async def _paid_past(
    session: AsyncSession,
    rng: random.Random,
    codes: _Codes,
    *,
    user_id: int,
    show: _Show,
    seats: Sequence[_Seat],
    prices: dict[str, showtime_actions.PriceSpec],
    checked_in_by: int | None,
) -> None:
    """A PAID order for a past showtime, with everything `fulfil` and `payOrder` write."""
    created = show.starts_at - timedelta(minutes=rng.randint(90, 6 * 24 * 60))
    paid = created + timedelta(seconds=rng.randint(40, 240))
    currency = prices[seats[0].seat_type].currency
    total = sum((prices[s.seat_type].amount for s in seats), Decimal(0))
    points = orders.loyalty_points_for(total, POINTS_PER_UNIT)
    order_id = await session.scalar(
        insert(Order)
        .values(
            number=codes.number(rng),
            user_id=user_id,
            showtime_id=show.id,
            status=OrderStatus.PAID.value,
            currency=currency,
            subtotal=total,
            discount=Decimal(0),
            total=total,
            ticket_count=len(seats),
            loyalty_points=points,
            created_at=created,
            expires_at=created + timedelta(seconds=HOLD_TTL_SECONDS),
            paid_at=paid,
        )
        .returning(Order.id)
    )
    assert order_id is not None
    line_ids = (
        await session.scalars(
            insert(OrderLine).returning(OrderLine.id, sort_by_parameter_order=True),
            [
                {
                    "order_id": order_id,
                    "position": i,
                    "kind": OrderLineKind.TICKET.value,
                    "description": orders.ticket_line_description(
                        show.title, s.row_label, s.number, s.seat_type
                    ),
                    "quantity": 1,
                    "unit_price": prices[s.seat_type].amount,
                    "showtime_id": show.id,
                    "seat_id": s.id,
                    "seat_type": s.seat_type,
                }
                for i, s in enumerate(seats)
            ],
        )
    ).all()
    await session.execute(
        insert(SeatOccupancy),
        [
            {
                "showtime_id": show.id,
                "seat_id": s.id,
                "order_id": order_id,
                "status": "SOLD",
                "created_at": created,
            }
            for s in seats
        ],
    )
    await _record_payment(
        session,
        rng,
        order_id=order_id,
        amount=total,
        currency=currency,
        status=PaymentStatus.SUCCEEDED,
        at=paid,
    )
    used = checked_in_by is not None
    await session.execute(
        insert(Ticket),
        [
            {
                "booking_reference": codes.reference(rng),
                "order_id": order_id,
                "order_line_id": line_id,
                "user_id": user_id,
                "showtime_id": show.id,
                "seat_id": s.id,
                "status": (TicketStatus.USED if used else TicketStatus.VALID).value,
                "price": prices[s.seat_type].amount,
                "currency": currency,
                "created_at": paid,
                "checked_in_at": (
                    show.starts_at - timedelta(minutes=rng.randint(2, 40)) if used else None
                ),
                "checked_in_by": checked_in_by,
            }
            for line_id, s in zip(line_ids, seats, strict=True)
        ],
    )
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(
            loyalty_points=User.loyalty_points + points,
            total_spent=User.total_spent + total,
        )
    )


# --- the seeder -----------------------------------------------------------------------------


async def seed(session: AsyncSession, rng: random.Random, lines: list[str]) -> None:
    # The transaction's clock, the one the actions compare with.
    now = await session.scalar(select(func.now()))
    assert now is not None
    names = [u for u, _, _, role in DEMO_USERS if role == "CUSTOMER"]
    users = {
        r.username: int(r.id)
        for r in await session.execute(
            select(User.username, User.id).where(User.username.in_(names))
        )
    }
    customers = [(name, int(users[name])) for name in names if name in users]
    scanner = await session.scalar(select(User.id).where(User.username == SCANNER))
    shows = [
        _Show(int(r.id), int(r.hall_id), int(r.movie_id), r.title, r.starts_at, r.city, r.tz)
        for r in (
            await session.execute(
                select(
                    Showtime.id,
                    Showtime.hall_id,
                    Showtime.movie_id,
                    Movie.title,
                    Showtime.starts_at,
                    Cinema.city,
                    Cinema.time_zone.label("tz"),
                )
                .join(Movie, Movie.id == Showtime.movie_id)
                .join(Hall, Hall.id == Showtime.hall_id)
                .join(Cinema, Cinema.id == Hall.cinema_id)
                .where(
                    Showtime.status == "SCHEDULED",
                    Showtime.starts_at > now + UPCOMING_AFTER,
                    Showtime.starts_at < now + timedelta(days=SALES_WINDOW_DAYS),
                    Hall.is_active.is_(True),
                    Cinema.is_active.is_(True),
                )
                .order_by(Showtime.starts_at, Showtime.id)
            )
        ).all()
    ]
    if not customers or not shows:
        lines.append("demo orders: no demo customers or no upcoming showtimes, so no orders")
        return
    by_hall: dict[int, list[_Seat]] = {}
    for s in (
        await session.execute(
            select(
                Seat.id, Seat.hall_id, Seat.row_label, Seat.number, Seat.seat_type, Seat.x, Seat.y
            )
            .where(Seat.hall_id.in_({show.hall_id for show in shows}), Seat.is_blocked.is_(False))
            .order_by(Seat.id)
        )
    ).all():
        by_hall.setdefault(int(s.hall_id), []).append(
            _Seat(int(s.id), s.row_label, s.number, s.seat_type, s.x, s.y)
        )
    picker = _SeatPicker(by_hall)
    cities = sorted({show.city for show in shows})
    tally = _Tally()
    mails: list[str] = []

    # Upcoming orders (and the refunded or cancelled one) through the real sale, every other
    # one with snacks from the demo shop.
    snacks = random.Random(20261203)
    # The first MERCHANDISE_ORDERS paid upcoming orders also buy merchandise: the first is
    # ready to pick up, the others were picked up at the cinema already (markPickedUp).
    merch: list[int] = []
    for i, (name, user_id) in enumerate(customers):
        city = HOME_CITY.get(name, cities[i % len(cities)])
        mine = [show for show in shows if show.city == city] or shows
        count = rng.randint(1, 2)
        for k, show in enumerate(rng.sample(mine, min(len(mine), count + 1))):
            seats = picker.pick(rng, show.id, show.hall_id, rng.choice(SEAT_COUNTS))
            if not seats:
                continue
            with_merch = k < count and len(merch) < MERCHANDISE_ORDERS
            order_id = await _checkout(
                session,
                user_id,
                show,
                seats,
                snacks if (i + k) % 2 == 0 else None,
                merchandise=with_merch,
            )
            if k < count:
                await _paid_upcoming(session, rng, order_id, mails)
                tally.upcoming += 1
                tally.tickets += len(seats)
                if with_merch:
                    merch.append(order_id)
            elif i % 2 == 0:
                await _refunded_upcoming(session, rng, order_id, mails)
                tally.refunded += 1
            else:
                await _cancelled_upcoming(session, rng, order_id)
                tally.cancelled += 1
    for order_id in merch[1:] if scanner is not None else []:
        assert scanner is not None
        number = await session.scalar(select(Order.number).where(Order.id == order_id))
        picked = await orders.mark_picked_up(session, staff_id=scanner, order_number=number)
        if picked.error is not None:
            raise RuntimeError(f"demo pickup of order {number}: {picked.error}")
    # No demo e-mails (module docstring): gone before anything could send them.
    await session.execute(delete(OutboxMessage).where(OutboxMessage.dedupe_key.in_(mails)))

    # Past orders, on showtimes scheduled in the past for the films now showing (and the
    # ones the customer reviewed).
    codes = _Codes(
        set((await session.scalars(select(Order.number))).all()),
        set((await session.scalars(select(Ticket.booking_reference))).all()),
    )
    first_show: dict[int, int] = {}
    for show in shows:
        first_show.setdefault(show.hall_id, show.id)
    templates = await _templates(session, first_show)
    showing = sorted({(show.movie_id, show.title) for show in shows})
    halls_in = {
        city: sorted({(show.hall_id, show.time_zone) for show in shows if show.city == city})
        for city in cities
    }
    slots: set[tuple[int, int]] = set()
    for i, (name, user_id) in enumerate(customers):
        city = HOME_CITY.get(name, cities[i % len(cities)])
        halls = halls_in.get(city) or [h for c in cities for h in halls_in[c]]
        reviewed = sorted(
            (int(r.id), r.title)
            for r in (
                await session.execute(
                    select(Movie.id, Movie.title)
                    .join(Review, Review.movie_id == Movie.id)
                    .where(
                        Review.user_id == user_id,
                        Movie.is_active.is_(True),
                        Movie.duration_minutes.is_not(None),
                    )
                )
            ).all()
        )
        for k in range(rng.randint(1, 2)):
            first = k == 0
            movie = rng.choice(reviewed if first and reviewed else showing)
            show = await _past_showtime(
                session,
                rng,
                now=now,
                movie=movie,
                halls=halls,
                templates=templates,
                slots=slots,
                city=city,
            )
            seats = picker.pick(rng, show.id, show.hall_id, rng.choice(SEAT_COUNTS))
            if not seats:  # a new showtime has free seats, unless the hall's are all blocked
                continue
            await _paid_past(
                session,
                rng,
                codes,
                user_id=user_id,
                show=show,
                seats=seats,
                prices={p.seat_type: p for p in templates[show.hall_id].prices},
                checked_in_by=scanner if first else None,
            )
            tally.past += 1
            tally.tickets += len(seats)
            if first and scanner is not None:
                tally.checked_in += len(seats)
            if first and reviewed:
                tally.verified += 1

    paid = tally.upcoming + tally.past
    lines.append(
        f"demo orders: {paid} paid orders ({tally.upcoming} upcoming, {tally.past} past; "
        f"{tally.tickets} tickets, {tally.checked_in} checked in), {tally.refunded} refunded, "
        f"{tally.cancelled} cancelled, for {', '.join(name for name, _ in customers)} "
        f"({tally.verified} past orders for a film the customer reviewed; merchandise "
        f"with {len(merch)} upcoming orders, {max(0, len(merch) - 1)} picked up)"
    )
    lines.append(
        f"  sign in as {customers[0][0]} (password '{DEMO_PASSWORD}') and ask "
        "`me { loyaltyPoints orders(first: 10) { ... } tickets(first: 10, upcoming: true) "
        "{ ... } }`"
    )
