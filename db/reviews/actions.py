"""Review actions: write, edit, delete, vote and moderate. Failures are DomainErrors.

Movie aggregates (review_count, average_rating over PUBLISHED reviews) are recomputed in the
same transaction, after locking the movie row, so concurrent reviews cannot lose an update.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.catalog.models import Movie
from db.errors import DomainError, Validator
from db.reviews.codes import ReviewErrorCode as Code
from db.reviews.codes import ReviewStatus
from db.reviews.models import Review, ReviewVote

TITLE_MAX = 200
BODY_MAX = 10_000
REASON_MAX = 500
REVIEW_FIELDS = frozenset({"rating", "title", "body", "is_spoiler", "is_anonymous"})


def _validate(values: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    v = Validator(Code.VALIDATION_ERROR)
    out = dict(values)
    if creating or "rating" in out:
        rating = out.get("rating")
        v.check(
            isinstance(rating, int) and 1 <= rating <= 10, "rating", "The rating must be 1 to 10."
        )
    if "title" in out:
        title = (out["title"] or "").strip()
        v.check(len(title) <= TITLE_MAX, "title", f"The title is at most {TITLE_MAX} characters.")
        out["title"] = title or None
    if creating or "body" in out:
        # Optional: a review may be a rating alone (no text, or only whitespace → NULL).
        body = (out.get("body") or "").strip()
        v.check(len(body) <= BODY_MAX, "body", f"The text is at most {BODY_MAX} characters.")
        out["body"] = body or None
    for flag in ("is_spoiler", "is_anonymous"):
        if flag in out and out[flag] is None:
            del out[flag]
    v.raise_if_any()
    return out


async def _lock_movie(session: AsyncSession, movie_id: int) -> None:
    found = await session.scalar(select(Movie.id).where(Movie.id == movie_id).with_for_update())
    if found is None:
        raise DomainError(Code.NOT_FOUND, "No such movie.", "movieId")


async def refresh_movie_stats(session: AsyncSession, movie_id: int) -> None:
    """Recompute a movie's published-review aggregates (call with the movie row locked)."""
    published = select(
        func.count().label("n"), func.round(func.avg(Review.rating), 2).label("avg")
    ).where(Review.movie_id == movie_id, Review.status == ReviewStatus.PUBLISHED.value)
    stats = published.subquery()
    await session.execute(
        update(Movie)
        .where(Movie.id == movie_id)
        .values(
            review_count=select(stats.c.n).scalar_subquery(),
            average_rating=select(stats.c.avg).scalar_subquery(),
        )
    )


async def _get_review(
    session: AsyncSession, review_id: int, viewer_id: int, is_staff: bool
) -> Review:
    review = await session.scalar(select(Review).where(Review.id == review_id))
    visible = review is not None and (
        is_staff or review.status == ReviewStatus.PUBLISHED.value or review.user_id == viewer_id
    )
    if review is None or not visible:
        raise DomainError(Code.NOT_FOUND, "No such review.", "reviewId")
    return review


def _require_owner(review: Review, viewer_id: int, is_staff: bool) -> None:
    if review.user_id != viewer_id and not is_staff:
        raise DomainError(Code.FORBIDDEN, "Only the author or staff can change this review.")


async def create_review(
    session: AsyncSession,
    *,
    user_id: int,
    movie_id: int,
    rating: int,
    body: str | None = None,
    title: str | None = None,
    is_spoiler: bool = False,
    is_anonymous: bool = False,
) -> Review:
    values = _validate(
        {
            "rating": rating,
            "title": title,
            "body": body,
            "is_spoiler": is_spoiler,
            "is_anonymous": is_anonymous,
        },
        creating=True,
    )
    await _lock_movie(session, movie_id)
    taken = await session.scalar(
        select(Review.id).where(Review.user_id == user_id, Review.movie_id == movie_id)
    )
    if taken is not None:
        raise DomainError(Code.ALREADY_EXISTS, "You have already reviewed this movie.", "movieId")
    review = Review(user_id=user_id, movie_id=movie_id, **values)
    session.add(review)
    await session.flush()
    await refresh_movie_stats(session, movie_id)
    await session.refresh(review)
    return review


async def update_review(
    session: AsyncSession,
    *,
    review_id: int,
    viewer_id: int,
    is_staff: bool,
    changes: Mapping[str, Any],
) -> Review:
    unknown = set(changes) - REVIEW_FIELDS
    if unknown:
        raise ValueError(f"unknown review fields: {sorted(unknown)}")
    review = await _get_review(session, review_id, viewer_id, is_staff)
    _require_owner(review, viewer_id, is_staff)
    values = _validate(changes, creating=False)
    await _lock_movie(session, review.movie_id)
    for key, value in values.items():
        setattr(review, key, value)
    review.updated_at = func.now()
    await session.flush()
    if "rating" in values:
        await refresh_movie_stats(session, review.movie_id)
    await session.refresh(review)
    return review


async def delete_review(
    session: AsyncSession, *, review_id: int, viewer_id: int, is_staff: bool
) -> None:
    review = await _get_review(session, review_id, viewer_id, is_staff)
    _require_owner(review, viewer_id, is_staff)
    await _lock_movie(session, review.movie_id)
    await session.delete(review)
    await session.flush()
    await refresh_movie_stats(session, review.movie_id)


async def vote_review(
    session: AsyncSession,
    *,
    review_id: int,
    user_id: int,
    is_staff: bool,
    helpful: bool | None,
) -> Review:
    """One vote per user, changeable; `helpful=None` withdraws the vote."""
    review = await _get_review(session, review_id, user_id, is_staff)
    if review.user_id == user_id:
        raise DomainError(Code.OWN_REVIEW, "You cannot vote on your own review.", "reviewId")
    # Lock the review so the tallies are recounted one voter at a time.
    await session.execute(select(Review.id).where(Review.id == review_id).with_for_update())
    if helpful is None:
        await session.execute(
            delete(ReviewVote).where(
                ReviewVote.review_id == review_id, ReviewVote.user_id == user_id
            )
        )
    else:
        stmt = pg_insert(ReviewVote).values(
            review_id=review_id, user_id=user_id, is_helpful=helpful
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["review_id", "user_id"],
                set_={"is_helpful": stmt.excluded.is_helpful},
            )
        )
    tallies = (
        select(
            func.count(case((ReviewVote.is_helpful, 1))).label("up"),
            func.count(case((ReviewVote.is_helpful.is_(False), 1))).label("down"),
        )
        .where(ReviewVote.review_id == review_id)
        .subquery()
    )
    await session.execute(
        update(Review)
        .where(Review.id == review_id)
        .values(
            helpful_count=select(tallies.c.up).scalar_subquery(),
            unhelpful_count=select(tallies.c.down).scalar_subquery(),
        )
    )
    await session.refresh(review)
    return review


async def moderate_review(
    session: AsyncSession, *, review_id: int, status: ReviewStatus, reason: str | None = None
) -> Review:
    """Staff only (checked by the API): publish or hide a review."""
    v = Validator(Code.VALIDATION_ERROR)
    reason = (reason or "").strip() or None
    v.check(
        reason is None or len(reason) <= REASON_MAX, "reason", f"At most {REASON_MAX} characters."
    )
    v.raise_if_any()
    review = await session.scalar(select(Review).where(Review.id == review_id))
    if review is None:
        raise DomainError(Code.NOT_FOUND, "No such review.", "reviewId")
    await _lock_movie(session, review.movie_id)
    review.status = status.value
    review.moderation_reason = reason if status is ReviewStatus.HIDDEN else None
    review.moderated_at = func.now()
    await session.flush()
    await refresh_movie_stats(session, review.movie_id)
    await session.refresh(review)
    return review
