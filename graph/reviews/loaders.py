"""Loaders of the reviews domain: pages of reviews per movie and the viewer's own data."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from db.reviews import queries
from db.reviews.codes import ReviewSort
from db.reviews.models import Review as ReviewRow
from graph.accounts.loaders import USER_COLUMNS, UserByIdLoader
from graph.accounts.types import User
from graph.loaders import ContextLoader
from graph.pagination import Connection, build_connection
from graph.reviews.types import Review

# (movie id, sort, offset, limit)
ReviewPageKey = tuple[int, ReviewSort, int, int]


class _Prefixed:
    """A record's `<prefix><name>` columns seen as `<name>` attributes (for `from_row`)."""

    __slots__ = ("prefix", "row")

    def __init__(self, row: Any, prefix: str) -> None:
        self.row = row
        self.prefix = prefix

    def __getattr__(self, name: str) -> Any:
        try:
            return self.row[self.prefix + name]
        except KeyError:
            raise AttributeError(name) from None


class ReviewByIdLoader(ContextLoader[int, Review | None]):
    """Reviews by id, as far as the viewer may see them (None otherwise)."""

    async def batch_load_fn(self, keys: list[int]) -> list[Review | None]:
        viewer = await self.context.viewer()
        viewer_id = viewer.id if viewer else None
        visible = queries.visible_to(viewer_id, bool(viewer and viewer.is_staff))
        rows = await self.context.db.fetch(
            select(*queries.REVIEW_COLUMNS).where(ReviewRow.id.in_(keys), visible)
        )
        found = {row.id: Review.from_row(row, viewer_id) for row in rows}
        return [found.get(k) for k in keys]


class ReviewsByMovieIdLoader(ContextLoader[ReviewPageKey, Connection[Review]]):
    """A page of each movie's visible reviews: one statement per distinct (sort, window)."""

    async def batch_load_fn(self, keys: list[ReviewPageKey]) -> list[Connection[Review]]:
        viewer = await self.context.viewer()
        viewer_id = viewer.id if viewer else None
        is_staff = bool(viewer and viewer.is_staff)
        groups: dict[tuple[ReviewSort, int, int], list[int]] = defaultdict(list)
        for movie_id, sort, offset, limit in keys:
            groups[(sort, offset, limit)].append(movie_id)
        results: dict[ReviewPageKey, Connection[Review]] = {}
        users = self.context.loader(UserByIdLoader)
        primed: set[int] = set()
        for (sort, offset, limit), movie_ids in groups.items():
            totals: dict[int, int] = {}
            items: dict[int, list[Review]] = defaultdict(list)
            stmt, params = queries.review_pages_query(
                movie_ids, sort, offset, limit, viewer_id, is_staff, USER_COLUMNS
            )
            for row in await self.context.db.fetch_static(stmt, params):
                source_id = row["source_id"]
                totals[source_id] = row["total"]
                if row["id"] is not None:
                    items[source_id].append(Review.from_row(row, viewer_id))
                    # The authors came with the page: prime their loader (no statement).
                    user_id = row["user_id"]
                    if user_id not in primed:
                        primed.add(user_id)
                        users.prime(user_id, User.from_row(_Prefixed(row, "author_"), viewer))
            for movie_id in movie_ids:
                results[(movie_id, sort, offset, limit)] = build_connection(
                    items.get(movie_id, []), offset, totals.get(movie_id, 0)
                )
        return [results[k] for k in keys]


class ViewerReviewByMovieIdLoader(ContextLoader[int, Review | None]):
    """The viewer's own review of each movie, whatever its status."""

    async def batch_load_fn(self, keys: list[int]) -> list[Review | None]:
        viewer = await self.context.viewer()
        if viewer is None:
            return [None] * len(keys)
        rows = await self.context.db.fetch(
            select(*queries.REVIEW_COLUMNS).where(
                ReviewRow.user_id == viewer.id, ReviewRow.movie_id.in_(keys)
            )
        )
        found = {row.movie_id: Review.from_row(row, viewer.id) for row in rows}
        return [found.get(k) for k in keys]


class ViewerVoteByReviewIdLoader(ContextLoader[int, bool | None]):
    """The viewer's vote on each review (None: no vote, or anonymous)."""

    async def batch_load_fn(self, keys: list[int]) -> list[bool | None]:
        viewer = await self.context.viewer()
        if viewer is None:
            return [None] * len(keys)
        rows = await self.context.db.fetch(queries.viewer_votes(viewer.id, keys))
        found = {row.review_id: row.is_helpful for row in rows}
        return [found.get(k) for k in keys]
