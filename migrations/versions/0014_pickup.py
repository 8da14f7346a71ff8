"""pickup: product lines are picked up at the cinema (`order_lines.picked_up_at`, `_by`);
picked-up products are not given back to stock by a refund (`marquee_orders_released`)

Revision ID: 0014_pickup
Revises: 0013_presale
Create Date: 2026-12-03
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0014_pickup"
down_revision: str | None = "0013_presale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The trigger function of 0012_shop_functions, with one change: a product line that was
# picked up (`picked_up_at IS NOT NULL`) is not given back to stock when its order is
# refunded (the customer has it). Lines of orders that end unpaid were never picked up
# (markPickedUp needs a PAID order), so for them nothing changes.
RELEASE_FUNCTION = r"""
CREATE OR REPLACE FUNCTION marquee_orders_released() RETURNS trigger
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
          AND o.status IN ('PENDING_PAYMENT', 'PAID') AND l.picked_up_at IS NULL)
    ORDER BY v.id FOR UPDATE;
    UPDATE product_variants v SET stock = v.stock + r.quantity
    FROM (
        SELECT l.variant_id, sum(l.quantity) AS quantity FROM new_rows n
        JOIN old_rows o ON o.id = n.id
        JOIN order_lines l ON l.order_id = n.id AND l.kind = 'PRODUCT'
        WHERE n.status <> o.status AND n.status IN ('EXPIRED', 'CANCELLED', 'REFUNDED')
          AND o.status IN ('PENDING_PAYMENT', 'PAID') AND l.picked_up_at IS NULL
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


def upgrade() -> None:
    op.add_column(
        "order_lines", sa.Column("picked_up_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "order_lines",
        sa.Column(
            "picked_up_by",
            sa.BigInteger(),
            sa.ForeignKey(
                "users.id", ondelete="SET NULL", name=op.f("fk_order_lines_picked_up_by_users")
            ),
            nullable=True,
        ),
    )
    op.create_check_constraint(
        op.f("ck_order_lines_picked_up_product"),
        "order_lines",
        "kind = 'PRODUCT' OR picked_up_at IS NULL",
    )
    op.execute(RELEASE_FUNCTION)


def downgrade() -> None:
    path = Path(__file__).with_name("0012_shop_functions.py")
    spec = importlib.util.spec_from_file_location("marquee_migration_0012_shop_functions", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    op.execute(module.RELEASE_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.drop_constraint(op.f("ck_order_lines_picked_up_product"), "order_lines", type_="check")
    op.drop_column("order_lines", "picked_up_by")
    op.drop_column("order_lines", "picked_up_at")
