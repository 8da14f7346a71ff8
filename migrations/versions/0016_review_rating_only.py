"""rating-only reviews: `reviews.body` may be NULL (a rating without text)

Revision ID: 0016_review_rating_only
Revises: 0015_phone
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_review_rating_only"
down_revision: str | None = "0015_phone"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("reviews", "body", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    # Rating-only reviews get an empty text back (the column was NOT NULL before).
    op.execute("UPDATE reviews SET body = '' WHERE body IS NULL")
    op.alter_column("reviews", "body", existing_type=sa.Text(), nullable=False)
