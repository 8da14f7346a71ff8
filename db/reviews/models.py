"""Review tables: one review per user per movie, and one helpful/unhelpful vote per user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Timestamps

REVIEW_STATUSES = ("PUBLISHED", "HIDDEN")


class Review(Timestamps, Base):
    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("user_id", "movie_id"),
        CheckConstraint("rating BETWEEN 1 AND 10", name="rating"),
        CheckConstraint("status IN ('PUBLISHED', 'HIDDEN')", name="status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    movie_id: Mapped[int] = mapped_column(
        ForeignKey("movies.id", ondelete="CASCADE"), index=True, nullable=False
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    rating: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    title: Mapped[str | None] = mapped_column(String(200))
    # NULL: a rating without text (migration 0016_review_rating_only).
    body: Mapped[str | None] = mapped_column(Text)
    is_spoiler: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    is_anonymous: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="PUBLISHED")
    moderation_reason: Mapped[str | None] = mapped_column(String(500))
    moderated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Vote tallies kept in step with review_votes by the vote action (sort MOST_HELPFUL).
    helpful_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    unhelpful_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


class ReviewVote(Base):
    __tablename__ = "review_votes"

    review_id: Mapped[int] = mapped_column(
        ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    is_helpful: Mapped[bool] = mapped_column(Boolean, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
