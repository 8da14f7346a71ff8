"""Catalog tables: movies, genres and their link, favorites and watchlist entries."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, CITEXT
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Timestamps

WATCHLIST_STATUSES = ("WANT_TO_WATCH", "WATCHING", "WATCHED")


class Movie(Timestamps, Base):
    __tablename__ = "movies"
    __table_args__ = (
        CheckConstraint("duration_minutes IS NULL OR duration_minutes > 0", name="duration"),
        CheckConstraint("review_count >= 0", name="review_count"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tmdb_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    original_title: Mapped[str | None] = mapped_column(String(300))
    tagline: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    release_date: Mapped[date | None] = mapped_column(Date)
    year: Mapped[int | None] = mapped_column(Integer, index=True)
    country: Mapped[str | None] = mapped_column(String(100))
    countries: Mapped[list[str]] = mapped_column(
        ARRAY(String(100)), nullable=False, server_default="{}"
    )
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    director: Mapped[str | None] = mapped_column(String(200))
    cast_members: Mapped[list[str]] = mapped_column(
        ARRAY(String(200)), nullable=False, server_default="{}"
    )
    age_rating: Mapped[str | None] = mapped_column(String(10))
    budget: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    box_office: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    poster_url: Mapped[str | None] = mapped_column(String(500))
    trailer_url: Mapped[str | None] = mapped_column(String(500))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    # Recomputed by `marquee_refresh_popularity()` (the trending refresher, docs/catalog.md
    # "Popularity and trending"): all-time activity, and the last 7 days' decayed activity.
    popularity: Mapped[float] = mapped_column(Float, nullable=False, server_default="0")
    trending_score: Mapped[float] = mapped_column(Float, nullable=False, server_default="0")
    # Aggregates over PUBLISHED reviews, recomputed by the review actions under a row lock,
    # so a movie page reads them with the movie row (no aggregate query per page).
    review_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    average_rating: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))


# The POPULARITY and TRENDING sorts (score desc, id desc).
Index("ix_movies_popularity", Movie.popularity.desc(), Movie.id.desc())
Index("ix_movies_trending", Movie.trending_score.desc(), Movie.id.desc())

# Trigram GIN indexes for search (case, accents and small typos); the search predicates in
# db/catalog/queries.py use these same expressions so the planner can use the indexes.
search_title_expr = func.marquee_search_title(Movie.title, Movie.original_title)
search_description_expr = func.marquee_unaccent(func.lower(func.coalesce(Movie.description, "")))
Index(
    "ix_movies_search_title",
    search_title_expr.label("search_title"),
    postgresql_using="gin",
    postgresql_ops={"search_title": "gin_trgm_ops"},
)
Index(
    "ix_movies_search_description",
    search_description_expr.label("search_description"),
    postgresql_using="gin",
    postgresql_ops={"search_description": "gin_trgm_ops"},
)


class Genre(Base):
    __tablename__ = "genres"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(CITEXT, unique=True, nullable=False)
    tmdb_id: Mapped[int | None] = mapped_column(Integer, unique=True)


movie_genres = Table(
    "movie_genres",
    Base.metadata,
    Column(
        "movie_id",
        BigInteger,
        ForeignKey("movies.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "genre_id",
        BigInteger,
        ForeignKey("genres.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Favorite(Base):
    __tablename__ = "favorites"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    movie_id: Mapped[int] = mapped_column(
        ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class WatchlistEntry(Timestamps, Base):
    __tablename__ = "watchlist_entries"
    __table_args__ = (
        CheckConstraint(
            "status IN ('WANT_TO_WATCH', 'WATCHING', 'WATCHED')",
            name="status",
        ),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    movie_id: Mapped[int] = mapped_column(
        ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False)
