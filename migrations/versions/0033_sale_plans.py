"""sale plans: payOrder's settle takes the showtime's row lock as its last statement, and
two statements of the sale planned as lookups by key instead of scans.

`marquee_announce_seats` bumps the showtime's `seat_sequence`, and that row lock, which
gives out sequences in commit order, is held until the transaction commits: every other hold
or payment of the showtime waits for it. The settle announced from inside
`marquee_fulfil_order`, then still wrote the payment, the e-mail and SMS rows and the
idempotency result and read the payload, all under the lock. Under the `checkout_pay` bench
the announcer's `UPDATE showtimes` waited 5 ms a call on average (pg_stat_statements), more
than any statement's own work. Now:

- `marquee_fulfil_order` takes `p_announce boolean DEFAULT true` (Python's `fulfil`, which
  names two arguments, still announces); the settle passes false and announces the sold
  seats itself as its last statement, so the lock is held only while the transaction
  commits, as in the hold.
- The payload's tickets and seats (0031_payload_tickets) are read in one statement, each
  seat by its primary key. The join of 0031 was planned (generic plan, 32 tickets guessed
  per order) as a hash of every seat: 1.3 ms a payment with the bench's 1,846 seats,
  growing with the seats of the chain.
- `marquee_price_cart` (every checkout and previewCheckout) joined a held seat's price on
  the occupancy's showtime: the planner searched the prices' primary key (showtime, seat
  type) by seat type alone and filtered 446 rows a seat, every showtime's price of that
  type. The hold's showtime is a variable of the function, so the search names both
  columns.

The fulfil function changes its arguments, so it is dropped and created again (ROWS 4 as
0022_fulfil_rows set); the settle and the pricing keep theirs, so they are replaced.

Revision ID: 0033_sale_plans
Revises: 0032_sales_rollup
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

from migrations.earlier import earlier

revision: str = "0033_sale_plans"
down_revision: str | None = "0032_sales_rollup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRICE_JOIN = (
    "LEFT JOIN showtime_prices p ON p.showtime_id = so.showtime_id AND p.seat_type = s.seat_type"
)
PRICE_JOIN_NEW = (
    "LEFT JOIN showtime_prices p\n"
    "        ON p.showtime_id = v_hold.showtime_id AND p.seat_type = s.seat_type"
)

FULFIL_OLD = "marquee_fulfil_order(bigint, numeric)"
FULFIL_NEW = "marquee_fulfil_order(bigint, numeric, boolean)"

FULFIL_HEAD = (
    "CREATE OR REPLACE FUNCTION marquee_fulfil_order(p_order bigint, p_points_per_unit numeric)"
)
FULFIL_HEAD_NEW = (
    "CREATE FUNCTION marquee_fulfil_order(p_order bigint, p_points_per_unit numeric,\n"
    "    p_announce boolean DEFAULT true)"
)
FULFIL_ANNOUNCE = "    IF v_showtime IS NOT NULL AND cardinality(v_sold) > 0 THEN"
FULFIL_ANNOUNCE_NEW = (
    "    IF p_announce AND v_showtime IS NOT NULL AND cardinality(v_sold) > 0 THEN"
)

SETTLE_DECLARE = """    v_email text;
BEGIN"""
SETTLE_DECLARE_NEW = """    v_email text;
    v_sold bigint[];
BEGIN"""
SETTLE_FULFIL = """                ORDER BY f.o_ticket_id)
        INTO v_tickets
        FROM marquee_fulfil_order(v_order.id, p_points_per_unit) f"""
SETTLE_FULFIL_NEW = """                ORDER BY f.o_ticket_id),
            array_agg(f.o_seat_id ORDER BY f.o_seat_id)
        INTO v_tickets, v_sold
        FROM marquee_fulfil_order(v_order.id, p_points_per_unit, false) f"""
SETTLE_READ_NEW = """    IF o_number IS NOT NULL THEN
        SELECT coalesce(array_agg(t ORDER BY t.id), '{}'),
            coalesce(array_agg((SELECT s FROM seats s WHERE s.id = t.seat_id) ORDER BY t.id), '{}')
        INTO o_tickets, o_seats
        FROM tickets t WHERE t.order_id = o_order_id;
    END IF;
    -- The seats announced SOLD last: the showtime's row lock is held only while the
    -- transaction commits (0033_sale_plans).
    IF o_result = 'PAID' AND v_order.showtime_id IS NOT NULL AND cardinality(v_sold) > 0 THEN
        PERFORM marquee_announce_seats(
            v_order.showtime_id, v_sold,
            array_fill('SOLD'::text, ARRAY[cardinality(v_sold)]), false
        );
    END IF;
END
$fn$"""


def _fulfil_0012() -> str:
    definition: str = earlier("0012_shop_functions").FULFIL_FUNCTION
    for part in (FULFIL_HEAD, FULFIL_ANNOUNCE):
        assert definition.count(part) == 1, part
    return definition


def _settle_0031() -> tuple[str, str]:
    """The settle of 0031_payload_tickets, as CREATE OR REPLACE FUNCTION, and its end (the
    payload's read), which this migration replaces."""
    module = earlier("0031_payload_tickets")
    definition: str = module._settle_0029()
    read: str = module.TICKETS_READ_END
    definition = definition.replace(module.ORDER_OUT_END, module.TICKETS_OUT_END).replace(
        module.ORDER_READ_END, read
    )
    definition = definition.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    for part in (SETTLE_DECLARE, SETTLE_FULFIL, read):
        assert definition.count(part) == 1, part
    return definition, read


def _price_cart_0012() -> str:
    definition: str = earlier("0012_shop_functions").PRICE_CART_FUNCTION
    definition = definition.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    assert definition.count(PRICE_JOIN) == 1, PRICE_JOIN
    return definition


def fulfil_0033() -> str:
    """This migration's `marquee_fulfil_order`, as CREATE FUNCTION (the old one is dropped
    first; its ROWS 4 is set apart, with ALTER FUNCTION)."""
    fulfil = _fulfil_0012().replace(FULFIL_HEAD, FULFIL_HEAD_NEW)
    return fulfil.replace(FULFIL_ANNOUNCE, FULFIL_ANNOUNCE_NEW)


def settle_0033() -> str:
    """This migration's `marquee_settle_payment`, as CREATE OR REPLACE (for later
    migrations)."""
    settle, read = _settle_0031()
    for old, new in (
        (SETTLE_DECLARE, SETTLE_DECLARE_NEW),
        (SETTLE_FULFIL, SETTLE_FULFIL_NEW),
        # From the tickets' read on (0031's read of the order stays).
        (read[read.index("    IF o_number IS NOT NULL THEN") :], SETTLE_READ_NEW),
    ):
        settle = settle.replace(old, new)
    return settle


def upgrade() -> None:
    op.execute(_price_cart_0012().replace(PRICE_JOIN, PRICE_JOIN_NEW))
    op.execute(f"DROP FUNCTION {FULFIL_OLD}")
    op.execute(fulfil_0033())
    op.execute(f"ALTER FUNCTION {FULFIL_NEW} ROWS 4")
    op.execute(settle_0033())


def downgrade() -> None:
    op.execute(_price_cart_0012())
    op.execute(_settle_0031()[0])
    op.execute(f"DROP FUNCTION {FULFIL_NEW}")
    op.execute(_fulfil_0012())
    op.execute(f"ALTER FUNCTION {FULFIL_OLD} ROWS 4")
