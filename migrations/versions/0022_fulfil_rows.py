"""fulfil rows: `marquee_fulfil_order` returns one row per ticket of one order (a few; at
most `max_seats_per_hold`, 10 by default), not the 1,000 rows PostgreSQL assumes of a
function. With that guess the planner joined its rows to `seats` and `order_lines` in
`marquee_settle_payment` by hashing both whole tables: every payment read every order line
ever written (about 1.5 ms of a payment's 3.3 ms in PostgreSQL with 8,000 lines, growing
with the table). With ROWS 4 it looks each ticket's seat and line up by primary key (with
ROWS 10 it still hashed all 2,400 seats of the bench database).

Revision ID: 0022_fulfil_rows
Revises: 0021_change_notify
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022_fulfil_rows"
down_revision: str | None = "0021_change_notify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER FUNCTION marquee_fulfil_order(bigint, numeric) ROWS 4")


def downgrade() -> None:
    op.execute("ALTER FUNCTION marquee_fulfil_order(bigint, numeric) ROWS 1000")
