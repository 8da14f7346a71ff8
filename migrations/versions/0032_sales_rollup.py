"""sales rollup: `salesReport` reads the days that are over from a daily rollup, not from
every order.

A report over a year grouped the year's orders (100,000 in the bench) in one statement:
40-115 ms of PostgreSQL with one manager, and at four managers at once a p99 of 238 ms by
day and 396 ms by product on this project's 2-core machine (bench/README.md), over the
issue's 200 ms. The days of a report are the cinemas' local days, and a day that is over
no longer changes in the ordinary course: a sale is counted on the day it is paid and a
refund on the day it is made, both today. So the days up to three days ago (over in every
time zone, with a day to spare) are summed once into `sales_days` (per day, cinema, movie
and currency) and `sales_product_days` (per day, cinema, product and currency) by
`marquee_roll_up_sales()`, which the server runs every minute
(MARQUEE_SALES_ROLLUP_INTERVAL_SECONDS); the report reads those rows for the rolled-up
days and the orders for the others, in one statement.

Anything that still changes a rolled-up day (an order moved, inserted or deleted with an
old paid or refund day, a product line of such an order, a showtime given another movie
or hall, a hall another cinema: data repairs and imports) marks the day stale through
row triggers whose WHEN conditions let every ordinary write pass without a call; the
report reads a stale day from the orders until the next roll-up writes it again. The
triggers and the roll-up share an advisory lock (the triggers' shared, the roll-up's
exclusive), so a change is either seen by the roll-up that reads its day or marks the day
after that roll-up has committed: no change is lost between them.

Revision ID: 0032_sales_rollup
Revises: 0031_payload_tickets
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032_sales_rollup"
down_revision: str | None = "0031_payload_tickets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The advisory lock of the roll-up ("MQSR"): exclusive while rolling up, shared while a
# trigger marks a day stale.
LOCK = 0x4D51_5352
# A day can be rolled up once it is this many days before today in UTC (every time zone is
# within a day of UTC, so it is over everywhere, with a day to spare)...
ROLLABLE = "(now() AT TIME ZONE 'UTC')::date - 3"
# ...and a trigger looks at a change only when it touches a day this old (one more day of
# margin, on the wall clock: a transaction's now() can be older than the roll-up's).
OLD_DAY = "(clock_timestamp() AT TIME ZONE 'UTC')::date - 2"

ROLL_UP = f"""
CREATE FUNCTION marquee_roll_up_sales(p_through date DEFAULT {ROLLABLE})
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
    v_through date;
    v_days date[];
BEGIN
    -- NULL: another instance is rolling up, or a trigger is marking a day right now.
    IF NOT pg_try_advisory_xact_lock({LOCK}) THEN
        RETURN NULL;
    END IF;
    SELECT s.through INTO v_through FROM sales_rollup_state s;
    v_days := ARRAY(
        SELECT d.day FROM sales_stale_days d WHERE d.day <= p_through
        UNION
        SELECT o.paid_on FROM orders o
        WHERE o.paid_on > coalesce(v_through, '-infinity') AND o.paid_on <= p_through
        UNION
        SELECT o.refunded_on FROM orders o
        WHERE o.refunded_on > coalesce(v_through, '-infinity') AND o.refunded_on <= p_through
    );
    IF cardinality(v_days) = 0 AND v_through >= p_through THEN
        RETURN 0;  -- nothing new: no write
    END IF;
    DELETE FROM sales_days WHERE day = ANY (v_days);
    DELETE FROM sales_product_days WHERE day = ANY (v_days);
    INSERT INTO sales_days
        (day, cinema_id, movie_id, currency, orders, tickets, products, gross, discounts,
         refunds)
    SELECT e.day, h.cinema_id, st.movie_id, e.currency, sum(e.orders), sum(e.tickets),
        sum(e.products), sum(e.gross), sum(e.discounts), sum(e.refunds)
    FROM (
        SELECT o.paid_on AS day, o.showtime_id, o.currency, count(*) AS orders,
            sum(o.ticket_count) AS tickets, sum(o.product_count) AS products,
            sum(o.subtotal) AS gross, sum(o.discount) AS discounts, 0 AS refunds
        FROM orders o WHERE o.paid_on = ANY (v_days)
        GROUP BY 1, 2, 3
        UNION ALL
        SELECT o.refunded_on, o.showtime_id, o.currency, 0, 0, 0, 0, 0, sum(o.total)
        FROM orders o WHERE o.refunded_on = ANY (v_days)
        GROUP BY 1, 2, 3
    ) e
    LEFT JOIN showtimes st ON st.id = e.showtime_id
    LEFT JOIN halls h ON h.id = st.hall_id
    GROUP BY e.day, h.cinema_id, st.movie_id, e.currency;
    INSERT INTO sales_product_days
        (day, cinema_id, product_id, currency, orders, first_orders, units, gross,
         discounts, refunds)
    SELECT e.day, h.cinema_id, e.product_id, e.currency, sum(e.orders),
        sum(e.first_orders), sum(e.units), sum(e.gross), sum(e.discounts), sum(e.refunds)
    FROM (
        SELECT p.day, p.showtime_id, p.currency, p.product_id, 1 AS orders,
            (p.product_id = min(p.product_id) OVER (PARTITION BY p.order_id))::int
                AS first_orders,
            p.units, p.gross, p.discounts, 0 AS refunds
        FROM (
            SELECT o.id AS order_id, o.paid_on AS day, o.showtime_id, o.currency,
                l.product_id, sum(l.quantity) AS units,
                sum(l.unit_price * l.quantity) AS gross, sum(l.discount) AS discounts
            FROM orders o JOIN order_lines l ON l.order_id = o.id AND l.kind = 'PRODUCT'
            WHERE o.paid_on = ANY (v_days)
            GROUP BY o.id, l.product_id
        ) p
        UNION ALL
        SELECT o.refunded_on, o.showtime_id, o.currency, l.product_id, 0, 0, 0, 0, 0,
            l.unit_price * l.quantity - l.discount
        FROM orders o JOIN order_lines l ON l.order_id = o.id AND l.kind = 'PRODUCT'
        WHERE o.refunded_on = ANY (v_days)
    ) e
    LEFT JOIN showtimes st ON st.id = e.showtime_id
    LEFT JOIN halls h ON h.id = st.hall_id
    GROUP BY e.day, h.cinema_id, e.product_id, e.currency;
    DELETE FROM sales_stale_days WHERE day <= p_through;
    INSERT INTO sales_rollup_state AS s (id, through) VALUES (true, p_through)
    ON CONFLICT (id) DO UPDATE SET through = greatest(s.through, EXCLUDED.through);
    RETURN cardinality(v_days);
END
$fn$
"""

# Marks days stale: those of `p_days` old enough to be rolled up. Only such a day takes
# the lock: the shared lock waits for a roll-up under way, and keeps the next one from
# starting before this transaction ends. A day after `through` is marked as well (it is
# read from the orders anyway, and the roll-up that reaches it clears it): whether a day
# is rolled up is not read here, so the mark does not depend on this transaction's
# snapshot (a REPEATABLE READ repair would not see the roll-up it waited for).
MARK_STALE = f"""
CREATE FUNCTION marquee_sales_stale(p_days date[]) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT EXISTS (SELECT FROM unnest(p_days) d WHERE d <= {OLD_DAY}) THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock_shared({LOCK});
    INSERT INTO sales_stale_days (day)
    SELECT DISTINCT d FROM unnest(p_days) d WHERE d <= {OLD_DAY}
    ON CONFLICT (day) DO NOTHING;
END
$fn$
"""

# What a rolled-up day is made of, in an order and in a product line.
ORDER_FIELDS = (
    "showtime_id",
    "currency",
    "subtotal",
    "discount",
    "total",
    "ticket_count",
    "product_count",
)
LINE_FIELDS = ("order_id", "kind", "product_id", "quantity", "unit_price", "discount")


def _row(alias: str, fields: Sequence[str]) -> str:
    return "(" + ", ".join(f"{alias}.{f}" for f in fields) + ")"


# An order inserted or deleted changes both its days; an update, the days it moved from
# and to, or all of them when what it adds up to changed (ORDER_FIELDS).
ORDER_CHANGED = """
CREATE FUNCTION marquee_sales_order_changed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM marquee_sales_stale(ARRAY[NEW.paid_on, NEW.refunded_on]);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM marquee_sales_stale(ARRAY[OLD.paid_on, OLD.refunded_on]);
    ELSIF %(old)s IS DISTINCT FROM %(new)s THEN
        PERFORM marquee_sales_stale(
            ARRAY[OLD.paid_on, OLD.refunded_on, NEW.paid_on, NEW.refunded_on]);
    ELSE
        PERFORM marquee_sales_stale(ARRAY[
            CASE WHEN OLD.paid_on IS DISTINCT FROM NEW.paid_on THEN OLD.paid_on END,
            CASE WHEN OLD.paid_on IS DISTINCT FROM NEW.paid_on THEN NEW.paid_on END,
            CASE WHEN OLD.refunded_on IS DISTINCT FROM NEW.refunded_on THEN OLD.refunded_on END,
            CASE WHEN OLD.refunded_on IS DISTINCT FROM NEW.refunded_on THEN NEW.refunded_on END
        ]);
    END IF;
    RETURN NULL;
END
$fn$
"""

# A product line's change that a report sees (not a pick-up) marks its order's days. The
# order is read by its key first: a checkout's new order has no day yet, and returns here.
LINE_CHANGED = f"""
CREATE FUNCTION marquee_sales_line_changed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    v_days date[];
BEGIN
    IF TG_OP = 'UPDATE' AND %(old)s IS NOT DISTINCT FROM %(new)s THEN
        RETURN NULL;
    END IF;
    v_days := ARRAY(
        SELECT d FROM orders o, LATERAL (VALUES (o.paid_on), (o.refunded_on)) v (d)
        WHERE o.id IN (
            CASE WHEN TG_OP <> 'INSERT' THEN OLD.order_id END,
            CASE WHEN TG_OP <> 'DELETE' THEN NEW.order_id END)
            AND d <= {OLD_DAY}
    );
    IF cardinality(v_days) > 0 THEN
        PERFORM marquee_sales_stale(v_days);
    END IF;
    RETURN NULL;
END
$fn$
"""

SHOWTIME_CHANGED = """
CREATE FUNCTION marquee_sales_showtime_changed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM marquee_sales_stale(ARRAY(
        SELECT d FROM orders o, LATERAL (VALUES (o.paid_on), (o.refunded_on)) v (d)
        WHERE o.showtime_id = NEW.id
    ));
    RETURN NULL;
END
$fn$
"""

HALL_CHANGED = """
CREATE FUNCTION marquee_sales_hall_changed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM marquee_sales_stale(ARRAY(
        SELECT d FROM showtimes st JOIN orders o ON o.showtime_id = st.id,
            LATERAL (VALUES (o.paid_on), (o.refunded_on)) v (d)
        WHERE st.hall_id = NEW.id
    ));
    RETURN NULL;
END
$fn$
"""

# An UPDATE trigger names the columns it is about (UPDATE OF: the columns an UPDATE sets,
# before the BEFORE triggers, hence paid_at and refunded_at), so the sale's other updates
# (the announcer's `showtimes.seat_sequence`, an order's status) never consider it. The
# WHEN conditions are kept to the least that lets the sale pass without a call: an order
# with no day old enough (a checkout, a payment, a refund made today) and a ticket line.
# PostgreSQL compiles them for every statement that writes the table: comparing the
# order's fields here (record comparisons) cost 30 us an UPDATE, against 4 us for this
# `least` (which ignores NULLs); the functions compare the fields.
ORDER_COLUMNS = ", ".join(("paid_at", "refunded_at", "paid_on", "refunded_on", *ORDER_FIELDS))
TRIGGERS = {
    "sales_order_inserted": (
        "AFTER INSERT ON orders",
        f"least(NEW.paid_on, NEW.refunded_on) <= {OLD_DAY}",
        "marquee_sales_order_changed",
    ),
    "sales_order_updated": (
        f"AFTER UPDATE OF {ORDER_COLUMNS} ON orders",
        f"least(OLD.paid_on, OLD.refunded_on, NEW.paid_on, NEW.refunded_on) <= {OLD_DAY}",
        "marquee_sales_order_changed",
    ),
    "sales_order_deleted": (
        "AFTER DELETE ON orders",
        f"least(OLD.paid_on, OLD.refunded_on) <= {OLD_DAY}",
        "marquee_sales_order_changed",
    ),
    "sales_line_inserted": (
        "AFTER INSERT ON order_lines",
        "NEW.kind = 'PRODUCT'",
        "marquee_sales_line_changed",
    ),
    "sales_line_updated": (
        f"AFTER UPDATE OF {', '.join(LINE_FIELDS)} ON order_lines",
        "OLD.kind = 'PRODUCT' OR NEW.kind = 'PRODUCT'",
        "marquee_sales_line_changed",
    ),
    "sales_line_deleted": (
        "AFTER DELETE ON order_lines",
        "OLD.kind = 'PRODUCT'",
        "marquee_sales_line_changed",
    ),
    "sales_showtime_moved": (
        "AFTER UPDATE OF movie_id, hall_id ON showtimes",
        "OLD.movie_id IS DISTINCT FROM NEW.movie_id OR OLD.hall_id IS DISTINCT FROM NEW.hall_id",
        "marquee_sales_showtime_changed",
    ),
    "sales_hall_moved": (
        "AFTER UPDATE OF cinema_id ON halls",
        "OLD.cinema_id IS DISTINCT FROM NEW.cinema_id",
        "marquee_sales_hall_changed",
    ),
}
FUNCTIONS = (
    ("marquee_roll_up_sales(date)", ROLL_UP),
    ("marquee_sales_stale(date[])", MARK_STALE),
    (
        "marquee_sales_order_changed()",
        ORDER_CHANGED % {"old": _row("OLD", ORDER_FIELDS), "new": _row("NEW", ORDER_FIELDS)},
    ),
    (
        "marquee_sales_line_changed()",
        LINE_CHANGED % {"old": _row("OLD", LINE_FIELDS), "new": _row("NEW", LINE_FIELDS)},
    ),
    ("marquee_sales_showtime_changed()", SHOWTIME_CHANGED),
    ("marquee_sales_hall_changed()", HALL_CHANGED),
)


def upgrade() -> None:
    money = sa.Numeric(12, 2)
    op.create_table(
        "sales_days",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cinema_id", sa.BigInteger(), nullable=True),
        sa.Column("movie_id", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.Column("products", sa.Integer(), nullable=False),
        sa.Column("gross", money, nullable=False),
        sa.Column("discounts", money, nullable=False),
        sa.Column("refunds", money, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_days")),
    )
    op.create_index(op.f("ix_sales_days_day"), "sales_days", ["day"])
    op.create_table(
        "sales_product_days",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cinema_id", sa.BigInteger(), nullable=True),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("first_orders", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("gross", money, nullable=False),
        sa.Column("discounts", money, nullable=False),
        sa.Column("refunds", money, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_product_days")),
    )
    op.create_index(op.f("ix_sales_product_days_day"), "sales_product_days", ["day"])
    op.create_table(
        "sales_rollup_state",
        sa.Column("id", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("through", sa.Date(), nullable=True),
        sa.CheckConstraint("id", name=op.f("ck_sales_rollup_state_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_rollup_state")),
    )
    op.create_table(
        "sales_stale_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_sales_stale_days")),
    )
    for _, definition in FUNCTIONS:
        op.execute(definition)
    for name, (event, when, function) in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {event} FOR EACH ROW WHEN ({when})"
            f" EXECUTE FUNCTION {function}()"
        )


def downgrade() -> None:
    for name, (event, _, _) in TRIGGERS.items():
        op.execute(f"DROP TRIGGER {name} ON {event.rsplit(' ', 1)[1]}")
    for signature, _ in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION {signature}")
    for table in ("sales_stale_days", "sales_rollup_state", "sales_product_days", "sales_days"):
        op.drop_table(table)
