"""trending: `movies.trending_score` and `marquee_refresh_popularity()`, which recomputes
every movie's `popularity` (all-time activity) and `trending_score` (the last 7 days,
decayed) from tickets sold, reviews, favorites and watchlist adds (docs/catalog.md,
"Popularity and trending").

Revision ID: 0017_trending
Revises: 0016_review_rating_only
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_trending"
down_revision: str | None = "0016_review_rating_only"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Weights: a ticket sold 3, a published review 2, a favorite 1, a watchlist add 1. The
# trending score decays each event by its age (half-life 2 days) and ignores anything
# older than 7 days; popularity is the undecayed sum over all time. Only rows whose
# numbers change are written, so a refresh of an idle catalog writes nothing.
REFRESH = """
CREATE OR REPLACE FUNCTION marquee_refresh_popularity(as_of timestamptz DEFAULT now())
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    changed integer;
BEGIN
    WITH events AS (
        SELECT s.movie_id, 3.0::float8 AS weight, t.created_at AS happened
        FROM tickets t JOIN showtimes s ON s.id = t.showtime_id
        WHERE t.status IN ('VALID', 'USED')
        UNION ALL
        SELECT r.movie_id, 2.0, r.created_at FROM reviews r WHERE r.status = 'PUBLISHED'
        UNION ALL
        SELECT f.movie_id, 1.0, f.created_at FROM favorites f
        UNION ALL
        SELECT w.movie_id, 1.0, w.created_at FROM watchlist_entries w
    ),
    scores AS (
        SELECT m.id,
               coalesce(sum(e.weight) FILTER (WHERE e.happened <= as_of), 0) AS popularity,
               coalesce(sum(e.weight * power(0.5,
                            extract(epoch FROM as_of - e.happened) / 172800.0))
                        FILTER (WHERE e.happened > as_of - interval '7 days' AND e.happened <= as_of), 0)
                   AS trending
        FROM movies m LEFT JOIN events e ON e.movie_id = m.id
        GROUP BY m.id
    )
    UPDATE movies m
    SET popularity = round(s.popularity::numeric, 4)::float8,
        trending_score = round(s.trending::numeric, 4)::float8
    FROM scores s
    WHERE m.id = s.id
      AND (m.popularity IS DISTINCT FROM round(s.popularity::numeric, 4)::float8
           OR m.trending_score IS DISTINCT FROM round(s.trending::numeric, 4)::float8);
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed;
END
$$
"""


def upgrade() -> None:
    op.add_column(
        "movies",
        sa.Column("trending_score", sa.Float(), server_default="0", nullable=False),
    )
    op.create_index(
        "ix_movies_trending",
        "movies",
        [sa.literal_column("trending_score DESC"), sa.literal_column("id DESC")],
    )
    op.create_index(
        "ix_movies_popularity",
        "movies",
        [sa.literal_column("popularity DESC"), sa.literal_column("id DESC")],
    )
    op.execute(REFRESH)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS marquee_refresh_popularity(timestamptz)")
    op.drop_index("ix_movies_popularity", table_name="movies")
    op.drop_index("ix_movies_trending", table_name="movies")
    op.drop_column("movies", "trending_score")
