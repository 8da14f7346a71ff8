"""GraphQL types of the reviews domain.

Relations resolve through loaders, which build these types: the loader modules are imported
as modules and read when a field resolves (see graph/catalog/loaders.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry

from db.reviews.queries import REVIEW_CARD_COLUMNS
from graph.accounts import loaders as account_loaders
from graph.catalog import loaders as catalog_loaders
from graph.catalog.loader_futures import deferred
from graph.context import Info
from graph.execution import NOT_READY, ready_value
from graph.relay import Node, to_global_id
from graph.reviews import loaders as review_loaders
from graph.reviews.enums import ReviewErrorCode, ReviewStatus

if TYPE_CHECKING:
    from graph.accounts.types import User
    from graph.catalog.types import Movie


_STATUSES = {s.value: s for s in ReviewStatus}


def _ready_author(review: Review, args: Mapping[str, Any]) -> Any:
    """What Review.author returns without running: null when hidden, or what a look-ahead
    loaded (graph/catalog/prefetch.py); the execution fast path reads it (graph/execution.py)."""
    if review.is_anonymous and not review.is_mine:
        return None
    return review.prefetched_author if review.author_prefetched else NOT_READY


# The Review fields a page can answer from a card row (db REVIEW_CARD_COLUMNS): plain fields
# read from those columns, and fields that need only ids (loaders). A page of reviews whose
# nodes select only these reads card rows (graph/catalog/prefetch.py); any other field, a
# new one included, makes it read whole rows. tests/reviews/test_review_cards.py checks
# each name against the schema and each plain field against a whole row.
REVIEW_CARD_FIELDS = frozenset(
    {
        "__typename",
        "id",
        "rating",
        "title",
        "isAnonymous",
        "status",
        "isMine",
        "createdAt",
        "author",
        "movie",
        "verifiedPurchase",
        "viewerVote",
    }
)
# What a card Review holds for the fields it has no column for: never read (see above).
# The card columns' names, in REVIEW_CARD_COLUMNS order: the order of `_card`'s arguments.
_CARD_KEYS = tuple(c.key for c in REVIEW_CARD_COLUMNS)
_NOT_IN_CARD: dict[str, Any] = dict.fromkeys(
    (
        "body",
        "is_spoiler",
        "moderation_reason",
        "helpful_count",
        "unhelpful_count",
        "updated_at",
    )
)


@strawberry.type(description="A user's review of a movie: one per user per movie.")
class Review(Node):
    pk: strawberry.Private[int]
    movie_pk: strawberry.Private[int]
    user_pk: strawberry.Private[int]
    rating: int = strawberry.field(description="Rating from 1 to 10.")
    title: str | None = strawberry.field(description="Headline (up to 200 characters).")
    body: str | None = strawberry.field(
        description="The review text; null for a rating without text (it still counts in "
        "the movie's averageRating and reviewCount)."
    )
    is_spoiler: bool = strawberry.field(description="Whether the text reveals the plot.")
    is_anonymous: bool = strawberry.field(
        description="Published without the author's name (the author still sees it as theirs)."
    )
    status: ReviewStatus = strawberry.field(description="PUBLISHED, or HIDDEN by a moderator.")
    moderation_reason: str | None = strawberry.field(description="Why a moderator hid it.")
    helpful_count: int = strawberry.field(description="Votes saying the review was helpful.")
    unhelpful_count: int = strawberry.field(description="Votes saying it was not helpful.")
    is_mine: bool = strawberry.field(description="Whether the viewer wrote this review.")
    created_at: datetime = strawberry.field(description="When it was written.")
    updated_at: datetime = strawberry.field(description="When it was last edited.")
    # Filled by graph/catalog/prefetch.py when a list query looks ahead.
    # A `User` or None (typed Any: strawberry evaluates this annotation on import, when
    # graph.accounts.types may still be importing: its User.reviews needs our loaders).
    prefetched_author: strawberry.Private[Any] = None
    author_prefetched: strawberry.Private[bool] = False

    @classmethod
    def from_row(cls, row: Any, viewer_id: int | None) -> Review:
        m = row._mapping  # by name: much faster than attributes (db/session.py, Record)
        return cls._from_card(
            m,
            viewer_id,
            body=m["body"],
            is_spoiler=m["is_spoiler"],
            moderation_reason=m["moderation_reason"],
            helpful_count=m["helpful_count"],
            unhelpful_count=m["unhelpful_count"],
            updated_at=m["updated_at"],
        )

    @classmethod
    def from_card_row(cls, row: Any, viewer_id: int | None) -> Review:
        """A review from a card row (db REVIEW_CARD_COLUMNS): only REVIEW_CARD_FIELDS may be
        read."""
        return cls._from_card(row._mapping, viewer_id, **_NOT_IN_CARD)

    @classmethod
    def _from_card(cls, m: Any, viewer_id: int | None, **rest: Any) -> Review:
        """The review from a row's card columns (`m`, its mapping) and the other fields."""
        return cls._card(*(m[k] for k in _CARD_KEYS), viewer_id, rest)  # type: ignore[call-arg]

    @classmethod
    def cards(cls, values: Iterable[Sequence[Any]], viewer_id: int | None) -> list[Review]:
        """Card reviews from tuples of db REVIEW_CARD_COLUMNS values, in that order (a page
        read as arrays: graph/reviews/loaders.py `prime_review_cards`)."""
        card = cls._card
        return [card(*v, viewer_id, _NOT_IN_CARD) for v in values]  # type: ignore[call-arg]

    @classmethod
    def _card(
        cls,
        pk: int,
        movie_pk: int,
        user_pk: int,
        rating: int,
        title: str | None,
        is_anonymous: bool,
        status: str,
        created_at: datetime,
        viewer_id: int | None,
        rest: dict[str, Any],
    ) -> Review:
        return cls(
            id=strawberry.ID(to_global_id("Review", pk)),
            pk=pk,
            movie_pk=movie_pk,
            user_pk=user_pk,
            rating=rating,
            title=title,
            is_anonymous=is_anonymous,
            status=_STATUSES[status],
            is_mine=viewer_id is not None and user_pk == viewer_id,
            created_at=created_at,
            **rest,
        )

    @strawberry.field(
        description="The author; null for an anonymous review unless the viewer wrote it.",
        metadata=ready_value(_ready_author),
    )
    def author(self, info: Info) -> Annotated[User, strawberry.lazy("graph.accounts.types")] | None:
        ready = _ready_author(self, {})
        if ready is not NOT_READY:
            return cast("User | None", ready)
        return deferred(info.context.loader(account_loaders.UserByIdLoader).load(self.user_pk))

    @strawberry.field(description="The movie reviewed.")
    def movie(self, info: Info) -> Annotated[Movie, strawberry.lazy("graph.catalog.types")]:
        # The foreign key cascades, so the movie exists.
        loader = info.context.loader(catalog_loaders.MovieByIdLoader)
        return cast("Movie", deferred(loader.load(self.movie_pk)))

    @strawberry.field(description="The author held a paid ticket for a past showtime of the movie.")
    def verified_purchase(self, info: Info) -> bool:
        loader = info.context.loader(review_loaders.VerifiedPurchaseLoader)
        return deferred(loader.load((self.user_pk, self.movie_pk)))

    @strawberry.field(
        description="The viewer's vote: true helpful, false not helpful, null no vote."
    )
    def viewer_vote(self, info: Info) -> bool | None:
        return deferred(
            info.context.loader(review_loaders.ViewerVoteByReviewIdLoader).load(self.pk)
        )


@strawberry.type(description="An expected failure of a review mutation.")
class ReviewError:
    code: ReviewErrorCode = strawberry.field(description="Machine-readable code.")
    message: str = strawberry.field(description="Human-readable explanation.")
    field: str | None = strawberry.field(description="The input field at fault, if any.")


@strawberry.type(description="Result of createReview, updateReview, voteReview, moderateReview.")
class ReviewPayload:
    review: Review | None = strawberry.field(description="The review, on success.")
    errors: list[ReviewError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="Result of deleteReview.")
class DeleteReviewPayload:
    deleted_review_id: strawberry.ID | None = strawberry.field(description="ID of the review.")
    errors: list[ReviewError] = strawberry.field(description="Empty on success.")
