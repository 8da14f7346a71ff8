"""Look-ahead for movie lists: load the relations the query selects (genres, a page of
reviews, their authors) right after the page of movies, and attach them to the objects.

Nested fields then resolve synchronously instead of each returning a loader Future that
graphql-core must await and gather (measured on the movie page: most of the request's CPU
went into awaiting ~100 such Futures). The statements are the same loader batches, so the
count stays independent of the page size; a field that was not prefetched (an unusual
argument combination, fragments on other types) still goes through its loader.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types.nodes import SelectedField

from db.reviews.codes import ReviewSort
from graph.accounts.loaders import UserByIdLoader
from graph.catalog.loaders import GenresByMovieIdLoader
from graph.catalog.types import CARD_FIELDS, Genre, Movie
from graph.context import Info
from graph.loaders import NOT_LOADED
from graph.lookahead import fields
from graph.pagination import PageArgs
from graph.relay import to_global_id
from graph.reviews.loaders import ReviewsByMovieIdLoader
from graph.reviews.types import REVIEW_CARD_FIELDS, Review


def _children(parents: Iterable[SelectedField], name: str) -> list[SelectedField]:
    return [child for f in parents for child in fields(f.selections) if child.name == name]


def connection_nodes(field: SelectedField) -> list[SelectedField]:
    """The fields selected on `edges { node { ... } }` of a connection field."""
    nodes = _children(_children([field], "edges"), "node")
    return [f for node in nodes for f in fields(node.selections)]


def review_page_key(arguments: dict[str, Any]) -> tuple[ReviewSort, int, int] | None:
    """(sort, offset, limit) as Movie.reviews computes it; None if the arguments are bad
    (the field itself then reports the error)."""
    try:
        sort = ReviewSort(arguments.get("sort") or ReviewSort.NEWEST)
        first = arguments.get("first")
        # Literal arguments arrive as their source text ("3"); variables arrive typed.
        page = PageArgs(first=None if first is None else int(first), after=arguments.get("after"))
        offset, limit = page.window()
    except (TypeError, ValueError, GraphQLError):
        return None
    return sort, offset, limit


async def prefetch_movies(info: Info, field: SelectedField, movies: Sequence[Movie]) -> None:
    if not movies:
        return
    node_fields = connection_nodes(field)
    jobs: list[Awaitable[None]] = []
    if any(f.name == "genres" for f in node_fields) and any(
        m.prefetched_genres is None for m in movies
    ):
        jobs.append(_genres(info, movies))
    reviews = [f for f in node_fields if f.name == "reviews"]
    keys = {review_page_key(f.arguments) for f in reviews}
    if len(keys) == 1 and (key := keys.pop()) is not None:
        jobs.append(_reviews(info, movies, key, reviews))
    await asyncio.gather(*jobs)


def card_review_page(nodes: Iterable[SelectedField]) -> tuple[ReviewSort, int, int] | None:
    """The review page (sort, offset, limit) when a movie list's nodes select `reviews` with
    one page whose nodes ask only for REVIEW_CARD_FIELDS: what the list's own statement can
    read (`reviews` of db list_movies), else None."""
    reviews = [f for f in nodes if f.name == "reviews"]
    keys = {review_page_key(f.arguments) for f in reviews}
    if len(keys) != 1 or (key := keys.pop()) is None:
        return None
    review_nodes = [f for field in reviews for f in connection_nodes(field)]
    return key if all(f.name in REVIEW_CARD_FIELDS for f in review_nodes) else None


def card_only(nodes: Iterable[SelectedField]) -> bool:
    """Whether a movie connection's node fields (`connection_nodes`) are all CARD_FIELDS
    (so card rows do)."""
    return all(f.name in CARD_FIELDS for f in nodes)


def selects_genres(nodes: Iterable[SelectedField]) -> bool:
    """Whether a connection's node fields (`connection_nodes`) include `genres`."""
    return any(f.name == "genres" for f in nodes)


def attach_genres(info: Info, movies: Sequence[Movie], rows: Sequence[Any]) -> None:
    """Genres that came with the page rows (`genre_ids`, `genre_names`): attach them and
    prime GenresByMovieIdLoader, so no statement of their own is needed."""
    loader = info.context.loader(GenresByMovieIdLoader)
    for movie, row in zip(movies, rows, strict=True):
        m = row._mapping
        genres = [
            _GENRES.get((pk, name)) or _genre(pk, name)
            for pk, name in zip(m["genre_ids"] or (), m["genre_names"] or (), strict=True)
        ]
        movie.prefetched_genres = genres
        loader.prime(movie.pk, genres)


# Genre objects by (id, name), shared by requests: a genre has no per-request state, and a
# page of 20 movies names about 60 genres out of a few dozen (0.5 µs each to build, 0.05
# to look up).
_GENRES: dict[tuple[int, str], Genre] = {}


def _genre(pk: int, name: str) -> Genre:
    if len(_GENRES) >= 4096:
        _GENRES.clear()
    made = _GENRES[(pk, name)] = Genre(
        id=strawberry.ID(to_global_id("Genre", pk)), pk=pk, name=name
    )
    return made


async def _genres(info: Info, movies: Sequence[Movie]) -> None:
    loader = info.context.loader(GenresByMovieIdLoader)
    for movie, genres in zip(movies, await loader.load_many([m.pk for m in movies]), strict=True):
        movie.prefetched_genres = genres


async def _reviews(
    info: Info,
    movies: Sequence[Movie],
    key: tuple[ReviewSort, int, int],
    fields: list[SelectedField],
) -> None:
    loader = info.context.loader(ReviewsByMovieIdLoader)
    # Cards when every `reviews` selection asks its nodes for nothing more.
    nodes = [f for field in fields for f in connection_nodes(field)]
    card = all(f.name in REVIEW_CARD_FIELDS for f in nodes)
    pages = await loader.load_many([(m.pk, *key, card) for m in movies])
    for movie, page in zip(movies, pages, strict=True):
        movie.prefetched_reviews = (key, page)
    if any(f.name == "author" for f in nodes):
        await prefetch_authors(info, [e.node for page in pages for e in page.edges])


async def prefetch_authors(info: Info, reviews: Sequence[Review]) -> None:
    shown = [r for r in reviews if not r.is_anonymous or r.is_mine]
    loader = info.context.loader(UserByIdLoader)
    # A page of reviews primes its authors (graph/reviews/loaders.py): taken as they are,
    # without a future per review for asyncio to gather.
    users: list[Any] = [loader.loaded(r.user_pk) for r in shown]
    if any(u is NOT_LOADED for u in users):
        users = await loader.load_many([r.user_pk for r in shown])
    for review in reviews:
        review.author_prefetched = True
    for review, user in zip(shown, users, strict=True):
        review.prefetched_author = user
