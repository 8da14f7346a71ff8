"""payload order: checkout and payOrder's settle return the order as their payloads show it,
so the mutation's answer needs no statement of its own to read it.

`marquee_checkout` (migration 0012_shop_functions) and `marquee_settle_payment`
(0010_payment_functions, with 0019_sms's text message) returned the outcome and the order's
id; the mutation then read the order again by id (its loader, one more round trip to
PostgreSQL). On this project's 2-core machine a round trip costs the worker a write to the
socket and a wake-up of PostgreSQL: that write alone was about 28% of the workers' busy
time under the `checkout_pay` bench (py-spy in native mode, bench/README.md). The functions now end by reading the order
they created or paid (one lookup by primary key, in the same transaction, after every
change of the statement) into more OUT columns, named as `db.orders.queries.ORDER_COLUMNS`
reads them with an `o_` prefix; the mutation primes its loader with them. A path that
returns early (an idempotent replay, a refund) leaves them NULL and the loader reads as
before.

Adding OUT columns changes the functions' result type, so each is dropped and created
again (same arguments).

Revision ID: 0029_payload_order
Revises: 0028_hold_seat_order
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

from migrations.earlier import earlier

revision: str = "0029_payload_order"
down_revision: str | None = "0028_hold_seat_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECKOUT = "marquee_checkout(bigint, bigint, text, text, jsonb, text, integer, integer)"
SETTLE = "marquee_settle_payment(bigint, text, text, text, numeric, bigint, text, text)"

ORDER_OUT = """,
    OUT o_number text,
    OUT o_user_id bigint,
    OUT o_status text,
    OUT o_currency text,
    OUT o_subtotal numeric,
    OUT o_discount numeric,
    OUT o_total numeric,
    OUT o_promo_code text,
    OUT o_created_at timestamptz,
    OUT o_expires_at timestamptz,
    OUT o_paid_at timestamptz,
    OUT o_cancelled_at timestamptz
) LANGUAGE plpgsql AS $fn$"""

READ_ORDER = """    -- The order as the payload shows it (migration 0029_payload_order).
    SELECT o.number, o.user_id, o.status, o.currency, o.subtotal, o.discount, o.total,
        (SELECT p.code FROM promo_codes p WHERE p.id = o.promo_code_id),
        o.created_at, o.expires_at, o.paid_at, o.cancelled_at
    INTO o_number, o_user_id, o_status, o_currency, o_subtotal, o_discount, o_total,
        o_promo_code, o_created_at, o_expires_at, o_paid_at, o_cancelled_at
    FROM orders o WHERE o.id = o_order_id;
END
$fn$"""

CHECKOUT_HEAD = """,
    OUT o_detail text
) LANGUAGE plpgsql AS $fn$"""
CHECKOUT_END = """    o_order_id := v_order;
END
$fn$"""
SETTLE_HEAD = """,
    OUT o_order_id bigint
) LANGUAGE plpgsql AS $fn$"""
SETTLE_END = """        WHERE user_id = p_user AND operation = 'payOrder' AND key = p_key;
    END IF;
END
$fn$"""


def _old_functions() -> tuple[str, str]:
    """The checkout of 0012_shop_functions and the settle of 0019_sms, as CREATE FUNCTION."""
    checkout: str = earlier("0012_shop_functions").CHECKOUT_FUNCTION
    settle: str = earlier("0019_sms")._settle_function(with_sms=True)
    settle = settle.replace("CREATE OR REPLACE FUNCTION", "CREATE FUNCTION", 1)
    for definition, parts in (
        (checkout, (CHECKOUT_HEAD, CHECKOUT_END)),
        (settle, (SETTLE_HEAD, SETTLE_END)),
    ):
        for part in parts:
            assert definition.count(part) == 1, part
    return checkout, settle


def _with_order(definition: str, head: str, end: str) -> str:
    head_without_paren = head.removesuffix("\n) LANGUAGE plpgsql AS $fn$")
    end_without_end = end.removesuffix("END\n$fn$")
    return definition.replace(head, head_without_paren + ORDER_OUT).replace(
        end, end_without_end + READ_ORDER
    )


def upgrade() -> None:
    checkout, settle = _old_functions()
    op.execute(f"DROP FUNCTION {CHECKOUT}")
    op.execute(_with_order(checkout, CHECKOUT_HEAD, CHECKOUT_END))
    op.execute(f"DROP FUNCTION {SETTLE}")
    op.execute(_with_order(settle, SETTLE_HEAD, SETTLE_END))


def downgrade() -> None:
    checkout, settle = _old_functions()
    op.execute(f"DROP FUNCTION {CHECKOUT}")
    op.execute(checkout)
    op.execute(f"DROP FUNCTION {SETTLE}")
    op.execute(settle)
