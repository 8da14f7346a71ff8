"""Loaders of the reviews domain: pages of reviews per movie and the viewer's own data.

Imports graph/reviews/types.py as a module (the types' resolvers use these loaders; see
graph/catalog/loaders.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from db.reviews import queries
from db.reviews.codes import ReviewSort
from graph.accounts import loaders as account_loaders
from graph.accounts import types as account_types
from graph.loaders import ContextLoader, Prefixed
from graph.pagination import Connection, build_connection
from graph.reviews import types as review_types

if TYPE_CHECKING:
    from graph.auth import Viewer
    from graph.context import Context

# (movie id, sort, offset, limit, card): with `card`, the reviews are read as cards
# (db REVIEW_CARD_COLUMNS; only REVIEW_CARD_FIELDS of them may be read).
ReviewPageKey = tuple[int, ReviewSort, int, int, bool]


class ReviewByIdLoader(ContextLoader[int, "review_types.Review | None"]):
    """Reviews by id, as far as the viewer may see them (None otherwise)."""

    async def batch_load_fn(self, keys: list[int]) -> list[review_types.Review | None]:
        viewer = await self.context.viewer()
        viewer_id = viewer.id if viewer else None
        is_staff = bool(viewer and viewer.is_staff)
        rows = await queries.reviews_by_ids(self.context.db, keys, viewer_id, is_staff)
        from_row = review_types.Review.from_row
        found = {row.id: from_row(row, viewer_id) for row in rows}
        return [found.get(k) for k in keys]


class ReviewsByMovieIdLoader(ContextLoader[ReviewPageKey, "Connection[review_types.Review]"]):
    """A page of each movie's visible reviews: one statement per distinct (sort, window)."""

    async def batch_load_fn(
        self, keys: list[ReviewPageKey]
    ) -> list[Connection[review_types.Review]]:
        viewer = await self.context.viewer()
        viewer_id = viewer.id if viewer else None
        is_staff = bool(viewer and viewer.is_staff)
        groups: dict[tuple[ReviewSort, int, int, bool], list[int]] = defaultdict(list)
        for movie_id, sort, offset, limit, card in keys:
            groups[(sort, offset, limit, card)].append(movie_id)
        results: dict[ReviewPageKey, Connection[review_types.Review]] = {}
        users = self.context.loader(account_loaders.UserByIdLoader)
        primed: set[int] = set()
        for (sort, offset, limit, card), movie_ids in groups.items():
            totals: dict[int, int] = {}
            items: dict[int, list[review_types.Review]] = defaultdict(list)
            rows = await queries.review_pages(
                self.context.read_db,
                movie_ids,
                sort,
                offset,
                limit,
                viewer_id,
                is_staff,
                card=card,
            )
            review = review_types.Review
            from_row = review.from_card_row if card else review.from_row
            for row in rows:
                source_id = row["source_id"]
                totals[source_id] = row["total"]
                if row["id"] is not None:
                    items[source_id].append(from_row(row, viewer_id))
                    # The authors came with the page: prime their loader (no statement).
                    user_id = row["user_id"]
                    if user_id not in primed:
                        primed.add(user_id)
                        users.prime(
                            user_id, account_types.User.from_row(Prefixed(row, "author_"), viewer)
                        )
            for movie_id in movie_ids:
                results[(movie_id, sort, offset, limit, card)] = build_connection(
                    items.get(movie_id, []), offset, totals.get(movie_id, 0)
                )
        return [results[k] for k in keys]


class ViewerReviewByMovieIdLoader(ContextLoader[int, "review_types.Review | None"]):
    """The viewer's own review of each movie, whatever its status."""

    async def batch_load_fn(self, keys: list[int]) -> list[review_types.Review | None]:
        viewer = await self.context.viewer()
        if viewer is None:
            return [None] * len(keys)
        rows = await queries.reviews_by_user_and_movies(self.context.db, viewer.id, keys)
        from_row = review_types.Review.from_row
        found = {row.movie_id: from_row(row, viewer.id) for row in rows}
        return [found.get(k) for k in keys]


class ViewerVoteByReviewIdLoader(ContextLoader[int, bool | None]):
    """The viewer's vote on each review (None: no vote, or anonymous)."""

    async def batch_load_fn(self, keys: list[int]) -> list[bool | None]:
        viewer = await self.context.viewer()
        if viewer is None:
            return [None] * len(keys)
        found = await queries.votes_by_user(self.context.db, viewer.id, keys)
        return [found.get(k) for k in keys]


class VerifiedPurchaseLoader(ContextLoader[tuple[int, int], bool]):
    """`Review.verifiedPurchase` by (author, movie): one statement for every review the
    request shows, run only when the field is selected."""

    async def batch_load_fn(self, keys: list[tuple[int, int]]) -> list[bool]:
        found = await queries.verified_purchases(self.context.read_db, keys)
        return [k in found for k in keys]


# (user id, own, offset, limit): `own` lists every review of the user (`me { reviews }`),
# otherwise only the published, non-anonymous ones (`User.reviews`).
UserReviewPageKey = tuple[int, bool, int, int]


class ReviewsByUserIdLoader(ContextLoader[UserReviewPageKey, "Connection[review_types.Review]"]):
    """A page of each user's reviews, newest first: one statement per distinct (own, window),
    however many users (db/reviews/queries.py, `user_review_pages`)."""

    async def batch_load_fn(
        self, keys: list[UserReviewPageKey]
    ) -> list[Connection[review_types.Review]]:
        viewer = await self.context.viewer()
        viewer_id = viewer.id if viewer else None
        groups: dict[tuple[bool, int, int], list[int]] = defaultdict(list)
        for user_id, own, offset, limit in keys:
            groups[(own, offset, limit)].append(user_id)
        results: dict[UserReviewPageKey, Connection[review_types.Review]] = {}
        from_row = review_types.Review.from_row
        for (own, offset, limit), user_ids in groups.items():
            totals: dict[int, int] = {}
            items: dict[int, list[review_types.Review]] = defaultdict(list)
            # A user's public reviews may lag; the viewer's own list (`me`) may not.
            db = self.context.db if own else self.context.read_db
            rows = await queries.user_review_pages(db, user_ids, offset, limit, own=own)
            for row in rows:
                source_id = row["source_id"]
                totals[source_id] = row["total"]
                if row["id"] is not None:
                    items[source_id].append(from_row(row, viewer_id))
            for user_id in user_ids:
                results[(user_id, own, offset, limit)] = build_connection(
                    items.get(user_id, []), offset, totals.get(user_id, 0)
                )
        return [results[k] for k in keys]


# The arrays of `review_card_arrays`: the card columns, in REVIEW_CARD_COLUMNS order.
_REVIEW_ARRAYS = tuple(f"review_{c.key}" for c in queries.REVIEW_CARD_COLUMNS)


def prime_review_cards(
    context: Context, rows: Sequence[Any], cards: queries.ReviewCards, viewer: Viewer | None
) -> None:
    """Prime ReviewsByMovieIdLoader with a page of card reviews for each movie of a movie
    list, and UserByIdLoader with their authors, from the arrays the list's own statement
    read (`db.reviews.queries.review_card_arrays`): the pages then cost no statement, and
    the movie list's look-ahead (graph/catalog/prefetch.py) finds them loaded."""
    pages = context.loader(ReviewsByMovieIdLoader)
    users = context.loader(account_loaders.UserByIdLoader)
    viewer_id = viewer.id if viewer else None
    author_keys = [c.key for c in queries.author_columns(cards.kind)]
    author_arrays = [f"author_{k}" for k in author_keys]
    at = author_keys.index("id")
    cards_of = review_types.Review.cards
    user_from_row = account_types.User.from_row
    offset, page_key = cards.offset, (cards.sort, cards.offset, cards.limit, True)
    for row in rows:
        m = row._mapping
        items: list[review_types.Review] = []
        if m["review_id"]:
            items = cards_of(zip(*(m[n] for n in _REVIEW_ARRAYS), strict=True), viewer_id)
            for values in zip(*(m[n] for n in author_arrays), strict=True):
                pk = values[at]
                if pk is not None and pk not in users.requested:
                    author = _Mapped(dict(zip(author_keys, values, strict=True)))
                    users.prime(pk, user_from_row(author, viewer))
        pages.prime((m["id"], *page_key), build_connection(items, offset, m["review_total"]))


class _Mapped:
    """A dict seen as a row (`_mapping`), as User.from_row reads one."""

    __slots__ = ("_mapping",)

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping
