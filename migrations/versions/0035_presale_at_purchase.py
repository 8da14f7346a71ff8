"""presale at purchase: a customer's sales opening is checked again at checkout and payment.

A presale wave admitted a customer at the hold only (loyalty points, or a promo code, read
then). A customer with no points bought an order, which gave points, held seats in a
members' presale, had the order refunded (its points taken back), and then checked out and
paid the hold: the presale was open to anyone who could buy and refund. Now:

- a hold made before the showtime's general sale keeps the code it was admitted with
  (`seat_holds.presale_code`, NULL when it was not a code);
- `marquee_price_cart` (checkout, and `previewCheckout`) refuses with NOT_YET while the
  general sale is ahead and the customer's opening, with that code and their points now,
  is too;
- the order keeps both (`orders.presale`, `orders.presale_code`), and
  `marquee_begin_payment` refuses such an order with NOT_YET the same way, before anything
  is charged. An order of a showtime on general sale reads nothing more.

Revision ID: 0035_presale_at_purchase
Revises: 0034_fewer_statements
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.earlier import earlier

revision: str = "0035_presale_at_purchase"
down_revision: str | None = "0034_fewer_statements"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOLD = "marquee_hold_seats(bigint, bigint, bigint[], integer, integer, integer, text)"

HOLD_INSERT = """\
        INSERT INTO seat_holds AS h (user_id, showtime_id, expires_at)
        VALUES (p_user, p_showtime, v_expires)
        ON CONFLICT (user_id, showtime_id) DO UPDATE SET expires_at = excluded.expires_at
"""
HOLD_INSERT_NEW = """\
        -- The code that admitted a hold before general sale, for checkout and payment to
        -- judge again (0035_presale_at_purchase).
        INSERT INTO seat_holds AS h (user_id, showtime_id, expires_at, presale_code)
        VALUES (p_user, p_showtime, v_expires,
            CASE WHEN v_sales_open > now() THEN p_promo_code END)
        ON CONFLICT (user_id, showtime_id) DO UPDATE SET expires_at = excluded.expires_at,
            presale_code = excluded.presale_code
"""

PRICE_HOLD = """\
    SELECT h.user_id, h.showtime_id, h.expires_at INTO v_hold
"""
PRICE_HOLD_NEW = """\
    SELECT h.user_id, h.showtime_id, h.expires_at, h.presale_code INTO v_hold
"""
PRICE_SHOW = """\
    SELECT st.status, st.starts_at, st.movie_id, m.title, h.cinema_id INTO v_show
"""
PRICE_SHOW_NEW = """\
    SELECT st.status, st.starts_at, st.movie_id, m.title, h.cinema_id, st.sales_open_at
    INTO v_show
"""
PRICE_NOT_BOOKABLE = """\
    IF v_show.status <> 'SCHEDULED' OR v_show.starts_at <= now() THEN
        RETURN jsonb_build_object('errors', jsonb_build_array(
            jsonb_build_object('code', 'NOT_BOOKABLE')), 'lines', '[]'::jsonb);
    END IF;
"""
PRICE_NOT_BOOKABLE_NEW = (
    PRICE_NOT_BOOKABLE
    + """\
    -- Before general sale, the customer's own opening again, with their points now and the
    -- code the hold was admitted with (0035_presale_at_purchase).
    IF v_show.sales_open_at > now() AND marquee_sales_opening(
        p_user, v_hold.showtime_id, v_show.sales_open_at, v_hold.presale_code
    ) > now() THEN
        RETURN jsonb_build_object('errors', jsonb_build_array(
            jsonb_build_object('code', 'NOT_YET')), 'lines', '[]'::jsonb);
    END IF;
"""
)
PRICE_RESULT = """\
        'showtime_id', v_hold.showtime_id,
"""
PRICE_RESULT_NEW = """\
        'showtime_id', v_hold.showtime_id,
        'presale', coalesce(v_show.sales_open_at > now(), false),
        'presale_code', v_hold.presale_code,
"""

CHECKOUT_COLUMNS = """\
                    promo_code_id, expires_at)
"""
CHECKOUT_COLUMNS_NEW = """\
                    promo_code_id, expires_at, presale, presale_code)
"""
CHECKOUT_VALUES = """\
                    (v_price ->> 'total')::numeric, units.tickets, units.products, v_promo,
                    h.expires_at
"""
CHECKOUT_VALUES_NEW = """\
                    (v_price ->> 'total')::numeric, units.tickets, units.products, v_promo,
                    h.expires_at, coalesce((v_price ->> 'presale')::boolean, false),
                    v_price ->> 'presale_code'
"""

BEGIN_DECLARE = """\
    v_expires timestamptz;
BEGIN
"""
BEGIN_DECLARE_NEW = """\
    v_expires timestamptz;
    v_presale boolean;
    v_presale_code text;
    v_showtime bigint;
BEGIN
"""
BEGIN_READ = """\
        SELECT o.status, o.expires_at, o.total, o.currency
        INTO v_status, v_expires, o_amount, o_currency
"""
BEGIN_READ_NEW = """\
        SELECT o.status, o.expires_at, o.total, o.currency, o.presale, o.presale_code,
            o.showtime_id
        INTO v_status, v_expires, o_amount, o_currency, v_presale, v_presale_code, v_showtime
"""
BEGIN_EXPIRED = """\
        ELSIF v_status <> 'PENDING_PAYMENT' OR v_expires <= now() THEN
            RAISE EXCEPTION 'EXPIRED' USING ERRCODE = 'MQ410';
        END IF;
"""
BEGIN_EXPIRED_NEW = """\
        ELSIF v_status <> 'PENDING_PAYMENT' OR v_expires <= now() THEN
            RAISE EXCEPTION 'EXPIRED' USING ERRCODE = 'MQ410';
        ELSIF v_presale AND EXISTS (
            -- Checked out before general sale: the buyer's opening again, before any charge
            -- (0035_presale_at_purchase).
            SELECT 1 FROM showtimes st
            WHERE st.id = v_showtime AND st.sales_open_at > now()
              AND marquee_sales_opening(p_user, st.id, st.sales_open_at, v_presale_code) > now()
        ) THEN
            RAISE EXCEPTION 'NOT_YET' USING ERRCODE = 'MQ410';
        END IF;
"""


def _patched(definition: str, *changes: tuple[str, str]) -> str:
    """`definition` with each (old, new) replaced, each old text once (0034's helper)."""
    patched: str = earlier("0034_fewer_statements")._patched(definition, *changes)
    return patched


def _replaceable(definition: str) -> str:
    return definition.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def hold_seats_0034() -> str:
    return str(earlier("0034_fewer_statements").hold_seats_0034())


def price_cart_0034() -> str:
    return str(earlier("0034_fewer_statements").price_cart_0034())


def checkout_0034() -> str:
    return str(earlier("0034_fewer_statements").checkout_0034())


def begin_payment_0010() -> str:
    return _replaceable(str(earlier("0010_payment_functions").BEGIN_PAYMENT_FUNCTION))


def hold_seats_0035() -> str:
    return _patched(hold_seats_0034(), (HOLD_INSERT, HOLD_INSERT_NEW))


def price_cart_0035() -> str:
    return _patched(
        price_cart_0034(),
        (PRICE_HOLD, PRICE_HOLD_NEW),
        (PRICE_SHOW, PRICE_SHOW_NEW),
        (PRICE_NOT_BOOKABLE, PRICE_NOT_BOOKABLE_NEW),
        (PRICE_RESULT, PRICE_RESULT_NEW),
    )


def checkout_0035() -> str:
    return _patched(
        checkout_0034(),
        (CHECKOUT_COLUMNS, CHECKOUT_COLUMNS_NEW),
        (CHECKOUT_VALUES, CHECKOUT_VALUES_NEW),
    )


def begin_payment_0035() -> str:
    return _patched(
        begin_payment_0010(),
        (BEGIN_DECLARE, BEGIN_DECLARE_NEW),
        (BEGIN_READ, BEGIN_READ_NEW),
        (BEGIN_EXPIRED, BEGIN_EXPIRED_NEW),
    )


def upgrade() -> None:
    op.add_column("seat_holds", sa.Column("presale_code", sa.Text(), nullable=True))
    op.add_column(
        "orders",
        sa.Column("presale", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("orders", sa.Column("presale_code", sa.Text(), nullable=True))
    op.execute(hold_seats_0035())
    op.execute(f"ALTER FUNCTION {HOLD} SET plan_cache_mode = force_generic_plan")
    op.execute(price_cart_0035())
    op.execute(checkout_0035())
    op.execute(begin_payment_0035())


def downgrade() -> None:
    op.execute(begin_payment_0010())
    op.execute(checkout_0034())
    op.execute(price_cart_0034())
    op.execute(hold_seats_0034())
    op.execute(f"ALTER FUNCTION {HOLD} SET plan_cache_mode = force_generic_plan")
    op.drop_column("orders", "presale_code")
    op.drop_column("orders", "presale")
    op.drop_column("seat_holds", "presale_code")
