"""accounts: ended sessions are found by time; sign-in backoff per (account, client address)

Revision ID: 0005_session_revocation
Revises: 0004_booking
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_session_revocation"
down_revision: str | None = "0004_booking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Each app instance loads the sessions ended within the access-token lifetime at start
    # (graph/accounts/revocations.py); live tokens (revoked_at NULL) stay out of the index.
    op.create_index(
        "ix_refresh_tokens_revoked_at",
        "refresh_tokens",
        ["revoked_at"],
        postgresql_where=sa.text("revoked_at IS NOT NULL"),
    )
    op.create_table(
        "login_backoff",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_backoff")),
        prefixes=["UNLOGGED"],
    )


def downgrade() -> None:
    op.drop_table("login_backoff")
    op.drop_index("ix_refresh_tokens_revoked_at", table_name="refresh_tokens")
