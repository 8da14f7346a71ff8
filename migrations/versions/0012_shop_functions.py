"""shop: pricing a cart, checkout with products and promo codes, reservations given back

Revision ID: 0012_shop_functions
Revises: 0011_shop
Create Date: 2026-12-03
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0012_shop_functions"
down_revision: str | None = "0011_shop"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Prices a cart (docs/shop.md, "Pricing"): the user's hold, products
# ([{index, product_id, variant_id, quantity}], merged per variant by the caller) and a promo
# code, read from the database's own prices and never written. Returns
#   {errors: [{code, index?, ...}], currency, showtime_id, promo_code_id, promo_code,
#    subtotal, discount, total, lines: [{kind, description, quantity, unit_price, discount,
#    showtime_id, seat_id, seat_type, product_id, variant_id}]}
# with the lines in order (tickets by seat, then products as given). Errors name what is
# wrong; what can be priced still is (the cart page shows both). Stock and promo limits read
# here are advice: checkout judges them again under lock. A customer who has tried
# p_guess_limit unknown codes in the current window of p_guess_window seconds (the
# rate_limits counter `promo-guess:<user>`, counted by the API) gets no answer about codes
# until the window ends (0: no limit).
PRICE_CART_FUNCTION = r"""
CREATE FUNCTION marquee_price_cart(
    p_user bigint, p_hold bigint, p_products jsonb, p_promo text,
    p_guess_limit integer, p_guess_window integer
) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
    v_hold record;
    v_show record;
    v_errors jsonb := '[]'::jsonb;
    v_lines jsonb;
    v_currency text;
    v_currencies integer;
    v_count integer;
    v_unpriced text;
    v_item record;
    v_promo promo_codes%ROWTYPE;
    v_restricted boolean;
    v_used integer;
    v_subtotal numeric;
    v_eligible numeric;
    v_discount numeric := 0;
BEGIN
    SELECT h.user_id, h.showtime_id, h.expires_at INTO v_hold
    FROM seat_holds h WHERE h.id = p_hold;
    IF NOT FOUND OR v_hold.user_id <> p_user THEN
        RETURN jsonb_build_object('errors', jsonb_build_array(
            jsonb_build_object('code', 'NOT_FOUND')), 'lines', '[]'::jsonb);
    ELSIF v_hold.expires_at <= now() THEN
        RETURN jsonb_build_object('errors', jsonb_build_array(
            jsonb_build_object('code', 'HOLD_EXPIRED')), 'lines', '[]'::jsonb);
    END IF;
    SELECT st.status, st.starts_at, st.movie_id, m.title, h.cinema_id INTO v_show
    FROM showtimes st
    JOIN movies m ON m.id = st.movie_id
    JOIN halls h ON h.id = st.hall_id
    WHERE st.id = v_hold.showtime_id;
    IF v_show.status <> 'SCHEDULED' OR v_show.starts_at <= now() THEN
        RETURN jsonb_build_object('errors', jsonb_build_array(
            jsonb_build_object('code', 'NOT_BOOKABLE')), 'lines', '[]'::jsonb);
    END IF;

    -- Tickets: one line per held seat, at the showtime's price for its seat type.
    SELECT count(*), count(DISTINCT p.currency), min(p.currency),
           string_agg(DISTINCT s.seat_type, ', ' ORDER BY s.seat_type)
               FILTER (WHERE p.amount IS NULL),
           coalesce(jsonb_agg(jsonb_build_object(
               'kind', 'TICKET',
               'description', left(v_show.title || ': seat ' || s.row_label || s.number
                   || ' (' || lower(s.seat_type) || ')', 300),
               'quantity', 1, 'unit_price', p.amount, 'discount', 0,
               'showtime_id', v_hold.showtime_id, 'seat_id', s.id, 'seat_type', s.seat_type,
               'eligible', false)
               ORDER BY s.y, s.x, s.id), '[]'::jsonb)
    INTO v_count, v_currencies, v_currency, v_unpriced, v_lines
    FROM seat_occupancy so
    JOIN seats s ON s.id = so.seat_id
    LEFT JOIN showtime_prices p ON p.showtime_id = so.showtime_id AND p.seat_type = s.seat_type
    WHERE so.hold_id = p_hold AND so.status = 'HELD';
    IF v_count = 0 THEN
        RETURN jsonb_build_object('errors', jsonb_build_array(
            jsonb_build_object('code', 'EMPTY')), 'lines', '[]'::jsonb);
    ELSIF v_unpriced IS NOT NULL THEN
        RETURN jsonb_build_object('errors', jsonb_build_array(
            jsonb_build_object('code', 'UNPRICED', 'detail', v_unpriced)), 'lines', '[]'::jsonb);
    ELSIF v_currencies <> 1 THEN
        RETURN jsonb_build_object('errors', jsonb_build_array(
            jsonb_build_object('code', 'MIXED_CURRENCIES')), 'lines', '[]'::jsonb);
    END IF;

    -- Products, in the order given; each one checked, the valid ones priced.
    FOR v_item IN
        SELECT w.index, w.product_id, w.variant_id, w.quantity,
               p.id AS found_product, p.name, p.price, p.currency, p.is_active,
               v.id AS found_variant, v.name AS variant_name, v.price_delta, v.stock,
               v.is_active AS variant_active, v.variants,
               (SELECT coalesce(sum(l.quantity), 0) FROM order_lines l
                JOIN orders o ON o.id = l.order_id
                WHERE o.user_id = p_user AND o.status = 'PENDING_PAYMENT'
                  AND o.expires_at > now() AND l.variant_id = v.id) AS pending,
               (NOT EXISTS (SELECT 1 FROM product_cinemas pc WHERE pc.product_id = p.id)
                OR EXISTS (SELECT 1 FROM product_cinemas pc
                           WHERE pc.product_id = p.id AND pc.cinema_id = v_show.cinema_id))
                   AS sold_here
        FROM jsonb_to_recordset(coalesce(p_products, '[]'::jsonb))
            AS w(index integer, product_id bigint, variant_id bigint, quantity integer)
        LEFT JOIN products p ON p.id = w.product_id
        LEFT JOIN LATERAL (
            SELECT pv.id, pv.name, pv.price_delta, pv.stock, pv.is_active,
                   (SELECT count(*) FROM product_variants c
                    WHERE c.product_id = p.id AND c.is_active) AS variants
            FROM product_variants pv
            WHERE pv.product_id = p.id
              AND (pv.id = w.variant_id OR (w.variant_id IS NULL AND pv.is_active))
            ORDER BY pv.position, pv.id
            LIMIT 1
        ) v ON true
        ORDER BY w.index
    LOOP
        IF v_item.found_product IS NULL OR NOT v_item.is_active THEN
            v_errors := v_errors || jsonb_build_object(
                'code', 'PRODUCT_NOT_FOUND', 'index', v_item.index);
        ELSIF v_item.found_variant IS NULL OR NOT v_item.variant_active THEN
            v_errors := v_errors || jsonb_build_object(
                'code', 'VARIANT_NOT_FOUND', 'index', v_item.index, 'name', v_item.name);
        ELSIF v_item.variant_id IS NULL AND v_item.variants > 1 THEN
            v_errors := v_errors || jsonb_build_object(
                'code', 'VARIANT_REQUIRED', 'index', v_item.index, 'name', v_item.name);
        ELSIF NOT v_item.sold_here THEN
            v_errors := v_errors || jsonb_build_object(
                'code', 'NOT_SOLD_HERE', 'index', v_item.index, 'name', v_item.name);
        ELSIF v_item.currency <> v_currency THEN
            v_errors := v_errors || jsonb_build_object(
                'code', 'PRODUCT_CURRENCY', 'index', v_item.index, 'name', v_item.name,
                'detail', v_item.currency);
        ELSIF v_item.stock IS NOT NULL AND v_item.stock < v_item.quantity THEN
            v_errors := v_errors || jsonb_build_object(
                'code', 'OUT_OF_STOCK', 'index', v_item.index,
                'name', v_item.name || ' (' || v_item.variant_name || ')',
                'variant_id', v_item.found_variant, 'available', v_item.stock);
        ELSIF v_item.pending + v_item.quantity > 20 THEN
            v_errors := v_errors || jsonb_build_object(
                'code', 'CUSTOMER_LIMIT', 'index', v_item.index,
                'name', v_item.name || ' (' || v_item.variant_name || ')',
                'detail', greatest(0, 20 - v_item.pending));
        ELSE
            v_lines := v_lines || jsonb_build_object(
                'kind', 'PRODUCT',
                'description', left(v_item.name || ' (' || v_item.variant_name || ')', 300),
                'quantity', v_item.quantity,
                'unit_price', v_item.price + v_item.price_delta, 'discount', 0,
                'product_id', v_item.found_product, 'variant_id', v_item.found_variant,
                'eligible', false);
        END IF;
    END LOOP;

    SELECT sum((l ->> 'unit_price')::numeric * (l ->> 'quantity')::integer)
    INTO v_subtotal FROM jsonb_array_elements(v_lines) l;

    -- The promo code: valid, not used up, applicable to something in this cart.
    IF p_promo IS NOT NULL AND p_guess_limit > 0 AND EXISTS (
        SELECT 1 FROM rate_limits r
        WHERE r.key = 'promo-guess:' || p_user AND r.hits >= p_guess_limit
          AND r.window_start = to_timestamp(
              floor(extract(epoch FROM now()) / p_guess_window) * p_guess_window))
    THEN
        v_errors := v_errors || jsonb_build_object('code', 'PROMO_CODE_GUESSES');
    ELSIF p_promo IS NOT NULL THEN
        SELECT * INTO v_promo FROM promo_codes pc WHERE lower(pc.code) = lower(p_promo);
        IF NOT FOUND OR NOT v_promo.is_active THEN
            v_errors := v_errors || jsonb_build_object('code', 'PROMO_CODE_INVALID');
            v_promo := NULL;
        ELSIF v_promo.valid_from IS NOT NULL AND now() < v_promo.valid_from THEN
            v_errors := v_errors || jsonb_build_object(
                'code', 'PROMO_CODE_NOT_YET', 'at', v_promo.valid_from);
            v_promo := NULL;
        ELSIF v_promo.valid_until IS NOT NULL AND now() >= v_promo.valid_until THEN
            v_errors := v_errors || jsonb_build_object(
                'code', 'PROMO_CODE_ENDED', 'at', v_promo.valid_until);
            v_promo := NULL;
        ELSIF v_promo.usage_limit IS NOT NULL AND v_promo.times_used >= v_promo.usage_limit THEN
            v_errors := v_errors || jsonb_build_object('code', 'PROMO_CODE_USED_UP');
            v_promo := NULL;
        ELSE
            SELECT count(*) INTO v_used FROM orders o
            WHERE o.promo_code_id = v_promo.id AND o.user_id = p_user
              AND o.status IN ('PENDING_PAYMENT', 'PAID', 'REFUNDED');
            IF v_promo.per_user_limit IS NOT NULL AND v_used >= v_promo.per_user_limit THEN
                v_errors := v_errors || jsonb_build_object(
                    'code', 'PROMO_CODE_USER_LIMIT', 'detail', v_promo.per_user_limit);
                v_promo := NULL;
            END IF;
        END IF;
        IF v_promo.id IS NOT NULL THEN
            v_restricted := EXISTS (SELECT 1 FROM promo_code_movies r
                                    WHERE r.promo_code_id = v_promo.id)
                OR EXISTS (SELECT 1 FROM promo_code_products r
                           WHERE r.promo_code_id = v_promo.id);
            SELECT jsonb_agg(l || jsonb_build_object('eligible',
                CASE l ->> 'kind'
                WHEN 'TICKET' THEN v_promo.applies_to IN ('ORDER', 'TICKETS')
                    AND (NOT v_restricted OR EXISTS (
                        SELECT 1 FROM promo_code_movies r
                        WHERE r.promo_code_id = v_promo.id AND r.movie_id = v_show.movie_id))
                ELSE v_promo.applies_to IN ('ORDER', 'PRODUCTS')
                    AND (NOT v_restricted OR EXISTS (
                        SELECT 1 FROM promo_code_products r
                        WHERE r.promo_code_id = v_promo.id
                          AND r.product_id = (l ->> 'product_id')::bigint))
                END) ORDER BY n)
            INTO v_lines
            FROM jsonb_array_elements(v_lines) WITH ORDINALITY AS e(l, n);
            SELECT coalesce(sum((l ->> 'unit_price')::numeric * (l ->> 'quantity')::integer), 0)
            INTO v_eligible
            FROM jsonb_array_elements(v_lines) l WHERE (l ->> 'eligible')::boolean;
            IF v_eligible = 0 THEN
                v_errors := v_errors || jsonb_build_object('code', 'PROMO_CODE_NOTHING_ELIGIBLE');
            ELSIF v_promo.currency <> v_currency
                AND (v_promo.amount_off IS NOT NULL OR v_promo.minimum_order_amount > 0) THEN
                v_errors := v_errors || jsonb_build_object(
                    'code', 'PROMO_CODE_CURRENCY', 'detail', v_promo.currency);
            ELSIF v_subtotal < v_promo.minimum_order_amount THEN
                v_errors := v_errors || jsonb_build_object(
                    'code', 'PROMO_CODE_MINIMUM', 'detail', v_promo.minimum_order_amount::text,
                    'currency', v_promo.currency);
            ELSE
                v_discount := CASE WHEN v_promo.percent_off IS NOT NULL
                    THEN round(v_eligible * v_promo.percent_off / 100, 2)
                    ELSE least(v_promo.amount_off, v_eligible) END;
                -- Shared out over the eligible lines by cumulative rounding: each share
                -- between 0 and its line's total, and the shares add up to the discount.
                SELECT jsonb_agg(l || jsonb_build_object('discount', CASE WHEN eligible
                    THEN round(v_discount * cum / v_eligible, 2)
                        - round(v_discount * (cum - amount) / v_eligible, 2)
                    ELSE 0 END) ORDER BY n)
                INTO v_lines
                FROM (
                    SELECT l, n, (l ->> 'eligible')::boolean AS eligible,
                        (l ->> 'unit_price')::numeric * (l ->> 'quantity')::integer AS amount,
                        sum(CASE WHEN (l ->> 'eligible')::boolean
                            THEN (l ->> 'unit_price')::numeric * (l ->> 'quantity')::integer
                            ELSE 0 END) OVER (ORDER BY n) AS cum
                    FROM jsonb_array_elements(v_lines) WITH ORDINALITY AS e(l, n)
                ) shares;
            END IF;
        END IF;
    END IF;

    RETURN jsonb_build_object(
        'errors', v_errors,
        'currency', v_currency,
        'showtime_id', v_hold.showtime_id,
        'promo_code_id', CASE WHEN v_discount > 0 THEN v_promo.id END,
        'promo_code', CASE WHEN v_discount > 0 THEN v_promo.code END,
        'subtotal', v_subtotal,
        'discount', v_discount,
        'total', v_subtotal - v_discount,
        'lines', v_lines);
END
$fn$
"""

# `db.orders.actions.checkout` in one statement (docs/orders.md, "States"; docs/shop.md):
# claim the idempotency key (if any), lock the hold, price the cart (marquee_price_cart),
# reserve the products' stock and the promo code's use under lock (the database judges:
# guarded updates after locking the variants in id order, then the code), create the order
# and its lines, move the seats from the hold to the order, delete the hold. o_outcome is OK,
# KEY_REUSED, NOT_FOUND or HOLD_EXPIRED (the hold is gone and no live order came of it), or
# ERRORS with o_detail the pricing errors as JSON. A failure changes nothing (its claim of
# the key is undone), so the same key may be used again.
CHECKOUT_FUNCTION = r"""
CREATE FUNCTION marquee_checkout(
    p_user bigint,
    p_hold bigint,
    p_key text,
    p_hash text,
    p_products jsonb,
    p_promo text,
    p_guess_limit integer,
    p_guess_window integer,
    OUT o_outcome text,
    OUT o_order_id bigint,
    OUT o_detail text
) LANGUAGE plpgsql AS $fn$
DECLARE
    v_claimed boolean := false;
    v_hash text;
    v_result jsonb;
    v_hold_user bigint;
    v_status text;
    v_price jsonb;
    v_short jsonb;
    v_promo bigint;
    v_per_user integer;
    v_used integer;
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
        SELECT h.user_id INTO v_hold_user FROM seat_holds h WHERE h.id = p_hold FOR UPDATE;
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
            v_price := marquee_price_cart(
                p_user, p_hold, p_products, p_promo, p_guess_limit, p_guess_window
            );
            IF jsonb_array_length(v_price -> 'errors') > 0 THEN
                o_detail := (v_price -> 'errors')::text;
                RAISE EXCEPTION 'ERRORS' USING ERRCODE = 'MQ422';
            END IF;

            -- Stock: lock the variants in id order (no deadlock between two carts), then
            -- take from each what the cart needs, refusing if any has too few.
            PERFORM 1 FROM product_variants v
            WHERE v.id IN (SELECT (l ->> 'variant_id')::bigint
                           FROM jsonb_array_elements(v_price -> 'lines') l
                           WHERE l ->> 'kind' = 'PRODUCT')
            ORDER BY v.id FOR UPDATE;
            WITH wanted AS (
                SELECT (l ->> 'variant_id')::bigint AS variant_id,
                       sum((l ->> 'quantity')::integer) AS quantity,
                       min(l ->> 'description') AS description
                FROM jsonb_array_elements(v_price -> 'lines') l
                WHERE l ->> 'kind' = 'PRODUCT' GROUP BY 1
            )
            SELECT jsonb_agg(jsonb_build_object('code', 'OUT_OF_STOCK',
                    'name', w.description, 'variant_id', v.id, 'available', v.stock))
            INTO v_short
            FROM wanted w JOIN product_variants v ON v.id = w.variant_id
            WHERE v.stock IS NOT NULL AND v.stock < w.quantity;
            IF v_short IS NOT NULL THEN
                o_detail := v_short::text;
                RAISE EXCEPTION 'ERRORS' USING ERRCODE = 'MQ422';
            END IF;
            -- At most 20 of a variant per customer in orders awaiting payment (the cap of a
            -- line, db/orders/pricing.py MAX_QUANTITY), so one account cannot tie up stock
            -- with many unpaid orders; exact under the variants' locks.
            SELECT jsonb_agg(jsonb_build_object('code', 'CUSTOMER_LIMIT',
                    'name', w.description, 'detail', greatest(0, 20 - p.pending)))
            INTO v_short
            FROM (
                SELECT (l ->> 'variant_id')::bigint AS variant_id,
                       sum((l ->> 'quantity')::integer) AS quantity,
                       min(l ->> 'description') AS description
                FROM jsonb_array_elements(v_price -> 'lines') l
                WHERE l ->> 'kind' = 'PRODUCT' GROUP BY 1
            ) w
            CROSS JOIN LATERAL (
                SELECT coalesce(sum(ol.quantity), 0) AS pending FROM order_lines ol
                JOIN orders o ON o.id = ol.order_id
                WHERE o.user_id = p_user AND o.status = 'PENDING_PAYMENT'
                  AND o.expires_at > now() AND ol.variant_id = w.variant_id
            ) p
            WHERE p.pending + w.quantity > 20;
            IF v_short IS NOT NULL THEN
                o_detail := v_short::text;
                RAISE EXCEPTION 'ERRORS' USING ERRCODE = 'MQ422';
            END IF;
            UPDATE product_variants v SET stock = v.stock - w.quantity
            FROM (
                SELECT (l ->> 'variant_id')::bigint AS variant_id,
                       sum((l ->> 'quantity')::integer) AS quantity
                FROM jsonb_array_elements(v_price -> 'lines') l
                WHERE l ->> 'kind' = 'PRODUCT' GROUP BY 1
            ) w
            WHERE v.id = w.variant_id AND v.stock IS NOT NULL;

            -- The promo code's use: its row lock orders every checkout with this code, so
            -- the total and the per-user count read after it are exact.
            v_promo := (v_price ->> 'promo_code_id')::bigint;
            IF v_promo IS NOT NULL THEN
                UPDATE promo_codes SET times_used = times_used + 1
                WHERE id = v_promo AND (usage_limit IS NULL OR times_used < usage_limit)
                RETURNING per_user_limit INTO v_per_user;
                IF NOT FOUND THEN
                    o_detail := '[{"code": "PROMO_CODE_USED_UP"}]';
                    RAISE EXCEPTION 'ERRORS' USING ERRCODE = 'MQ422';
                END IF;
                IF v_per_user IS NOT NULL THEN
                    SELECT count(*) INTO v_used FROM orders o
                    WHERE o.promo_code_id = v_promo AND o.user_id = p_user
                      AND o.status IN ('PENDING_PAYMENT', 'PAID', 'REFUNDED');
                    IF v_used >= v_per_user THEN
                        o_detail := jsonb_build_array(jsonb_build_object(
                            'code', 'PROMO_CODE_USER_LIMIT', 'detail', v_per_user))::text;
                        RAISE EXCEPTION 'ERRORS' USING ERRCODE = 'MQ422';
                    END IF;
                END IF;
            END IF;

            LOOP  -- a fresh order number; a clash (rare) draws again
                INSERT INTO orders AS o (number, user_id, hold_id, showtime_id, status,
                    currency, subtotal, discount, total, ticket_count, product_count,
                    promo_code_id, expires_at)
                SELECT 'MQ-' || marquee_random_code(6), p_user, p_hold, h.showtime_id,
                    'PENDING_PAYMENT', v_price ->> 'currency',
                    (v_price ->> 'subtotal')::numeric, (v_price ->> 'discount')::numeric,
                    (v_price ->> 'total')::numeric, units.tickets, units.products, v_promo,
                    h.expires_at
                FROM seat_holds h, (
                    SELECT count(*) FILTER (WHERE l ->> 'kind' = 'TICKET') AS tickets,
                        coalesce(sum((l ->> 'quantity')::integer)
                            FILTER (WHERE l ->> 'kind' = 'PRODUCT'), 0) AS products
                    FROM jsonb_array_elements(v_price -> 'lines') l
                ) units
                WHERE h.id = p_hold
                ON CONFLICT (number) DO NOTHING
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
        END IF;
    EXCEPTION WHEN SQLSTATE 'MQ404' OR SQLSTATE 'MQ410' OR SQLSTATE 'MQ422' THEN
        o_outcome := CASE WHEN SQLSTATE = 'MQ422' THEN 'ERRORS' ELSE SQLERRM END;
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

# Reservations given back (docs/shop.md, "Stock" and "Promo codes"), whatever statement ends
# an order: stock for an order that expires, is cancelled or refunded; the promo code's use
# for one that ends before payment. One statement-level trigger on orders, so every path
# (sweeper, cancelOrder, cancelShowtime, refunds) gives back exactly once: a status changes
# once. Variants and codes are locked in id order, as checkout locks them.
RELEASE_FUNCTION = r"""
CREATE FUNCTION marquee_orders_released() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.status <> o.status AND n.status IN ('EXPIRED', 'CANCELLED', 'REFUNDED')
    ) THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM product_variants v
    WHERE v.stock IS NOT NULL AND v.id IN (
        SELECT l.variant_id FROM new_rows n
        JOIN old_rows o ON o.id = n.id
        JOIN order_lines l ON l.order_id = n.id AND l.kind = 'PRODUCT'
        WHERE n.status <> o.status AND n.status IN ('EXPIRED', 'CANCELLED', 'REFUNDED')
          AND o.status IN ('PENDING_PAYMENT', 'PAID'))
    ORDER BY v.id FOR UPDATE;
    UPDATE product_variants v SET stock = v.stock + r.quantity
    FROM (
        SELECT l.variant_id, sum(l.quantity) AS quantity FROM new_rows n
        JOIN old_rows o ON o.id = n.id
        JOIN order_lines l ON l.order_id = n.id AND l.kind = 'PRODUCT'
        WHERE n.status <> o.status AND n.status IN ('EXPIRED', 'CANCELLED', 'REFUNDED')
          AND o.status IN ('PENDING_PAYMENT', 'PAID')
        GROUP BY l.variant_id
    ) r
    WHERE v.id = r.variant_id AND v.stock IS NOT NULL;
    PERFORM 1 FROM promo_codes p
    WHERE p.id IN (
        SELECT n.promo_code_id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE o.status = 'PENDING_PAYMENT' AND n.status IN ('EXPIRED', 'CANCELLED'))
    ORDER BY p.id FOR UPDATE;
    UPDATE promo_codes p SET times_used = p.times_used - r.uses
    FROM (
        SELECT n.promo_code_id, count(*) AS uses FROM new_rows n
        JOIN old_rows o ON o.id = n.id
        WHERE n.promo_code_id IS NOT NULL
          AND o.status = 'PENDING_PAYMENT' AND n.status IN ('EXPIRED', 'CANCELLED')
        GROUP BY n.promo_code_id
    ) r
    WHERE p.id = r.promo_code_id;
    RETURN NULL;
END
$fn$
"""

RELEASE_TRIGGER = """
CREATE TRIGGER orders_released AFTER UPDATE ON orders
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION marquee_orders_released()
"""

# The reports' days (docs/shop.md, "Reports"): paid_at and refunded_at as dates in the time
# zone of the order's showtime's cinema, written with them by every path (fulfilment,
# refunds, demo data), so a report groups plain dates and reads an index on them.
LOCAL_DAYS_FUNCTION = r"""
CREATE FUNCTION marquee_orders_local_days() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    v_zone text;
BEGIN
    SELECT c.time_zone INTO v_zone
    FROM showtimes st JOIN halls h ON h.id = st.hall_id JOIN cinemas c ON c.id = h.cinema_id
    WHERE st.id = NEW.showtime_id;
    v_zone := coalesce(v_zone, 'UTC');
    NEW.paid_on := (NEW.paid_at AT TIME ZONE v_zone)::date;
    NEW.refunded_on := (NEW.refunded_at AT TIME ZONE v_zone)::date;
    RETURN NEW;
END
$fn$
"""

LOCAL_DAYS_TRIGGER = """
CREATE TRIGGER orders_local_days BEFORE INSERT OR UPDATE OF paid_at, refunded_at ON orders
FOR EACH ROW WHEN (NEW.paid_at IS NOT NULL OR NEW.refunded_at IS NOT NULL)
EXECUTE FUNCTION marquee_orders_local_days()
"""

# marquee_fulfil_order of 0009_sale_functions, with each ticket's price what was paid for it
# (the line's unit price less its share of a promo code's discount).
FULFIL_FUNCTION = r"""
CREATE OR REPLACE FUNCTION marquee_fulfil_order(p_order bigint, p_points_per_unit numeric)
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
        SELECT l.id, l.seat_id, l.showtime_id, l.unit_price - l.discount AS price
        FROM order_lines l
        WHERE l.order_id = p_order AND l.kind = 'TICKET' ORDER BY l.position
    LOOP
        LOOP  -- a fresh booking reference; a clash (rare) draws again
            v_reference := marquee_random_code(8);
            INSERT INTO tickets AS t (booking_reference, order_id, order_line_id, user_id,
                showtime_id, seat_id, status, price, currency)
            VALUES (v_reference, p_order, v_line.id, v_user, v_line.showtime_id,
                v_line.seat_id, 'VALID', v_line.price, v_currency)
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
    op.execute("DROP FUNCTION marquee_checkout(bigint, bigint, text, text)")
    op.execute(PRICE_CART_FUNCTION)
    op.execute(CHECKOUT_FUNCTION)
    op.execute(RELEASE_FUNCTION)
    op.execute(RELEASE_TRIGGER)
    op.execute(LOCAL_DAYS_FUNCTION)
    op.execute(LOCAL_DAYS_TRIGGER)
    op.execute(FULFIL_FUNCTION)


def _sale_functions() -> ModuleType:
    """Migration 0009_sale_functions, whose checkout and fulfilment come back on downgrade."""
    path = Path(__file__).with_name("0009_sale_functions.py")
    spec = importlib.util.spec_from_file_location("marquee_migration_0009", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def downgrade() -> None:
    sale = _sale_functions()
    op.execute("DROP TRIGGER orders_local_days ON orders")
    op.execute("DROP FUNCTION marquee_orders_local_days()")
    op.execute("DROP TRIGGER orders_released ON orders")
    op.execute("DROP FUNCTION marquee_orders_released()")
    op.execute(
        "DROP FUNCTION marquee_checkout(bigint, bigint, text, text, jsonb, text, integer, integer)"
    )
    op.execute("DROP FUNCTION marquee_price_cart(bigint, bigint, jsonb, text, integer, integer)")
    op.execute("DROP FUNCTION marquee_fulfil_order(bigint, numeric)")
    op.execute(sale.FULFIL_FUNCTION)
    op.execute(sale.CHECKOUT_FUNCTION)
