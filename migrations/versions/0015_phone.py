"""phone numbers: users.phone (E.164, optional), unique when set

Revision ID: 0015_phone
Revises: 0014_pickup
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_phone"
down_revision: str | None = "0014_pickup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("phone", sa.String(16), nullable=True))
    op.create_check_constraint(
        op.f("ck_users_phone_e164"), "users", r"phone ~ '^\+[1-9][0-9]{1,14}$'"
    )
    # Partial: most accounts have no phone. Registrations racing for one number end in a
    # unique violation on this index, which db/accounts/actions.py maps to ALREADY_EXISTS.
    op.create_index(
        op.f("uq_users_phone"),
        "users",
        ["phone"],
        unique=True,
        postgresql_where=sa.text("phone IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(op.f("uq_users_phone"), table_name="users")
    op.drop_constraint(op.f("ck_users_phone_e164"), "users", type_="check")
    op.drop_column("users", "phone")
