"""payload tickets: payOrder's settle also returns the tickets of the order it paid, with
their seats, so the payload's `tickets { ... seat { ... } }` needs no statement of its own.

Since 0029_payload_order `marquee_settle_payment` ends by reading the order into OUT
columns; a payload that showed the tickets still read them in a statement of their own (the
tickets-by-order loader, one more round trip to PostgreSQL per paid order, which on this
project's 2-core machine costs more than the read itself: bench/README.md). The function
now also reads, at the same point, every ticket of the order (`o_tickets`, rows of
`tickets` in id order, as the loader reads them) and their seats (`o_seats`), as arrays of
the tables' own row types; the mutation primes the loaders with them. An order with no
ticket yet (declined, pending) returns two empty arrays; a path that returns early (an
idempotent replay, the refund path) leaves them NULL, and the loader reads as before.

Adding OUT columns changes the function's result type, so it is dropped and created again
(same arguments).

Revision ID: 0031_payload_tickets
Revises: 0030_announce_count_occupancies
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

from migrations.earlier import earlier

revision: str = "0031_payload_tickets"
down_revision: str | None = "0030_announce_count_occupancies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SETTLE = "marquee_settle_payment(bigint, text, text, text, numeric, bigint, text, text)"

ORDER_OUT_END = """    OUT o_cancelled_at timestamptz
) LANGUAGE plpgsql AS $fn$"""
TICKETS_OUT_END = """    OUT o_cancelled_at timestamptz,
    OUT o_tickets tickets[],
    OUT o_seats seats[]
) LANGUAGE plpgsql AS $fn$"""

ORDER_READ_END = """    FROM orders o WHERE o.id = o_order_id;
END
$fn$"""
TICKETS_READ_END = """    FROM orders o WHERE o.id = o_order_id;
    -- Its tickets and their seats, as the payload shows them (0031_payload_tickets).
    IF o_number IS NOT NULL THEN
        o_tickets := ARRAY(SELECT t FROM tickets t WHERE t.order_id = o_order_id ORDER BY t.id);
        o_seats := ARRAY(
            SELECT s FROM tickets t JOIN seats s ON s.id = t.seat_id
            WHERE t.order_id = o_order_id ORDER BY t.id
        );
    END IF;
END
$fn$"""


def _settle_0029() -> str:
    """The settle of 0029_payload_order, as CREATE FUNCTION."""
    module = earlier("0029_payload_order")
    _, settle = module._old_functions()
    definition: str = module._with_order(settle, module.SETTLE_HEAD, module.SETTLE_END)
    for part in (ORDER_OUT_END, ORDER_READ_END):
        assert definition.count(part) == 1, part
    return definition


def upgrade() -> None:
    settle = _settle_0029()
    op.execute(f"DROP FUNCTION {SETTLE}")
    op.execute(
        settle.replace(ORDER_OUT_END, TICKETS_OUT_END).replace(ORDER_READ_END, TICKETS_READ_END)
    )


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SETTLE}")
    op.execute(_settle_0029())
