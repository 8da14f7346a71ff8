"""The demo orders (db/demo/orders.py): every demo customer has upcoming and past paid
orders, every paid order is whole (a live ticket per ticket line, one succeeded sandbox
payment, its seats SOLD, totals and points), the customers' points and totals add up, no
e-mail is queued, and `me { orders tickets }` shows them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from db import demo
from db.accounts.models import User
from db.demo.accounts import DEMO_USERS
from db.orders.actions import DOUBLE_SOLD_SEATS
from db.reviews.models import Review
from db.reviews.queries import verified_purchase
from db.session import Database
from tests.conftest import GraphQLClient

CUSTOMERS = [u for u, _, _, role in DEMO_USERS if role == "CUSTOMER"]

PER_CUSTOMER = """
SELECT u.username,
       count(*) FILTER (WHERE o.status = 'PAID' AND s.starts_at > now()) AS upcoming,
       count(*) FILTER (WHERE o.status = 'PAID' AND s.ends_at <= now()) AS past,
       count(*) FILTER (WHERE o.status IN ('REFUNDED', 'CANCELLED')) AS other
FROM users u
JOIN orders o ON o.user_id = u.id
JOIN showtimes s ON s.id = o.showtime_id
WHERE u.role = 'CUSTOMER'
GROUP BY u.username
"""

# Each query lists what breaks a rule; all must come back empty.
BROKEN = {
    "a ticket line without exactly one live ticket for its seat": """
        SELECT l.id FROM order_lines l JOIN orders o ON o.id = l.order_id
        WHERE o.status = 'PAID' AND l.kind = 'TICKET' AND (
            SELECT count(*) FROM tickets t
            WHERE t.order_line_id = l.id AND t.order_id = o.id AND t.user_id = o.user_id
              AND t.status IN ('VALID', 'USED') AND t.showtime_id = l.showtime_id
              AND t.seat_id = l.seat_id AND t.price = l.unit_price
              AND t.currency = o.currency
        ) <> 1
    """,
    "a paid order without one succeeded sandbox payment of its total": """
        SELECT o.id FROM orders o WHERE o.status = 'PAID' AND (
            SELECT count(*) FROM payments p
            JOIN sandbox_charges c ON c.id = p.charge_id AND c.reference = p.reference
            WHERE p.order_id = o.id AND p.status = 'SUCCEEDED' AND p.provider = 'sandbox'
              AND p.amount = o.total AND p.currency = o.currency AND p.refunded_amount = 0
              AND c.status = 'succeeded' AND c.amount = o.total AND c.currency = o.currency
        ) <> 1
    """,
    "a paid order with another payment": """
        SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id
        WHERE o.status = 'PAID' AND p.status <> 'SUCCEEDED'
    """,
    "a ticket line whose seat is not SOLD to its order": """
        SELECT l.id FROM order_lines l JOIN orders o ON o.id = l.order_id
        WHERE o.status = 'PAID' AND l.kind = 'TICKET' AND NOT EXISTS (
            SELECT 1 FROM seat_occupancy so
            WHERE so.showtime_id = l.showtime_id AND so.seat_id = l.seat_id
              AND so.order_id = o.id AND so.status = 'SOLD' AND so.hold_id IS NULL
              AND so.expires_at IS NULL
        )
    """,
    "an occupied seat that is no ticket line of a paid order": """
        SELECT so.id FROM seat_occupancy so
        WHERE NOT EXISTS (
            SELECT 1 FROM order_lines l JOIN orders o ON o.id = l.order_id
            WHERE o.id = so.order_id AND o.status = 'PAID'
              AND l.showtime_id = so.showtime_id AND l.seat_id = so.seat_id
        )
    """,
    "a paid order whose totals or points do not add up": """
        SELECT o.id FROM orders o
        WHERE o.status IN ('PAID', 'REFUNDED') AND (
            o.discount <> 0 OR o.total <> o.subtotal
            OR o.subtotal <> (SELECT sum(l.unit_price * l.quantity - l.discount)
                              FROM order_lines l WHERE l.order_id = o.id)
            OR o.loyalty_points <> floor(o.total)
            OR o.paid_at IS NULL OR o.paid_at > o.expires_at OR o.created_at > o.paid_at
            OR o.number !~ '^MQ-[34679ACDEFGHJKMNPQRTWXY]{6}$'
        )
    """,
    "a ticket with a malformed booking reference or a misdated check-in": """
        SELECT t.id FROM tickets t JOIN showtimes s ON s.id = t.showtime_id
        LEFT JOIN users staff ON staff.id = t.checked_in_by
        WHERE t.booking_reference !~ '^[34679ACDEFGHJKMNPQRTWXY]{8}$'
           OR (t.status = 'USED' AND NOT (
                staff.role IN ('MANAGER', 'ADMIN')
                AND t.checked_in_at >= s.starts_at - interval '60 minutes'
                AND t.checked_in_at < s.ends_at))
    """,
    "a refunded order not refunded everywhere": """
        SELECT o.id FROM orders o
        WHERE o.status = 'REFUNDED' AND (
            o.refunded_at IS NULL
            OR EXISTS (SELECT 1 FROM tickets t WHERE t.order_id = o.id AND t.status <> 'CANCELLED')
            OR NOT EXISTS (SELECT 1 FROM tickets t WHERE t.order_id = o.id)
            OR EXISTS (SELECT 1 FROM seat_occupancy so WHERE so.order_id = o.id)
            OR (SELECT count(*) FROM payments p
                JOIN sandbox_charges c ON c.id = p.charge_id AND c.reference = p.reference
                WHERE p.order_id = o.id AND p.status = 'REFUNDED' AND p.refunded_amount = o.total
                  AND c.status = 'refunded' AND c.refunded_amount = o.total) <> 1
        )
    """,
    "a cancelled order with tickets, seats or a payment that went through": """
        SELECT o.id FROM orders o
        WHERE o.status = 'CANCELLED' AND (
            o.cancelled_at IS NULL
            OR EXISTS (SELECT 1 FROM tickets t WHERE t.order_id = o.id)
            OR EXISTS (SELECT 1 FROM seat_occupancy so WHERE so.order_id = o.id)
            OR EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id AND p.status <> 'FAILED')
        )
    """,
    "a user whose points or total spent are not the sum of their paid orders": """
        SELECT u.id FROM users u
        LEFT JOIN (SELECT user_id, sum(loyalty_points) AS points, sum(total) AS spent
                   FROM orders WHERE status = 'PAID' GROUP BY user_id) o ON o.user_id = u.id
        WHERE u.loyalty_points <> coalesce(o.points, 0) OR u.total_spent <> coalesce(o.spent, 0)
    """,
    "a customer paying in two currencies": """
        SELECT user_id FROM orders GROUP BY user_id HAVING count(DISTINCT currency) > 1
    """,
    "a showtime whose end is not its start plus the film and the cleaning": """
        SELECT s.id FROM showtimes s JOIN movies m ON m.id = s.movie_id
        JOIN halls h ON h.id = s.hall_id
        WHERE s.ends_at <> s.starts_at
            + make_interval(mins => m.duration_minutes + h.cleaning_minutes)
    """,
    "a queued e-mail": "SELECT id FROM outbox_messages",
    "a leftover hold": "SELECT id FROM seat_holds",
}

ME = """
{ me { username loyaltyPoints totalSpent { amount currency }
  orders(first: 10) { totalCount edges { node { number status total { amount } } } }
  upcoming: tickets(first: 10, upcoming: true) { totalCount
    edges { node { bookingReference status qrPayload showtime { startsAt } } } }
  past: tickets(first: 10, upcoming: false) { totalCount edges { node { status } } } } }
"""


async def test_demo_orders(gql: GraphQLClient, db: Database) -> None:
    async with db.transaction() as session:
        lines = await demo.seed(session)

    counts = {r.username: r for r in await db.fetch(text(PER_CUSTOMER))}
    assert sorted(counts) == sorted(CUSTOMERS)
    for name in CUSTOMERS:
        assert 1 <= counts[name].upcoming <= 2, name
        assert 1 <= counts[name].past <= 2, name
        assert counts[name].other == 1, name
    statuses = {r.status for r in await db.fetch(text("SELECT DISTINCT status FROM orders"))}
    assert statuses == {"PAID", "REFUNDED", "CANCELLED"}

    for rule, sql in BROKEN.items():
        rows = await db.fetch(text(sql))
        assert not rows, f"{rule}: {[tuple(r) for r in rows]}"
    assert not await db.fetch(DOUBLE_SOLD_SEATS)
    assert await db.scalar(text("SELECT count(*) FROM tickets WHERE status = 'USED'")) >= 1

    # A past ticket for a film the customer reviewed makes the review a verified purchase.
    customer_ids = select(User.id).where(User.username.in_(CUSTOMERS)).scalar_subquery()
    verified = await db.scalar(
        select(func.count())
        .select_from(Review)
        .where(Review.user_id.in_(customer_ids), verified_purchase())
    )
    assert verified >= 1

    assert any(line.startswith("demo orders: ") and "paid orders" in line for line in lines)

    # Merchandise to pick up at the cinema: one order's is ready, another's was handed over.
    merchandise = await db.fetch(
        text(
            "SELECT o.status, l.picked_up_at IS NOT NULL AS picked_up FROM order_lines l "
            "JOIN orders o ON o.id = l.order_id JOIN products p ON p.id = l.product_id "
            "WHERE p.category = 'MERCHANDISE' ORDER BY o.id"
        )
    )
    assert [(r.status, r.picked_up) for r in merchandise] == [("PAID", False), ("PAID", True)]

    signer = gql.settings.ticket_signer()
    for name in CUSTOMERS:
        user = (await db.fetch(select(User.id, User.role).where(User.username == name)))[0]
        me: dict[str, Any] = (await gql.execute(ME, token=gql.token_for(user)))["me"]
        assert me["username"] == name
        assert me["orders"]["totalCount"] >= 3
        assert me["upcoming"]["totalCount"] >= 1
        assert me["past"]["totalCount"] >= 1
        assert me["loyaltyPoints"] > 0
        for edge in me["upcoming"]["edges"]:
            ticket = edge["node"]
            if ticket["status"] == "VALID":
                signer.verify(ticket["qrPayload"])
