"""payments: payOrder's begin and settle as server-side functions (one round trip each)

Revision ID: 0010_payment_functions
Revises: 0009_sale_functions
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_payment_functions"
down_revision: str | None = "0009_sale_functions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# payOrder's step 1 (docs/orders.md, "Payments") in one statement, its own transaction:
# claim the idempotency key (if any), lock the order, check it is the user's, pending and
# not expired, and write a PROCESSING payment with the given reference. o_outcome: OK
# (o_payment_id, o_amount, o_currency), STORED (the key's first result in o_result, or NULL
# while that call is still running), KEY_REUSED, NOT_FOUND, PAID, EXPIRED (also cancelled),
# IN_PROGRESS (a live payment exists). A failure changes nothing (the key's claim is undone).
BEGIN_PAYMENT_FUNCTION = r"""
CREATE FUNCTION marquee_begin_payment(
    p_user bigint,
    p_order bigint,
    p_provider text,
    p_reference text,
    p_key text,
    p_hash text,
    OUT o_outcome text,
    OUT o_payment_id bigint,
    OUT o_amount numeric,
    OUT o_currency text,
    OUT o_result jsonb
) LANGUAGE plpgsql AS $fn$
DECLARE
    v_claimed boolean := false;
    v_hash text;
    v_status text;
    v_expires timestamptz;
BEGIN
    IF p_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (user_id, operation, key, request_hash)
        VALUES (p_user, 'payOrder', p_key, p_hash)
        ON CONFLICT DO NOTHING;
        v_claimed := FOUND;
        IF NOT v_claimed THEN
            SELECT k.request_hash, k.result INTO v_hash, o_result
            FROM idempotency_keys k
            WHERE k.user_id = p_user AND k.operation = 'payOrder' AND k.key = p_key;
            o_outcome := CASE WHEN v_hash <> p_hash THEN 'KEY_REUSED' ELSE 'STORED' END;
            RETURN;
        END IF;
    END IF;
    BEGIN
        SELECT o.status, o.expires_at, o.total, o.currency
        INTO v_status, v_expires, o_amount, o_currency
        FROM orders o WHERE o.id = p_order AND o.user_id = p_user FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'NOT_FOUND' USING ERRCODE = 'MQ404';
        ELSIF v_status = 'PAID' THEN
            RAISE EXCEPTION 'PAID' USING ERRCODE = 'MQ409';
        ELSIF v_status <> 'PENDING_PAYMENT' OR v_expires <= now() THEN
            RAISE EXCEPTION 'EXPIRED' USING ERRCODE = 'MQ410';
        END IF;
        INSERT INTO payments AS p (order_id, provider, reference, status, amount, currency)
        VALUES (p_order, p_provider, p_reference, 'PROCESSING', o_amount, o_currency)
        ON CONFLICT (order_id) WHERE status IN ('PROCESSING', 'SUCCEEDED') DO NOTHING
        RETURNING p.id INTO o_payment_id;
        IF o_payment_id IS NULL THEN
            RAISE EXCEPTION 'IN_PROGRESS' USING ERRCODE = 'MQ409';
        END IF;
    EXCEPTION WHEN SQLSTATE 'MQ404' OR SQLSTATE 'MQ409' OR SQLSTATE 'MQ410' THEN
        o_outcome := SQLERRM;
        o_payment_id := NULL;
        IF v_claimed THEN
            DELETE FROM idempotency_keys
            WHERE user_id = p_user AND operation = 'payOrder' AND key = p_key;
        END IF;
        RETURN;
    END;
    o_outcome := 'OK';
END
$fn$
"""

# payOrder's step 3 in one statement, its own transaction: lock the payment's order and the
# payment; a payment settled already is left alone (SETTLED). PENDING keeps it PROCESSING
# with the charge id; DECLINED and INSUFFICIENT_FUNDS mark it FAILED; SUCCEEDED fulfils the
# order (`marquee_fulfil_order`), marks the payment SUCCEEDED and writes the confirmation
# e-mail to the outbox (its tickets' QR codes are signed when it is sent) -> PAID. When the
# order is no longer payable, or its seats are gone, nothing changes and the answer is
# REFUND: the caller refunds through the provider (db/payments/actions.py). With a key, the
# result is stored under it (the errors as payOrder reports them).
SETTLE_PAYMENT_FUNCTION = r"""
CREATE FUNCTION marquee_settle_payment(
    p_payment bigint,
    p_outcome text,
    p_charge_id text,
    p_failure text,
    p_points_per_unit numeric,
    p_user bigint,
    p_key text,
    p_mail_domain text,
    OUT o_result text,
    OUT o_order_id bigint
) LANGUAGE plpgsql AS $fn$
DECLARE
    v_order record;
    v_payment_status text;
    v_tickets jsonb;
    v_errors jsonb := '[]'::jsonb;
    v_context jsonb;
    v_email text;
BEGIN
    SELECT o.id, o.number, o.user_id, o.showtime_id, o.status, o.currency, o.total,
        o.expires_at
    INTO v_order
    FROM orders o WHERE o.id = (SELECT p.order_id FROM payments p WHERE p.id = p_payment)
    FOR UPDATE;
    o_order_id := v_order.id;
    SELECT p.status INTO v_payment_status FROM payments p WHERE p.id = p_payment FOR UPDATE;
    IF v_payment_status <> 'PROCESSING' THEN
        o_result := 'SETTLED';
    ELSIF p_outcome = 'PENDING' THEN
        UPDATE payments SET charge_id = p_charge_id, updated_at = now() WHERE id = p_payment;
        o_result := 'PENDING';
    ELSIF p_outcome IN ('DECLINED', 'INSUFFICIENT_FUNDS') THEN
        UPDATE payments SET status = 'FAILED', charge_id = p_charge_id,
            failure_code = p_failure, updated_at = now()
        WHERE id = p_payment;
        o_result := p_outcome;
        v_errors := jsonb_build_array(jsonb_build_object(
            'code', CASE p_outcome WHEN 'DECLINED' THEN 'PAYMENT_DECLINED'
                ELSE 'INSUFFICIENT_FUNDS' END,
            'message', CASE p_outcome WHEN 'DECLINED' THEN 'The card was declined.'
                ELSE 'The card has insufficient funds.' END,
            'field', NULL));
    ELSIF v_order.status <> 'PENDING_PAYMENT' OR v_order.expires_at <= now() THEN
        o_result := 'REFUND';
        RETURN;
    ELSE
        SELECT jsonb_agg(jsonb_build_object(
                'ticket_id', f.o_ticket_id, 'booking_reference', f.o_reference,
                'showtime_id', f.o_showtime_id, 'seat_id', f.o_seat_id,
                'seat_label', s.row_label || s.number, 'price', l.unit_price::text)
                ORDER BY f.o_ticket_id)
        INTO v_tickets
        FROM marquee_fulfil_order(v_order.id, p_points_per_unit) f
        JOIN seats s ON s.id = f.o_seat_id
        JOIN order_lines l ON l.id = f.o_line_id;
        IF v_tickets IS NULL THEN
            o_result := 'REFUND';
            RETURN;
        END IF;
        UPDATE payments SET status = 'SUCCEEDED', charge_id = p_charge_id, updated_at = now()
        WHERE id = p_payment;
        SELECT u.email, jsonb_strip_nulls(jsonb_build_object(
                'order_number', v_order.number,
                'customer_name', coalesce(u.full_name, u.username),
                'currency', v_order.currency,
                'total', v_order.total::text,
                'movie_title', m.title, 'cinema_name', c.name, 'hall_name', h.name,
                'time_zone', c.time_zone,
                'starts_at', to_char(st.starts_at AT TIME ZONE 'UTC',
                    'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
                'lines', (SELECT jsonb_agg(jsonb_build_object(
                        'description', l.description, 'quantity', l.quantity,
                        'total', (l.unit_price * l.quantity - l.discount)::text)
                        ORDER BY l.position)
                    FROM order_lines l WHERE l.order_id = v_order.id),
                'tickets', v_tickets))
        INTO v_email, v_context
        FROM users u
        LEFT JOIN showtimes st ON st.id = v_order.showtime_id
        LEFT JOIN movies m ON m.id = st.movie_id
        LEFT JOIN halls h ON h.id = st.hall_id
        LEFT JOIN cinemas c ON c.id = h.cinema_id
        WHERE u.id = v_order.user_id;
        INSERT INTO outbox_messages (template, recipient, context, dedupe_key, message_id)
        VALUES ('order_confirmation', v_email, v_context,
            'order-confirmation:' || v_order.id,
            '<' || replace(gen_random_uuid()::text, '-', '') || '@' || p_mail_domain || '>')
        ON CONFLICT (dedupe_key) DO NOTHING;
        o_result := 'PAID';
    END IF;
    IF p_key IS NOT NULL THEN
        UPDATE idempotency_keys
        SET result = jsonb_build_object('order_id', v_order.id, 'errors', v_errors)
        WHERE user_id = p_user AND operation = 'payOrder' AND key = p_key;
    END IF;
END
$fn$
"""


def upgrade() -> None:
    op.execute(BEGIN_PAYMENT_FUNCTION)
    op.execute(SETTLE_PAYMENT_FUNCTION)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION marquee_settle_payment(bigint, text, text, text, numeric, bigint, "
        "text, text)"
    )
    op.execute("DROP FUNCTION marquee_begin_payment(bigint, bigint, text, text, text, text)")
