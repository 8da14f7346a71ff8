"""orders: checkout and fulfilment as server-side functions (one round trip each)

Revision ID: 0009_sale_functions
Revises: 0008_outbox
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_sale_functions"
down_revision: str | None = "0008_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Random codes from the alphabet without look-alikes (db/orders/codes.py), drawn from the
# random bytes of gen_random_uuid() (a version 4 UUID: bytes 6 and 8 carry its version and
# variant bits, so they are skipped; 14 random bytes a UUID, a new UUID when used up).
RANDOM_CODE_FUNCTION = r"""
CREATE FUNCTION marquee_random_code(p_length integer) RETURNS text
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_alphabet constant text := '34679ACDEFGHJKMNPQRTWXY';
    v_random constant integer[] := ARRAY[0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 13, 14, 15];
    v_bytes bytea;
    v_code text := '';
BEGIN
    FOR i IN 0 .. p_length - 1 LOOP
        IF i % 14 = 0 THEN
            v_bytes := uuid_send(gen_random_uuid());
        END IF;
        v_code := v_code
            || substr(v_alphabet, 1 + get_byte(v_bytes, v_random[1 + i % 14]) % 23, 1);
    END LOOP;
    RETURN v_code;
END
$fn$
"""

# `db.orders.actions.checkout` in one statement (docs/orders.md, "States"): claim the
# idempotency key (if any), lock the hold, check it, price its seats from the showtime,
# create the order and its lines, move the seats from the hold to the order, delete the
# hold. o_outcome is OK or the failure: NOT_FOUND, HOLD_EXPIRED (also: the hold's order
# expired or was cancelled), NOT_BOOKABLE, UNPRICED (o_detail: the seat types),
# MIXED_CURRENCIES, EMPTY, KEY_REUSED. A failure changes nothing (its claim of the key is
# undone), so the same key may be used again.
CHECKOUT_FUNCTION = r"""
CREATE FUNCTION marquee_checkout(
    p_user bigint,
    p_hold bigint,
    p_key text,
    p_hash text,
    OUT o_outcome text,
    OUT o_order_id bigint,
    OUT o_detail text
) LANGUAGE plpgsql AS $fn$
DECLARE
    v_claimed boolean := false;
    v_hash text;
    v_result jsonb;
    v_hold_user bigint;
    v_showtime bigint;
    v_expires timestamptz;
    v_status text;
    v_starts timestamptz;
    v_title text;
    v_count integer;
    v_currencies integer;
    v_currency text;
    v_subtotal numeric;
    v_order bigint;
BEGIN
    IF p_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (user_id, operation, key, request_hash)
        VALUES (p_user, 'checkout', p_key, p_hash)
        ON CONFLICT DO NOTHING;
        v_claimed := FOUND;
        IF NOT v_claimed THEN
            SELECT k.request_hash, k.result INTO v_hash, v_result
            FROM idempotency_keys k
            WHERE k.user_id = p_user AND k.operation = 'checkout' AND k.key = p_key
            FOR UPDATE;
            IF v_hash <> p_hash THEN
                o_outcome := 'KEY_REUSED';
                RETURN;
            END IF;
            IF v_result ->> 'order_id' IS NOT NULL THEN
                o_outcome := 'OK';
                o_order_id := (v_result ->> 'order_id')::bigint;
                RETURN;
            END IF;
        END IF;
    END IF;

    BEGIN
        SELECT h.user_id, h.showtime_id, h.expires_at INTO v_hold_user, v_showtime, v_expires
        FROM seat_holds h WHERE h.id = p_hold FOR UPDATE;
        IF NOT FOUND OR v_hold_user <> p_user THEN
            -- Checked out already (the hold row went to its order): one order per hold.
            SELECT o.id, o.status INTO v_order, v_status
            FROM orders o WHERE o.hold_id = p_hold AND o.user_id = p_user;
            IF v_order IS NULL THEN
                RAISE EXCEPTION 'NOT_FOUND' USING ERRCODE = 'MQ404';
            ELSIF v_status NOT IN ('PENDING_PAYMENT', 'PAID') THEN
                RAISE EXCEPTION 'HOLD_EXPIRED' USING ERRCODE = 'MQ410';
            END IF;
        ELSE
            IF v_expires <= now() THEN
                RAISE EXCEPTION 'HOLD_EXPIRED' USING ERRCODE = 'MQ410';
            END IF;
            SELECT st.status, st.starts_at, m.title INTO v_status, v_starts, v_title
            FROM showtimes st JOIN movies m ON m.id = st.movie_id
            WHERE st.id = v_showtime;
            IF v_status <> 'SCHEDULED' OR v_starts <= now() THEN
                RAISE EXCEPTION 'NOT_BOOKABLE' USING ERRCODE = 'MQ423';
            END IF;
            SELECT count(*), count(DISTINCT p.currency), min(p.currency), sum(p.amount),
                   string_agg(DISTINCT s.seat_type, ', ' ORDER BY s.seat_type)
                       FILTER (WHERE p.amount IS NULL)
            INTO v_count, v_currencies, v_currency, v_subtotal, o_detail
            FROM seat_occupancy so
            JOIN seats s ON s.id = so.seat_id
            LEFT JOIN showtime_prices p
                ON p.showtime_id = so.showtime_id AND p.seat_type = s.seat_type
            WHERE so.hold_id = p_hold AND so.status = 'HELD';
            IF v_count = 0 THEN
                RAISE EXCEPTION 'EMPTY' USING ERRCODE = 'MQ410';
            ELSIF o_detail IS NOT NULL THEN
                RAISE EXCEPTION 'UNPRICED' USING ERRCODE = 'MQ424';
            ELSIF v_currencies <> 1 THEN
                RAISE EXCEPTION 'MIXED_CURRENCIES' USING ERRCODE = 'MQ425';
            END IF;
            LOOP  -- a fresh order number; a clash (rare) draws again
                INSERT INTO orders AS o (number, user_id, hold_id, showtime_id, status,
                    currency, subtotal, discount, total, expires_at)
                VALUES ('MQ-' || marquee_random_code(6), p_user, p_hold, v_showtime,
                    'PENDING_PAYMENT', v_currency, v_subtotal, 0, v_subtotal, v_expires)
                ON CONFLICT (number) DO NOTHING
                RETURNING o.id INTO v_order;
                EXIT WHEN v_order IS NOT NULL;
            END LOOP;
            INSERT INTO order_lines (order_id, position, kind, description, quantity,
                unit_price, showtime_id, seat_id, seat_type)
            SELECT v_order, (row_number() OVER (ORDER BY s.y, s.x, s.id)) - 1, 'TICKET',
                left(v_title || ': seat ' || s.row_label || s.number || ' ('
                    || lower(s.seat_type) || ')', 300),
                1, p.amount, v_showtime, s.id, s.seat_type
            FROM seat_occupancy so
            JOIN seats s ON s.id = so.seat_id
            JOIN showtime_prices p
                ON p.showtime_id = so.showtime_id AND p.seat_type = s.seat_type
            WHERE so.hold_id = p_hold AND so.status = 'HELD';
            UPDATE seat_occupancy SET order_id = v_order, hold_id = NULL
            WHERE hold_id = p_hold AND status = 'HELD';
            DELETE FROM seat_holds WHERE id = p_hold;
        END IF;
    EXCEPTION WHEN SQLSTATE 'MQ404' OR SQLSTATE 'MQ410' OR SQLSTATE 'MQ423'
        OR SQLSTATE 'MQ424' OR SQLSTATE 'MQ425' THEN
        o_outcome := SQLERRM;
        o_order_id := NULL;
        IF v_claimed THEN
            DELETE FROM idempotency_keys
            WHERE user_id = p_user AND operation = 'checkout' AND key = p_key;
        END IF;
        RETURN;
    END;
    IF p_key IS NOT NULL THEN
        UPDATE idempotency_keys SET result = jsonb_build_object('order_id', v_order, 'errors',
            '[]'::jsonb)
        WHERE user_id = p_user AND operation = 'checkout' AND key = p_key;
    END IF;
    o_outcome := 'OK';
    o_order_id := v_order;
END
$fn$
"""

# `db.orders.actions.fulfil` in one statement, inside the caller's transaction (which holds
# the order's row lock and has checked that it is payable): the order's seats SOLD in place,
# one ticket per ticket line, PAID with its loyalty points, the customer's points and total
# spent, the seats announced SOLD. Returns the tickets (id, reference, line, seat, showtime),
# or no row at all, having changed nothing, when the order's seats are not all still held by
# it (expired and taken meanwhile).
FULFIL_FUNCTION = r"""
CREATE FUNCTION marquee_fulfil_order(p_order bigint, p_points_per_unit numeric)
RETURNS TABLE (
    o_ticket_id bigint,
    o_reference text,
    o_line_id bigint,
    o_seat_id bigint,
    o_showtime_id bigint
) LANGUAGE plpgsql AS $fn$
DECLARE
    v_user bigint;
    v_showtime bigint;
    v_total numeric;
    v_currency text;
    v_points integer;
    v_lines bigint[];
    v_sold bigint[];
    v_line record;
    v_ticket bigint;
    v_reference text;
BEGIN
    SELECT o.user_id, o.showtime_id, o.total, o.currency
    INTO v_user, v_showtime, v_total, v_currency
    FROM orders o WHERE o.id = p_order;
    v_lines := ARRAY(
        SELECT l.seat_id FROM order_lines l
        WHERE l.order_id = p_order AND l.kind = 'TICKET' ORDER BY l.seat_id
    );
    v_sold := ARRAY(
        SELECT so.seat_id FROM seat_occupancy so
        WHERE so.order_id = p_order AND so.status = 'HELD' ORDER BY so.seat_id
        FOR UPDATE
    );
    IF v_sold IS DISTINCT FROM v_lines THEN
        RETURN;
    END IF;
    UPDATE seat_occupancy SET status = 'SOLD', expires_at = NULL
    WHERE order_id = p_order AND status = 'HELD';
    v_points := floor(v_total * p_points_per_unit)::integer;
    UPDATE orders SET status = 'PAID', paid_at = now(), loyalty_points = v_points
    WHERE id = p_order;
    UPDATE users SET loyalty_points = loyalty_points + v_points,
        total_spent = total_spent + v_total
    WHERE id = v_user;
    FOR v_line IN
        SELECT l.id, l.seat_id, l.showtime_id, l.unit_price FROM order_lines l
        WHERE l.order_id = p_order AND l.kind = 'TICKET' ORDER BY l.position
    LOOP
        LOOP  -- a fresh booking reference; a clash (rare) draws again
            v_reference := marquee_random_code(8);
            INSERT INTO tickets AS t (booking_reference, order_id, order_line_id, user_id,
                showtime_id, seat_id, status, price, currency)
            VALUES (v_reference, p_order, v_line.id, v_user, v_line.showtime_id,
                v_line.seat_id, 'VALID', v_line.unit_price, v_currency)
            ON CONFLICT (booking_reference) DO NOTHING
            RETURNING t.id INTO v_ticket;
            EXIT WHEN v_ticket IS NOT NULL;
        END LOOP;
        o_ticket_id := v_ticket;
        o_reference := v_reference;
        o_line_id := v_line.id;
        o_seat_id := v_line.seat_id;
        o_showtime_id := v_line.showtime_id;
        RETURN NEXT;
    END LOOP;
    IF v_showtime IS NOT NULL AND cardinality(v_sold) > 0 THEN
        PERFORM marquee_announce_seats(
            v_showtime, v_sold, array_fill('SOLD'::text, ARRAY[cardinality(v_sold)]), false
        );
    END IF;
END
$fn$
"""


def upgrade() -> None:
    op.execute(RANDOM_CODE_FUNCTION)
    op.execute(CHECKOUT_FUNCTION)
    op.execute(FULFIL_FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION marquee_fulfil_order(bigint, numeric)")
    op.execute("DROP FUNCTION marquee_checkout(bigint, bigint, text, text)")
    op.execute("DROP FUNCTION marquee_random_code(integer)")
