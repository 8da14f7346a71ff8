"""catalog and reviews: movies, genres, favorites, watchlist, reviews, votes

Revision ID: 0002_catalog
Revises: 0001_accounts
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_catalog"
down_revision: str | None = "0001_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# unaccent() is only STABLE (it depends on search_path); pinning the dictionary makes it safe
# to declare IMMUTABLE, which index expressions require.
UNACCENT_FUNCTION = """
CREATE OR REPLACE FUNCTION marquee_unaccent(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, value) $$
"""

SEARCH_TITLE_FUNCTION = """
CREATE OR REPLACE FUNCTION marquee_search_title(title text, original_title text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT public.marquee_unaccent(lower(coalesce(title, '') || ' ' || coalesce(original_title, ''))) $$
"""

SEARCH_TITLE_SQL = "marquee_search_title(title, original_title)"
SEARCH_DESCRIPTION_SQL = "marquee_unaccent(lower(coalesce(description, '')))"


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.execute(UNACCENT_FUNCTION)
    op.execute(SEARCH_TITLE_FUNCTION)
    op.create_table(
        "movies",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("tmdb_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("original_title", sa.String(length=300), nullable=True),
        sa.Column("tagline", sa.String(length=500), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("release_date", sa.Date(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("country", sa.String(length=100), nullable=True),
        sa.Column(
            "countries",
            postgresql.ARRAY(sa.String(length=100)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("director", sa.String(length=200), nullable=True),
        sa.Column(
            "cast_members",
            postgresql.ARRAY(sa.String(length=200)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("age_rating", sa.String(length=10), nullable=True),
        sa.Column("budget", sa.Numeric(14, 2), nullable=True),
        sa.Column("box_office", sa.Numeric(14, 2), nullable=True),
        sa.Column("poster_url", sa.String(length=500), nullable=True),
        sa.Column("trailer_url", sa.String(length=500), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("popularity", sa.Float(), server_default="0", nullable=False),
        sa.Column("review_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("average_rating", sa.Numeric(4, 2), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "duration_minutes IS NULL OR duration_minutes > 0", name=op.f("ck_movies_duration")
        ),
        sa.CheckConstraint("review_count >= 0", name=op.f("ck_movies_review_count")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_movies")),
        sa.UniqueConstraint("tmdb_id", name=op.f("uq_movies_tmdb_id")),
    )
    op.create_index(op.f("ix_movies_year"), "movies", ["year"])
    op.execute(
        f"CREATE INDEX ix_movies_search_title ON movies USING gin ({SEARCH_TITLE_SQL} gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX ix_movies_search_description ON movies "
        f"USING gin ({SEARCH_DESCRIPTION_SQL} gin_trgm_ops)"
    )
    op.create_table(
        "genres",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("name", postgresql.CITEXT(), nullable=False),
        sa.Column("tmdb_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_genres")),
        sa.UniqueConstraint("name", name=op.f("uq_genres_name")),
        sa.UniqueConstraint("tmdb_id", name=op.f("uq_genres_tmdb_id")),
    )
    op.create_table(
        "movie_genres",
        sa.Column("movie_id", sa.BigInteger(), nullable=False),
        sa.Column("genre_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["genre_id"],
            ["genres.id"],
            name=op.f("fk_movie_genres_genre_id_genres"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.id"],
            name=op.f("fk_movie_genres_movie_id_movies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("movie_id", "genre_id", name=op.f("pk_movie_genres")),
    )
    op.create_index(op.f("ix_movie_genres_genre_id"), "movie_genres", ["genre_id"])
    op.create_table(
        "favorites",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("movie_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.id"],
            name=op.f("fk_favorites_movie_id_movies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_favorites_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "movie_id", name=op.f("pk_favorites")),
    )
    op.create_index(op.f("ix_favorites_movie_id"), "favorites", ["movie_id"])
    op.create_table(
        "watchlist_entries",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("movie_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "status IN ('WANT_TO_WATCH', 'WATCHING', 'WATCHED')",
            name=op.f("ck_watchlist_entries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.id"],
            name=op.f("fk_watchlist_entries_movie_id_movies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_watchlist_entries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "movie_id", name=op.f("pk_watchlist_entries")),
    )
    op.create_index(op.f("ix_watchlist_entries_movie_id"), "watchlist_entries", ["movie_id"])
    op.create_table(
        "reviews",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("movie_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("is_spoiler", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("is_anonymous", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="PUBLISHED", nullable=False),
        sa.Column("moderation_reason", sa.String(length=500), nullable=True),
        sa.Column("moderated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("helpful_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unhelpful_count", sa.Integer(), server_default="0", nullable=False),
        *_timestamps(),
        sa.CheckConstraint("rating BETWEEN 1 AND 10", name=op.f("ck_reviews_rating")),
        sa.CheckConstraint("status IN ('PUBLISHED', 'HIDDEN')", name=op.f("ck_reviews_status")),
        sa.ForeignKeyConstraint(
            ["movie_id"], ["movies.id"], name=op.f("fk_reviews_movie_id_movies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_reviews_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("user_id", "movie_id", name=op.f("uq_reviews_user_id_movie_id")),
    )
    op.create_index(op.f("ix_reviews_movie_id"), "reviews", ["movie_id"])
    op.create_index(op.f("ix_reviews_user_id"), "reviews", ["user_id"])
    op.create_table(
        "review_votes",
        sa.Column("review_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("is_helpful", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["reviews.id"],
            name=op.f("fk_review_votes_review_id_reviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_review_votes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("review_id", "user_id", name=op.f("pk_review_votes")),
    )
    op.create_index(op.f("ix_review_votes_user_id"), "review_votes", ["user_id"])


def downgrade() -> None:
    op.drop_table("review_votes")
    op.drop_table("reviews")
    op.drop_table("watchlist_entries")
    op.drop_table("favorites")
    op.drop_table("movie_genres")
    op.drop_table("genres")
    op.drop_table("movies")
    op.execute("DROP FUNCTION IF EXISTS marquee_search_title(text, text)")
    op.execute("DROP FUNCTION IF EXISTS marquee_unaccent(text)")
