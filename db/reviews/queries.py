"""Reads of the reviews domain: reviews by id, pages of a movie's reviews, the viewer's own.

Each read is an async function on the `Database` returning plain rows (or values); the
statements behind them are SQLAlchemy Core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, bindparam, func, or_, select, true
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.types import BigInteger, Integer

from db.accounts.models import User
from db.accounts.queries import PUBLIC_USER_COLUMNS, USER_COLUMNS
from db.orders.models import Ticket
from db.reviews.codes import ReviewSort, ReviewStatus
from db.reviews.models import Review, ReviewVote
from db.session import Database, Record
from db.showtimes.models import Showtime


def verified_purchase(
    user_id: ColumnElement[int] = Review.user_id,  # type: ignore[assignment]
    movie_id: ColumnElement[int] = Review.movie_id,  # type: ignore[assignment]
) -> ColumnElement[bool]:
    """The user (a review's author by default) holds a paid ticket (VALID or USED) for a
    showtime of the movie that has started."""
    return (
        select(Ticket.id)
        .join(Showtime, Showtime.id == Ticket.showtime_id)
        .where(
            Ticket.user_id == user_id,
            Ticket.status != "CANCELLED",  # VALID or USED (not an IN list: static SQL)
            Showtime.movie_id == movie_id,
            Showtime.starts_at <= func.now(),
        )
        .exists()
    )


# (user id, movie id) pairs, those with a verified purchase; built once (`fetch_static`).
_PAIRS = (
    func.unnest(
        bindparam("user_ids", type_=ARRAY(BigInteger)),
        bindparam("movie_ids", type_=ARRAY(BigInteger)),
    )
    .table_valued("user_id", "movie_id")
    .render_derived(name="pair")
)
_VERIFIED_PAIRS = select(_PAIRS.c.user_id, _PAIRS.c.movie_id).where(
    verified_purchase(_PAIRS.c.user_id, _PAIRS.c.movie_id)
)


async def verified_purchases(
    db: Database, pairs: Sequence[tuple[int, int]]
) -> set[tuple[int, int]]:
    """Which (user, movie) pairs have a verified purchase (`Review.verifiedPurchase`): one
    statement for a whole page of reviews, and only when the field is asked for (it reads
    tickets and showtimes, which no other review field needs)."""
    rows = await db.fetch_static(
        _VERIFIED_PAIRS,
        {"user_ids": [u for u, _ in pairs], "movie_ids": [m for _, m in pairs]},
    )
    return {(row[0], row[1]) for row in rows}


REVIEW_COLUMNS = (
    Review.id,
    Review.movie_id,
    Review.user_id,
    Review.rating,
    Review.title,
    Review.body,
    Review.is_spoiler,
    Review.is_anonymous,
    Review.status,
    Review.moderation_reason,
    Review.helpful_count,
    Review.unhelpful_count,
    Review.created_at,
    Review.updated_at,
)
# A review as a list of cards shows it: what a page of reviews reads when its nodes ask only
# for the fields graph/reviews/types.py names in REVIEW_CARD_FIELDS (no text, counts,
# moderation reason or edit time).
REVIEW_CARD_COLUMNS = (
    Review.id,
    Review.movie_id,
    Review.user_id,
    Review.rating,
    Review.title,
    Review.is_anonymous,
    Review.status,
    Review.created_at,
)


def visible_to(viewer_id: int | None, is_staff: bool) -> ColumnElement[bool]:
    """HIDDEN reviews are visible only to staff and to their author."""
    if is_staff:
        return true()
    published = Review.status == ReviewStatus.PUBLISHED.value
    if viewer_id is None:
        return published
    return or_(published, Review.user_id == viewer_id)


def review_order(sort: ReviewSort) -> list[Any]:
    match sort:
        case ReviewSort.NEWEST:
            return [Review.created_at.desc(), Review.id.desc()]
        case ReviewSort.MOST_HELPFUL:
            return [
                (Review.helpful_count - Review.unhelpful_count).desc(),
                Review.helpful_count.desc(),
                Review.created_at.desc(),
                Review.id.desc(),
            ]
        case ReviewSort.HIGHEST:
            return [Review.rating.desc(), Review.created_at.desc(), Review.id.desc()]
        case ReviewSort.LOWEST:
            return [Review.rating.asc(), Review.created_at.desc(), Review.id.desc()]


async def reviews_by_ids(
    db: Database, ids: Sequence[int], viewer_id: int | None, is_staff: bool
) -> Sequence[Row[Any]]:
    """Reviews by id, those the viewer may see (`visible_to`), in no particular order."""
    return await db.fetch(
        select(*REVIEW_COLUMNS).where(Review.id.in_(list(ids)), visible_to(viewer_id, is_staff))
    )


async def reviews_by_user_and_movies(
    db: Database, user_id: int, movie_ids: Sequence[int]
) -> Sequence[Row[Any]]:
    """The user's own review of each of these movies that they reviewed, whatever its status."""
    return await db.fetch(
        select(*REVIEW_COLUMNS).where(
            Review.user_id == user_id, Review.movie_id.in_(list(movie_ids))
        )
    )


async def review_pages(
    db: Database,
    movie_ids: Sequence[int],
    sort: ReviewSort,
    offset: int,
    limit: int,
    viewer_id: int | None,
    is_staff: bool,
    *,
    card: bool = False,
) -> Sequence[Record]:
    """A page of each movie's visible reviews (with `card`, only REVIEW_CARD_COLUMNS) with
    their authors' `USER_COLUMNS` (as `author_<key>`; for an anonymous viewer only the
    public profile, PUBLIC_USER_COLUMNS), on the driver: the statement is built once per
    shape."""
    kind = viewer_kind(viewer_id, is_staff)
    stmt, params = review_pages_query(
        movie_ids, sort, offset, limit, viewer_id, is_staff, author_columns(kind), card=card
    )
    return await db.fetch_static(stmt, params)


def review_pages_query(
    movie_ids: Sequence[int],
    sort: ReviewSort,
    offset: int,
    limit: int,
    viewer_id: int | None,
    is_staff: bool,
    author_columns: tuple[Any, ...] = (),
    *,
    card: bool = False,
) -> tuple[Select[*tuple[Any, ...]], dict[str, Any]]:
    """One page of reviews for each of many movies, with each movie's total, in ONE
    statement: a row per movie with its total even when the page is empty (review columns
    NULL then). `author_columns` (columns of `users`) come along labelled `author_<key>`,
    so the authors need no statement of their own. The statement is built once per
    (sort, visibility, columns) and returned with its parameters: it keeps its memoized cache
    key, which a `.params()` copy computes again on every request (~0.2 ms of CPU)."""
    kind = viewer_kind(viewer_id, is_staff)
    params: dict[str, Any] = {"ids": list(movie_ids), "offset": offset, "limit": limit}
    if kind == "viewer":
        params["viewer_id"] = viewer_id
    return _review_pages(sort, kind, author_columns, card), params


@cache
def _review_pages(
    sort: ReviewSort, kind: str, author_columns: tuple[Any, ...], card: bool
) -> Select[*tuple[Any, ...]]:
    authors = [c.label(f"author_{c.key}") for c in author_columns]
    columns = REVIEW_CARD_COLUMNS if card else REVIEW_COLUMNS
    return _pages_per_source(Review.movie_id, _visible(kind), review_order(sort), columns, authors)


def viewer_kind(viewer_id: int | None, is_staff: bool) -> str:
    """Which statement shape a viewer's pages of reviews take: "staff", "public"
    (anonymous) or "viewer" (signed in: their own hidden reviews too)."""
    return "staff" if is_staff else "public" if viewer_id is None else "viewer"


def author_columns(kind: str) -> tuple[Any, ...]:
    """The authors' columns a page of reviews reads: for an anonymous viewer only the
    public profile."""
    return PUBLIC_USER_COLUMNS if kind == "public" else USER_COLUMNS


def _visible(kind: str) -> ColumnElement[bool]:
    """Which reviews a page shows: every one to staff, PUBLISHED ones to anyone, and to a
    signed-in viewer (`viewer_id`) their own too."""
    if kind == "staff":
        return true()
    if kind == "public":
        return Review.status == ReviewStatus.PUBLISHED.value
    return or_(
        Review.status == ReviewStatus.PUBLISHED.value,
        Review.user_id == bindparam("viewer_id", type_=BigInteger),
    )


@dataclass(frozen=True)
class ReviewCards:
    """A page of card reviews (REVIEW_CARD_COLUMNS) with their authors, for every movie of
    a movie list, read by the list's own statement (`review_card_arrays`)."""

    sort: ReviewSort
    offset: int
    limit: int
    viewer_id: int | None
    is_staff: bool

    @property
    def kind(self) -> str:
        return viewer_kind(self.viewer_id, self.is_staff)

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"review_offset": self.offset, "review_limit": self.limit}
        if self.kind == "viewer":
            params["viewer_id"] = self.viewer_id
        return params


def review_card_arrays(movie_id: Any, sort: ReviewSort, kind: str) -> tuple[Any, Any]:
    """Two laterals for the movie id column `movie_id` of an outer statement: its total of
    visible reviews (`review_total`), and a page of them (parameters `review_offset` and
    `review_limit`) in `sort` order as arrays in page order, one per card column
    (`review_<key>`) and one per author column (`author_<key>`, `author_columns`; NULL for
    an empty page). One row per movie instead of one per review."""
    visible = _visible(kind)
    counted = (
        select(func.count().label("review_total"))
        .select_from(Review)
        .where(Review.movie_id == movie_id, visible)
        .lateral("review_counted")
    )
    order = review_order(sort)
    page = (
        select(*REVIEW_CARD_COLUMNS, func.row_number().over(order_by=order).label("position"))
        .where(Review.movie_id == movie_id, visible)
        .order_by(*order)
        .offset(bindparam("review_offset", type_=Integer))
        .limit(bindparam("review_limit", type_=Integer))
        .correlate_except(Review)  # to the movie of the outer statement, two levels up
        .lateral("review_page")
    )
    position = page.c.position

    def in_order(column: Any, name: str) -> Any:
        return func.array_agg(aggregate_order_by(column, position)).label(name)

    arrays = (
        select(
            *(in_order(page.c[c.key], f"review_{c.key}") for c in REVIEW_CARD_COLUMNS),
            *(in_order(c, f"author_{c.key}") for c in author_columns(kind)),
        )
        .select_from(page.outerjoin(User, User.id == page.c.user_id))
        .lateral("review_pages")
    )
    return counted, arrays


def _pages_per_source(
    source: Any,
    visible: ColumnElement[bool],
    order: list[Any],
    columns: Sequence[Any],
    authors: Sequence[Any] = (),
) -> Select[*tuple[Any, ...]]:
    """For each id of the `ids` array (a movie or a user: `source` is the review column it
    matches), its total of visible reviews and a page of them (`offset`, `limit`) in
    `order`, numbered `position`: a row per id even when its page is empty (review columns
    NULL then). The total is a lateral, counted once per id, not a column's subquery run once
    per result row (PostgreSQL ran it 60 times for the movie page's 20 movies)."""
    src = (
        func.unnest(bindparam("ids", type_=ARRAY(BigInteger)))
        .table_valued("id")
        .render_derived(name="src")
    )
    counted = (
        select(func.count().label("total"))
        .select_from(Review)
        .where(source == src.c.id, visible)
        .lateral("counted")
    )
    page = (
        select(*columns, func.row_number().over(order_by=order).label("position"))
        .where(source == src.c.id, visible)
        .order_by(*order)
        .offset(bindparam("offset", type_=Integer))
        .limit(bindparam("limit", type_=Integer))
        .lateral("page")
    )
    # The authors joined to the pages once, not inside each movie's page.
    joined = src.join(counted, true()).outerjoin(page, true())
    if authors:
        joined = joined.outerjoin(User, User.id == page.c.user_id)
    return (
        select(src.c.id.label("source_id"), counted.c.total, *page.c, *authors)
        .select_from(joined)
        .order_by(src.c.id, page.c.position)
    )


async def votes_by_user(db: Database, user_id: int, review_ids: Sequence[int]) -> dict[int, bool]:
    """The user's vote (helpful or not) on those of these reviews they voted on."""
    rows = await db.fetch(
        select(ReviewVote.review_id, ReviewVote.is_helpful).where(
            ReviewVote.user_id == user_id, ReviewVote.review_id.in_(list(review_ids))
        )
    )
    return {row.review_id: row.is_helpful for row in rows}


# --- a user's reviews: `me { reviews }` (their own, any status) and `User.reviews` (public) ---


async def user_review_pages(
    db: Database, user_ids: Sequence[int], offset: int, limit: int, *, own: bool
) -> Sequence[Record]:
    """A page of each user's reviews, newest first (created desc, id desc), with each user's
    total, in ONE statement (a row per user even when the page is empty: review columns NULL
    then). `own`: every review of the user, hidden and anonymous ones included (the user
    themself); otherwise only what anyone may see under the user's name: PUBLISHED and not
    anonymous (an anonymous review listed on its author's profile would name them)."""
    params: dict[str, Any] = {"ids": list(user_ids), "offset": offset, "limit": limit}
    return await db.fetch_static(_user_review_pages(own), params)


@cache
def _user_review_pages(own: bool) -> Select[*tuple[Any, ...]]:
    visible: ColumnElement[bool] = (
        true()
        if own
        else and_(Review.status == ReviewStatus.PUBLISHED.value, Review.is_anonymous.is_(False))
    )
    return _pages_per_source(
        Review.user_id, visible, review_order(ReviewSort.NEWEST), REVIEW_COLUMNS
    )
