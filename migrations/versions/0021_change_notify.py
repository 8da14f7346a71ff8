"""change notify: statement-level triggers that announce every committed change of the
public tables the response cache reads with `pg_notify('marquee_changes', <table>)`
(docs/caching.md). `users` and `showtimes` announce an UPDATE only of the columns a cached
answer shows: their other columns change on every sale.

Revision ID: 0021_change_notify
Revises: 0020_persisted_queries
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021_change_notify"
down_revision: str | None = "0020_persisted_queries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A copy of db/changes.py's ANNOUNCED as of this revision (a migration never imports code
# that may change later).
ANNOUNCED: dict[str, tuple[str, ...] | None] = {
    "movies": None,
    "genres": None,
    "movie_genres": None,
    "reviews": None,
    "users": ("full_name", "avatar_url"),
    "cinemas": None,
    "halls": None,
    "seats": None,
    "showtimes": (
        "movie_id",
        "hall_id",
        "starts_at",
        "ends_at",
        "format",
        "language",
        "subtitles",
        "status",
        "sales_open_at",
    ),
    "showtime_prices": None,
}

# NOTIFY is queued until commit (a rolled-back change announces nothing) and PostgreSQL
# drops a duplicate of a pending notification: a transaction announces each table once.
FUNCTION = """
CREATE FUNCTION marquee_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('marquee_changes', TG_TABLE_NAME);
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute(FUNCTION)
    for table, columns in ANNOUNCED.items():
        update = "UPDATE" if columns is None else f"UPDATE OF {', '.join(columns)}"
        op.execute(
            f"CREATE TRIGGER marquee_announce_change AFTER INSERT OR {update} OR DELETE "
            f"OR TRUNCATE ON {table} FOR EACH STATEMENT "
            "EXECUTE FUNCTION marquee_announce_change()"
        )


def downgrade() -> None:
    for table in ANNOUNCED:
        op.execute(f"DROP TRIGGER marquee_announce_change ON {table}")
    op.execute("DROP FUNCTION marquee_announce_change()")
