"""Catalog queries: movies (filtered, sorted, paged), movie, genres; the viewer's lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import strawberry
from strawberry.types.nodes import SelectedField

from db.catalog import queries as q
from db.reviews.queries import ReviewCards
from graph.auth import IsStaff
from graph.catalog import tmdb
from graph.catalog.enums import MovieSort, WatchlistStatus
from graph.catalog.inputs import MovieFilter
from graph.catalog.loaders import GenreByIdLoader, MovieByIdLoader
from graph.catalog.prefetch import (
    attach_genres,
    card_only,
    card_review_page,
    connection_nodes,
    prefetch_movies,
    selects_genres,
)
from graph.catalog.types import Genre, Movie, WatchlistEntry
from graph.context import Info
from graph.errors import bad_input, search_text
from graph.limits import list_size
from graph.pagination import Connection, PageArgs, build_connection, paginate
from graph.relay import query_id, register_node
from graph.reviews.loaders import prime_review_cards

MAX_FILTER_IDS = 50


async def _movies_by_ids(info: Info, pks: list[int]) -> list[Movie | None]:
    return list(await info.context.loader(MovieByIdLoader).load_many(pks))


async def _genres_by_ids(info: Info, pks: list[int]) -> list[Genre | None]:
    return list(await info.context.loader(GenreByIdLoader).load_many(pks))


register_node("Movie", _movies_by_ids)
register_node("Genre", _genres_by_ids)


def _movie_filter(f: MovieFilter | None, is_staff: bool) -> q.MovieFilter:
    if f is None:
        return q.MovieFilter()
    search_text(f.search)
    genre_ids = f.genre_ids or []
    if len(genre_ids) > MAX_FILTER_IDS:
        raise bad_input(f"At most {MAX_FILTER_IDS} genres.", "genreIds")
    for name, year in (("yearFrom", f.year_from), ("yearTo", f.year_to)):
        if year is not None and not 1800 <= year <= 2200:
            raise bad_input("The year must be between 1800 and 2200.", name)
    for name, value in (("country", f.country), ("ageRating", f.age_rating)):
        if value is not None and len(value) > 100:
            raise bad_input("At most 100 characters.", name)
    return q.MovieFilter(
        search=f.search,
        genre_ids=tuple(query_id(g, "Genre", "genreIds") for g in genre_ids),
        year_from=f.year_from,
        year_to=f.year_to,
        country=f.country,
        age_rating=f.age_rating,
        include_inactive=f.include_inactive and is_staff,
        now_showing=f.now_showing,
        coming_soon=f.coming_soon,
    )


def _movies(rows: Sequence[Any], info: Info) -> list[Movie]:
    movies = [Movie.from_row(row) for row in rows]
    info.context.loader(MovieByIdLoader).prime_many(movies)
    return movies


async def viewer_favorites(
    info: Info, user_pk: int, first: int | None, after: str | None
) -> Connection[Movie]:
    """`me.favorites`: most recently added first."""
    args = PageArgs(first=first, after=after)
    db = info.context.db

    async def count() -> int:
        return await q.count_favorites(db, user_pk)

    async def fetch(offset: int, limit: int) -> list[Movie]:
        return _movies(await q.favorite_movies(db, user_pk, offset, limit), info)

    connection = await paginate(args, count, fetch)
    await _prefetch(info, [e.node for e in connection.edges])
    return connection


async def _prefetch(info: Info, movies: list[Movie], field: Any = None) -> None:
    """Look ahead for this movie connection field (`field`: its selection, when the
    resolver has it already; strawberry builds `selected_fields` afresh on each call)."""
    field = field or info.selected_fields[0]
    if isinstance(field, SelectedField):
        await prefetch_movies(info, field, movies)


async def viewer_watchlist(
    info: Info,
    user_pk: int,
    status: WatchlistStatus | None,
    first: int | None,
    after: str | None,
) -> Connection[WatchlistEntry]:
    """`me.watchlist`: most recently changed first; movies primed into MovieByIdLoader."""
    args = PageArgs(first=first, after=after)
    db = info.context.db

    async def count() -> int:
        return await q.count_watchlist(db, user_pk, status)

    async def fetch(offset: int, limit: int) -> list[WatchlistEntry]:
        rows = await q.watchlist_movies(db, user_pk, status, offset, limit)
        _movies(rows, info)
        return [
            WatchlistEntry(
                movie_pk=row.movie_id,
                status=WatchlistStatus(row.status),
                added_at=row.entry_created_at,
                updated_at=row.entry_updated_at,
            )
            for row in rows
        ]

    return await paginate(args, count, fetch)


@strawberry.type
class Query:
    @strawberry.field(description="The movie catalog: filtered, sorted and paged.")
    async def movies(
        self,
        info: Info,
        filter: Annotated[
            MovieFilter | None, strawberry.argument(description="Conditions.")
        ] = None,
        sort: Annotated[MovieSort, strawberry.argument(description="Order.")] = (
            MovieSort.POPULARITY
        ),
        first: Annotated[int | None, strawberry.argument(description="Page size (<= 100).")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
        last: Annotated[int | None, strawberry.argument(description="Page size (end).")] = None,
        before: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
    ) -> Connection[Movie]:
        args = PageArgs(first=first, after=after, last=last, before=before)
        viewer = await info.context.viewer() if filter and filter.include_inactive else None
        f = _movie_filter(filter, bool(viewer and viewer.is_staff))
        db = info.context.read_db  # the catalog may be a moment old (docs/scaling.md)
        field = info.selected_fields[0]

        async def count() -> int:
            return await q.count_movies(db, f)

        async def fetch(offset: int, limit: int) -> list[Movie]:
            return _movies(await q.list_movies(db, f, sort, offset, limit), info)

        if args.needs_total:  # `last` without `before` counts from the end
            connection = await paginate(args, count, fetch)
        else:
            # The page rows carry the list's total (a window count): one statement, and a
            # separate count only when the page is empty.
            offset, limit = args.window()
            nodes = connection_nodes(field) if isinstance(field, SelectedField) else None
            genres = nodes is not None and selects_genres(nodes)
            # Card rows when the nodes ask for nothing more; they are not primed into
            # MovieByIdLoader (another field of the request may want a whole movie).
            card = nodes is not None and card_only(nodes)
            # A page of card reviews per movie: read by the same statement.
            page = card_review_page(nodes) if nodes is not None else None
            reviews = None
            if page is not None:
                viewer = await info.context.viewer()
                staff = bool(viewer and viewer.is_staff)
                reviews = ReviewCards(*page, viewer.id if viewer else None, staff)
            rows: Sequence[Any] = (
                await q.list_movies(
                    db, f, sort, offset, limit, with_genres=genres, card=card, reviews=reviews
                )
                if limit
                else []
            )
            total = rows[0].total_count if rows else await count()
            movies = [Movie.from_card_row(row) for row in rows] if card else _movies(rows, info)
            if genres:
                attach_genres(info, movies, rows)
            if reviews is not None:
                prime_review_cards(info.context, rows, reviews, viewer)
            connection = build_connection(movies, offset, total)
        await _prefetch(info, [e.node for e in connection.edges], field)
        return connection

    @strawberry.field(description="A movie by ID (withdrawn movies included), or null.")
    async def movie(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The movie's global ID.")],
    ) -> Movie | None:
        return await info.context.loader(MovieByIdLoader).load(query_id(id, "Movie"))

    @strawberry.field(
        description="All genres, by name; with `search`, those whose name contains the text.",
        metadata=list_size(200),
    )
    async def genres(
        self,
        info: Info,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Part of a genre name, ignoring case and accents (at most 200 "
                "characters; blank matches every genre)."
            ),
        ] = None,
    ) -> list[Genre]:
        search_text(search)
        return [Genre.from_row(row) for row in await q.all_genres(info.context.read_db, search)]

    @strawberry.field(
        description="Movies on TMDb matching the text (at most 20), each with the catalog's "
        "movie when it was imported already (staff). Errors: TMDB_NOT_CONFIGURED, "
        "TMDB_UNAVAILABLE.",
        permission_classes=[IsStaff],
        metadata=list_size(tmdb.MAX_CANDIDATES),
    )
    async def search_tmdb(
        self,
        info: Info,
        query: Annotated[str, strawberry.argument(description="Title text, 1 to 200 characters.")],
    ) -> list[tmdb.TmdbCandidate]:
        return await tmdb.search(info, query)
