"""persisted queries: `persisted_queries`, GraphQL documents by the SHA-256 of their text,
learned from clients (Apollo's automatic persisted queries) or registered as an
allow-list (docs/persisted-queries.md).

Revision ID: 0020_persisted_queries
Revises: 0019_sms
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_persisted_queries"
down_revision: str | None = "0019_sms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "persisted_queries",
        sa.Column("sha256", sa.CHAR(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("registered", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "last_used_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint(
            "sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_persisted_queries_sha256_hex")
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_persisted_queries")),
    )
    op.create_index(
        "ix_persisted_queries_learned", "persisted_queries", ["registered", "last_used_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_persisted_queries_learned", table_name="persisted_queries")
    op.drop_table("persisted_queries")
