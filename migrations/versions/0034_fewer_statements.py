"""fewer statements: the sale's functions run 65 statements per paid order instead of 92.

Under the `checkout_pay` bench PostgreSQL ran about 92 statements inside the functions for
each paid order, and its profile is flat: executor start-up, plan-cache checks and catalog
lookups of each statement, not any one statement's work. So:

- `marquee_announce_seats` (every hold, payment, release, expiry and cancellation, twice
  per purchase) checked the statuses, bumped the sequence, counted the available seats,
  built the changes and sent the NOTIFY in five statements. It now bumps the sequence and
  does the rest in one statement. An unknown status still raises, now after the NOTIFY
  was queued, which the error rolls back with the sequence's bump (a notification is sent
  at commit only).
- `marquee_hold_seats` reads the showtime and, with it, the seats wanted: in the hall, not
  blocked, and whether a live occupancy of another hold or of an order has any of them.
  It answers TAKEN at once: a hold for a taken seat (a quarter of the bench's attempts,
  and a customer on a stale seat map) no longer inserts or renews the hold row, checks its
  foreign keys and rolls it all back. Two holds racing for a free seat still pass this
  read together, and the unique constraint still judges them, as before. The seat list's
  two checks are one statement, and a new hold skips two array statements whose result it
  knows (its seats to add are the seats wanted; none is lost when every insert won).
- `marquee_checkout` inserts the order with its lines, and moves the seats to the order as
  it deletes the hold, in one statement each (data-modifying CTEs; the hold's cascade to
  its occupancies runs after the statement and finds none left), and stores the
  idempotency key's result in the statement that reads the payload. With
  `marquee_price_cart` it skips the products' statements (the stock's lock, check and
  update, the per-customer limit, the products' read) for a cart without products.
- `marquee_settle_payment` writes the confirmation e-mail and SMS in one INSERT (the
  recipient's phone read with the e-mail's context), and stores the idempotency key's
  result and reads the order, its tickets and their seats for the payload in one statement.
- `marquee_fulfil_order` marks the order paid and credits its buyer in one statement, and
  makes every ticket in one INSERT instead of a query and an INSERT per ticket.

Revision ID: 0034_fewer_statements
Revises: 0033_sale_plans
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

from migrations.earlier import earlier

revision: str = "0034_fewer_statements"
down_revision: str | None = "0033_sale_plans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANNOUNCE = "marquee_announce_seats(bigint, bigint[], text[], boolean)"
HOLD = "marquee_hold_seats(bigint, bigint, bigint[], integer, integer, integer, text)"

ANNOUNCE_FUNCTION = r"""
CREATE OR REPLACE FUNCTION marquee_announce_seats(
    p_showtime bigint,
    p_seat_ids bigint[],
    p_statuses text[],
    p_require_scheduled boolean DEFAULT false
) RETURNS bigint LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
    v_seq bigint;
    v_hall bigint;
    v_unknown bigint;
BEGIN
    IF coalesce(cardinality(p_seat_ids), 0) <> coalesce(cardinality(p_statuses), 0) THEN
        RAISE EXCEPTION 'marquee_announce_seats: % seat ids but % statuses',
            cardinality(p_seat_ids), cardinality(p_statuses);
    END IF;

    UPDATE showtimes SET seat_sequence = seat_sequence + 1
    WHERE id = p_showtime AND (NOT p_require_scheduled OR status = 'SCHEDULED')
    RETURNING seat_sequence, hall_id INTO v_seq, v_hall;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    -- One statement (migration 0034_fewer_statements): the count, the changes, the check
    -- of their statuses and the NOTIFY.
    -- Available: not blocked, and no occupancy that still occupies the seat (sold, or a
    -- hold that has not expired: an expired hold frees its seat at once, swept or not).
    -- (The hall's seats not blocked, from the layout the seat triggers keep, less the
    -- showtime's live occupancies, plus those of blocked seats, which the layout never
    -- counted: read through the hall's blocked seats, only when it has any. Migration
    -- 0030_announce_count_occupancies.)
    SELECT c.unknown
    INTO v_unknown
    FROM (
        SELECT length(replace(h.layout_base, 'B', '')) - (
            SELECT count(*) FROM seat_occupancy o
            WHERE o.showtime_id = p_showtime AND (o.status = 'SOLD' OR o.expires_at > now())
        ) + CASE WHEN strpos(h.layout_base, 'B') = 0 THEN 0 ELSE (
            SELECT count(*) FROM seats s
            JOIN seat_occupancy o ON o.showtime_id = p_showtime AND o.seat_id = s.id
            WHERE s.hall_id = v_hall AND s.is_blocked
            AND (o.status = 'SOLD' OR o.expires_at > now())
        ) END AS available
        FROM halls h WHERE h.id = v_hall
    ) a, (
        SELECT coalesce(
                '[' || string_agg('[' || c.seat || ',"' || left(c.status, 1) || '"]', ','
                    ORDER BY c.seat) || ']',
                '[]'
            ) AS changes,
            count(*) FILTER (
                WHERE c.status IS NULL OR c.status NOT IN ('AVAILABLE', 'HELD', 'SOLD', 'BLOCKED')
            ) AS unknown
        FROM unnest(p_seat_ids, p_statuses) AS c(seat, status)
    ) c,
    LATERAL pg_notify('seat_changes',
        '{"s":' || p_showtime || ',"q":' || v_seq || ',"a":' || a.available || CASE
            -- NOTIFY payloads must stay under 8000 bytes: past that, a resync marker.
            WHEN octet_length(c.changes) + 100 > 7900 THEN ',"r"\:1}'
            ELSE ',"c":' || c.changes || '}'
        END) AS sent;
    IF v_unknown > 0 THEN
        RAISE EXCEPTION 'marquee_announce_seats: unknown seat status in %', p_statuses;
    END IF;
    RETURN v_seq;
END
$fn$"""

HOLD_DECLARE = """    v_blocked bigint[];
"""
HOLD_DECLARE_NEW = """    v_blocked bigint[];
    v_taken bigint[];
"""
HOLD_SEATS_READ = """    SELECT
        coalesce(array_agg(w ORDER BY w) FILTER (WHERE s.id IS NULL), '{}'),
        coalesce(array_agg(w ORDER BY w) FILTER (WHERE s.is_blocked), '{}')
    INTO v_foreign, v_blocked
    FROM unnest(v_wanted) w LEFT JOIN seats s ON s.id = w AND s.hall_id = v_hall;
"""
HOLD_SEATS_READ_NEW = ""  # read with the showtime, below
HOLD_SHOWTIME_READ = """    SELECT st.status, st.starts_at, st.hall_id, st.sales_open_at
    INTO v_status, v_starts, v_hall, v_sales_open
    FROM showtimes st WHERE st.id = p_showtime;
"""
HOLD_SHOWTIME_READ_NEW = """    -- The showtime, and with it the seats wanted (0034_fewer_statements): in its hall, not
    -- blocked, and whether a live occupancy of another hold or of an order has any of them,
    -- so that such a hold is refused before it writes anything. Two holds racing for a
    -- free seat both pass this read; the unique constraint judges them below.
    SELECT st.status, st.starts_at, st.hall_id, st.sales_open_at,
        c.foreign_seats, c.blocked_seats, c.taken_seats
    INTO v_status, v_starts, v_hall, v_sales_open, v_foreign, v_blocked, v_taken
    FROM showtimes st
    CROSS JOIN LATERAL (
        SELECT
            coalesce(array_agg(w ORDER BY w) FILTER (WHERE s.id IS NULL), '{}')
                AS foreign_seats,
            coalesce(array_agg(w ORDER BY w) FILTER (WHERE s.is_blocked), '{}')
                AS blocked_seats,
            coalesce(array_agg(w ORDER BY w) FILTER (
                WHERE o.id IS NOT NULL AND (o.hold_id IS NULL OR h.user_id <> p_user)
            ), '{}') AS taken_seats
        FROM unnest(v_wanted) w
        LEFT JOIN seats s ON s.id = w AND s.hall_id = st.hall_id
        LEFT JOIN seat_occupancy o ON o.showtime_id = st.id AND o.seat_id = w
            AND (o.status = 'SOLD' OR o.expires_at > now())
        LEFT JOIN seat_holds h ON h.id = o.hold_id
    ) c
    WHERE st.id = p_showtime;
"""
HOLD_BLOCKED = """    IF cardinality(v_blocked) > 0 THEN
        o_outcome := 'BLOCKED';
        o_seat_ids := v_blocked;
        RETURN;
    END IF;
"""
HOLD_BLOCKED_NEW = (
    HOLD_BLOCKED
    + """    IF cardinality(v_taken) > 0 THEN
        o_outcome := 'TAKEN';
        o_seat_ids := v_taken;
        RETURN;
    END IF;
"""
)

SETTLE_DECLARE = """    v_email text;
"""
SETTLE_DECLARE_NEW = """    v_email text;
    v_phone text;
"""
SETTLE_CONTEXT = """                'tickets', v_tickets))
        INTO v_email, v_context
"""
SETTLE_CONTEXT_NEW = """                'tickets', v_tickets)),
            CASE WHEN u.sms_opt_in THEN u.phone END
        INTO v_email, v_context, v_phone
"""
SETTLE_OUTBOX_START = (
    "        INSERT INTO outbox_messages (template, recipient, context, dedupe_key, message_id)"
)
SETTLE_OUTBOX_END = """            ON CONFLICT (dedupe_key) DO NOTHING;
        END IF;
"""
SETTLE_OUTBOX_NEW = """        -- The e-mail, and the SMS of a ticket order to an opted-in phone, in one statement
        -- (0034_fewer_statements).
        INSERT INTO outbox_messages
            (channel, template, recipient, context, dedupe_key, message_id)
        SELECT m.channel, 'order_confirmation', m.recipient, v_context, m.dedupe_key,
            '<' || replace(gen_random_uuid()::text, '-', '') || '@' || p_mail_domain || '>'
        FROM (VALUES
            (1, 'EMAIL', v_email, 'order-confirmation:' || v_order.id),
            (2, 'SMS', v_phone, 'order-confirmation-sms:' || v_order.id)
        ) AS m(n, channel, recipient, dedupe_key)
        WHERE m.n = 1 OR (v_order.showtime_id IS NOT NULL AND m.recipient IS NOT NULL)
        ORDER BY m.n
        ON CONFLICT (dedupe_key) DO NOTHING;
"""
SETTLE_READ_START = """    IF p_key IS NOT NULL THEN
        UPDATE idempotency_keys
        SET result = jsonb_build_object('order_id', v_order.id, 'errors', v_errors)"""
SETTLE_READ_END = "    -- The seats announced SOLD last:"
SETTLE_READ_NEW = """    -- The idempotency key's result stored, and the order, its tickets and their seats read
    -- as the payload shows them (0029_payload_order, 0031_payload_tickets): one statement
    -- since 0034_fewer_statements (without a key the UPDATE matches no row).
    WITH stored AS (
        UPDATE idempotency_keys
        SET result = jsonb_build_object('order_id', v_order.id, 'errors', v_errors)
        WHERE user_id = p_user AND operation = 'payOrder' AND key = p_key
    )
    SELECT o.number, o.user_id, o.status, o.currency, o.subtotal, o.discount, o.total,
        (SELECT p.code FROM promo_codes p WHERE p.id = o.promo_code_id),
        o.created_at, o.expires_at, o.paid_at, o.cancelled_at, t.tickets, t.seats
    INTO o_number, o_user_id, o_status, o_currency, o_subtotal, o_discount, o_total,
        o_promo_code, o_created_at, o_expires_at, o_paid_at, o_cancelled_at,
        o_tickets, o_seats
    FROM orders o
    CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(t ORDER BY t.id), '{}') AS tickets,
            coalesce(array_agg((SELECT s FROM seats s WHERE s.id = t.seat_id) ORDER BY t.id),
                '{}') AS seats
        FROM tickets t WHERE t.order_id = o.id
    ) t
    WHERE o.id = o_order_id;
"""


FULFIL = "marquee_fulfil_order(bigint, numeric, boolean)"
FULFIL_DECLARE = """    v_line record;
    v_ticket bigint;
    v_reference text;
BEGIN"""
FULFIL_DECLARE_NEW = """    v_made integer := 0;
    v_count integer;
    v_rounds integer := 0;
BEGIN"""
FULFIL_PAID = """    UPDATE orders SET status = 'PAID', paid_at = now(), loyalty_points = v_points
    WHERE id = p_order;
    UPDATE users SET"""
FULFIL_PAID_NEW = """    -- The order and its buyer in one statement (0034_fewer_statements).
    WITH paid AS (
        UPDATE orders SET status = 'PAID', paid_at = now(), loyalty_points = v_points
        WHERE id = p_order
    )
    UPDATE users SET"""
FULFIL_TICKETS_START = "    FOR v_line IN"
FULFIL_TICKETS_END = """        RETURN NEXT;
    END LOOP;
"""
FULFIL_TICKETS_NEW = """    -- Every ticket in one INSERT, in line order (0034_fewer_statements); a booking reference
    -- that clashes (rare) leaves its line without a ticket, and the next round draws again
    -- for the lines still without one. Five rounds that still leave a line without one
    -- end in an error (only a line that had a ticket already could: it is skipped).
    LOOP
        RETURN QUERY
        INSERT INTO tickets AS t (booking_reference, order_id, order_line_id, user_id,
            showtime_id, seat_id, status, price, currency)
        SELECT marquee_random_code(8), p_order, l.id, v_user, l.showtime_id, l.seat_id,
            'VALID', l.unit_price - l.discount, v_currency
        FROM order_lines l
        WHERE l.order_id = p_order AND l.kind = 'TICKET'
            AND NOT EXISTS (SELECT 1 FROM tickets x WHERE x.order_line_id = l.id)
        ORDER BY l.position
        ON CONFLICT (booking_reference) DO NOTHING
        RETURNING t.id, t.booking_reference::text, t.order_line_id, t.seat_id, t.showtime_id;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        v_made := v_made + v_count;
        EXIT WHEN v_made >= cardinality(v_lines);
        v_rounds := v_rounds + 1;
        IF v_rounds >= 5 THEN
            RAISE EXCEPTION 'marquee_fulfil_order: % tickets made for % lines of order %',
                v_made, cardinality(v_lines), p_order;
        END IF;
    END LOOP;
"""


HOLD_SEAT_LIST = """    o_seat_ids := ARRAY(
        SELECT s FROM unnest(p_seat_ids) s GROUP BY s HAVING count(*) > 1 ORDER BY s
    );
    IF cardinality(o_seat_ids) > 0 THEN
        o_outcome := 'REPEATED';
        RETURN;
    END IF;
    v_wanted := ARRAY(SELECT s FROM unnest(p_seat_ids) s ORDER BY s);
"""
HOLD_SEAT_LIST_NEW = """    SELECT
        ARRAY(SELECT s FROM unnest(p_seat_ids) s GROUP BY s HAVING count(*) > 1 ORDER BY s),
        ARRAY(SELECT s FROM unnest(p_seat_ids) s ORDER BY s)
    INTO o_seat_ids, v_wanted;
    IF cardinality(o_seat_ids) > 0 THEN
        o_outcome := 'REPEATED';
        RETURN;
    END IF;
"""
HOLD_ADD = """        v_add := ARRAY(SELECT w FROM unnest(v_wanted) w WHERE NOT (w = ANY (v_own)) ORDER BY w);
"""
HOLD_ADD_NEW = """        IF cardinality(v_own) = 0 THEN  -- a new hold: every seat wanted is to be added
            v_add := v_wanted;
        ELSE
            v_add := ARRAY(
                SELECT w FROM unnest(v_wanted) w WHERE NOT (w = ANY (v_own)) ORDER BY w
            );
        END IF;
"""
HOLD_LOST = """            v_lost := ARRAY(
                SELECT w FROM unnest(v_add) w WHERE NOT (w = ANY (v_won)) ORDER BY w
            );
"""
HOLD_LOST_NEW = """            IF cardinality(v_won) < cardinality(v_add) THEN
                v_lost := ARRAY(
                    SELECT w FROM unnest(v_add) w WHERE NOT (w = ANY (v_won)) ORDER BY w
                );
            END IF;
"""

CHECKOUT = "marquee_checkout(bigint, bigint, text, text, jsonb, text, integer, integer)"
CHECKOUT_STOCK_START = "            -- Stock: lock the variants in id order"
CHECKOUT_STOCK_END = "            WHERE v.id = w.variant_id AND v.stock IS NOT NULL;\n"
CHECKOUT_STOCK_IF = """            -- Only a cart with products has stock to check and take (0034_fewer_statements:
            -- four statements less for a cart of seats alone).
            IF v_price -> 'lines' @> '[{"kind": "PRODUCT"}]' THEN
"""
CHECKOUT_STOCK_END_IF = "            END IF;\n"

PRICE_CART = "marquee_price_cart(bigint, bigint, jsonb, text, integer, integer)"
PRICE_PRODUCTS_START = (
    "    -- Products, in the order given; each one checked, the valid ones priced.\n"
)
PRICE_PRODUCTS_END = "    END LOOP;\n"
PRICE_PRODUCTS_IF = """    -- (Only when the cart names products: 0034_fewer_statements.)
    IF coalesce(jsonb_array_length(p_products), 0) > 0 THEN
"""
PRICE_PRODUCTS_END_IF = "    END IF;\n"


CHECKOUT_ORDER = """                ON CONFLICT (number) DO NOTHING
                RETURNING o.id INTO v_order;
                EXIT WHEN v_order IS NOT NULL;
            END LOOP;
            INSERT INTO order_lines (order_id, position, kind, description, quantity,
                unit_price, discount, showtime_id, seat_id, seat_type, product_id, variant_id)
            SELECT v_order, n - 1, l.kind, l.description, l.quantity, l.unit_price,
                l.discount, l.showtime_id, l.seat_id, l.seat_type, l.product_id, l.variant_id
            FROM jsonb_array_elements(v_price -> 'lines') WITH ORDINALITY AS e(j, n),
                jsonb_to_record(e.j) AS l(kind text, description text, quantity integer,
                    unit_price numeric, discount numeric, showtime_id bigint, seat_id bigint,
                    seat_type text, product_id bigint, variant_id bigint);
            UPDATE seat_occupancy SET order_id = v_order, hold_id = NULL
            WHERE hold_id = p_hold AND status = 'HELD';
            DELETE FROM seat_holds WHERE id = p_hold;
"""
CHECKOUT_ORDER_NEW = """                ON CONFLICT (number) DO NOTHING
                RETURNING o.id
            ), lines AS (  -- its lines in the same statement (0034_fewer_statements)
                INSERT INTO order_lines (order_id, position, kind, description, quantity,
                    unit_price, discount, showtime_id, seat_id, seat_type, product_id,
                    variant_id)
                SELECT made.id, n - 1, l.kind, l.description, l.quantity, l.unit_price,
                    l.discount, l.showtime_id, l.seat_id, l.seat_type, l.product_id,
                    l.variant_id
                FROM made, jsonb_array_elements(v_price -> 'lines') WITH ORDINALITY AS e(j, n),
                    jsonb_to_record(e.j) AS l(kind text, description text, quantity integer,
                        unit_price numeric, discount numeric, showtime_id bigint,
                        seat_id bigint, seat_type text, product_id bigint, variant_id bigint)
            )
                SELECT made.id INTO v_order FROM made;
                EXIT WHEN v_order IS NOT NULL;
            END LOOP;
            -- The seats move to the order and the hold goes, in one statement (the hold's
            -- cascade to its occupancies runs after it, and finds none left).
            WITH moved AS (
                UPDATE seat_occupancy SET order_id = v_order, hold_id = NULL
                WHERE hold_id = p_hold AND status = 'HELD'
            )
            DELETE FROM seat_holds WHERE id = p_hold;
"""
CHECKOUT_ORDER_INSERT = """            LOOP  -- a fresh order number; a clash (rare) draws again
                INSERT INTO orders AS o"""
CHECKOUT_ORDER_INSERT_NEW = """            LOOP  -- a fresh order number; a clash (rare) draws again
                WITH made AS (
                INSERT INTO orders AS o"""
CHECKOUT_READ = """    IF p_key IS NOT NULL THEN
        UPDATE idempotency_keys SET result = jsonb_build_object('order_id', v_order, 'errors',
            '[]'::jsonb)
        WHERE user_id = p_user AND operation = 'checkout' AND key = p_key;
    END IF;
    o_outcome := 'OK';
    o_order_id := v_order;
    -- The order as the payload shows it (migration 0029_payload_order).
    SELECT"""
CHECKOUT_READ_NEW = """    o_outcome := 'OK';
    o_order_id := v_order;
    -- The idempotency key's result stored and the order read as the payload shows it
    -- (migration 0029_payload_order) in one statement (0034_fewer_statements; without a
    -- key the UPDATE matches no row).
    WITH stored AS (
        UPDATE idempotency_keys SET result = jsonb_build_object('order_id', v_order, 'errors',
            '[]'::jsonb)
        WHERE user_id = p_user AND operation = 'checkout' AND key = p_key
    )
    SELECT"""


def _indented(definition: str, start: str, end: str, before: str, after: str) -> str:
    """`definition` with the text from `start` to the end of `end` indented four spaces
    more, between `before` and `after`."""
    first = definition.index(start)
    last = definition.index(end, first) + len(end)
    assert definition.count(start) == 1, start
    block = "".join(
        "    " + line if line.strip() else line
        for line in definition[first:last].splitlines(keepends=True)
    )
    return definition[:first] + before + block + after + definition[last:]


def _checkout_0029() -> str:
    module = earlier("0029_payload_order")
    checkout: str = module._old_functions()[0]
    definition: str = module._with_order(checkout, module.CHECKOUT_HEAD, module.CHECKOUT_END)
    return _patched(definition, ("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))


def checkout_0034() -> str:
    definition = _indented(
        _checkout_0029(),
        CHECKOUT_STOCK_START,
        CHECKOUT_STOCK_END,
        CHECKOUT_STOCK_IF,
        CHECKOUT_STOCK_END_IF,
    )
    return _patched(
        definition,
        (CHECKOUT_ORDER_INSERT, CHECKOUT_ORDER_INSERT_NEW),
        (CHECKOUT_ORDER, CHECKOUT_ORDER_NEW),
        (CHECKOUT_READ, CHECKOUT_READ_NEW),
    )


def _price_cart_0033() -> str:
    module = earlier("0033_sale_plans")
    return _patched(module._price_cart_0012(), (module.PRICE_JOIN, module.PRICE_JOIN_NEW))


def price_cart_0034() -> str:
    return _indented(
        _price_cart_0033(),
        PRICE_PRODUCTS_START,
        PRICE_PRODUCTS_END,
        PRICE_PRODUCTS_IF,
        PRICE_PRODUCTS_END_IF,
    )


def _patched(definition: str, *changes: tuple[str, str]) -> str:
    """`definition` with each (old, new) replaced; each old text must occur once."""
    for old, new in changes:
        assert definition.count(old) == 1, old
        definition = definition.replace(old, new)
    return definition


def _spliced(definition: str, start: str, end: str, new: str, *, with_end: bool) -> str:
    """`definition` with the text from `start` up to `end` (included or not) replaced."""
    first = definition.index(start)
    last = definition.index(end, first) + (len(end) if with_end else 0)
    return definition[:first] + new + definition[last:]


def _definition(migration: str, function: str) -> str:
    """A function's definition as an earlier migration left it (its `function()`)."""
    definition: str = getattr(earlier(migration), function)()
    return definition


def _announce_0030() -> str:
    return _definition("0030_announce_count_occupancies", "announce_0030")


def _hold_seats_0028() -> str:
    return _definition("0028_hold_seat_order", "hold_seats_0028")


def _settle_0033() -> str:
    return _definition("0033_sale_plans", "settle_0033")


def _fulfil_0033() -> str:
    definition = _definition("0033_sale_plans", "fulfil_0033")
    return _patched(definition, ("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))


def fulfil_0034() -> str:
    definition = _patched(
        _fulfil_0033(), (FULFIL_DECLARE, FULFIL_DECLARE_NEW), (FULFIL_PAID, FULFIL_PAID_NEW)
    )
    return _spliced(
        definition, FULFIL_TICKETS_START, FULFIL_TICKETS_END, FULFIL_TICKETS_NEW, with_end=True
    )


def hold_seats_0034() -> str:
    return _patched(
        _hold_seats_0028(),
        (HOLD_DECLARE, HOLD_DECLARE_NEW),
        (HOLD_SEATS_READ, HOLD_SEATS_READ_NEW),
        (HOLD_SHOWTIME_READ, HOLD_SHOWTIME_READ_NEW),
        (HOLD_BLOCKED, HOLD_BLOCKED_NEW),
        (HOLD_SEAT_LIST, HOLD_SEAT_LIST_NEW),
        (HOLD_ADD, HOLD_ADD_NEW),
        (HOLD_LOST, HOLD_LOST_NEW),
    )


def settle_0034() -> str:
    definition = _patched(
        _settle_0033(),
        (SETTLE_DECLARE, SETTLE_DECLARE_NEW),
        (SETTLE_CONTEXT, SETTLE_CONTEXT_NEW),
    )
    definition = _spliced(
        definition, SETTLE_OUTBOX_START, SETTLE_OUTBOX_END, SETTLE_OUTBOX_NEW, with_end=True
    )
    return _spliced(definition, SETTLE_READ_START, SETTLE_READ_END, SETTLE_READ_NEW, with_end=False)


def upgrade() -> None:
    op.execute(ANNOUNCE_FUNCTION)
    op.execute(hold_seats_0034())
    op.execute(f"ALTER FUNCTION {HOLD} SET plan_cache_mode = force_generic_plan")
    op.execute(settle_0034())
    op.execute(fulfil_0034())
    op.execute(f"ALTER FUNCTION {FULFIL} ROWS 4")
    op.execute(checkout_0034())
    op.execute(price_cart_0034())


def downgrade() -> None:
    op.execute(_price_cart_0033())
    op.execute(_checkout_0029())
    op.execute(_fulfil_0033())
    op.execute(f"ALTER FUNCTION {FULFIL} ROWS 4")
    op.execute(_settle_0033())
    op.execute(_hold_seats_0028())
    op.execute(f"ALTER FUNCTION {HOLD} SET plan_cache_mode = force_generic_plan")
    op.execute(_announce_0030())
    op.execute(f"ALTER FUNCTION {ANNOUNCE} SET plan_cache_mode = force_generic_plan")
