"""booking: one seat hold per user and showtime

Revision ID: 0004_booking
Revises: 0003_cinemas
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_booking"
down_revision: str | None = "0003_cinemas"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_unique_constraint(
        op.f("uq_seat_holds_user_id_showtime_id"), "seat_holds", ["user_id", "showtime_id"]
    )


def downgrade() -> None:
    op.drop_constraint(op.f("uq_seat_holds_user_id_showtime_id"), "seat_holds", type_="unique")
