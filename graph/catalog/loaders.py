"""Loaders of the catalog domain: movies, genres and the viewer's flags, batched per request."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from db.catalog import queries
from db.catalog.codes import WatchlistStatus
from db.catalog.models import Favorite
from db.catalog.models import Genre as GenreRow
from db.catalog.models import WatchlistEntry as WatchlistRow
from graph.catalog.types import Genre, Movie
from graph.loaders import ContextLoader


class MovieByIdLoader(ContextLoader[int, Movie | None]):
    """Movies by id, inactive ones included (showtimes and tickets still point at them)."""

    async def batch_load_fn(self, keys: list[int]) -> list[Movie | None]:
        rows = await self.context.db.fetch(queries.movies_by_ids(keys))
        found = {row.id: Movie.from_row(row) for row in rows}
        return [found.get(k) for k in keys]

    def prime_many(self, movies: list[Movie]) -> None:
        for movie in movies:
            self.prime(movie.pk, movie)


class GenreByIdLoader(ContextLoader[int, Genre | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[Genre | None]:
        rows = await self.context.db.fetch(
            select(*queries.GENRE_COLUMNS).where(GenreRow.id.in_(keys))
        )
        found = {row.id: Genre.from_row(row) for row in rows}
        return [found.get(k) for k in keys]


class GenresByMovieIdLoader(ContextLoader[int, list[Genre]]):
    """A movie's genres, sorted by name."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[Genre]]:
        rows = await self.context.db.fetch(queries.genres_by_movie_ids(keys))
        found: dict[int, list[Genre]] = defaultdict(list)
        for row in rows:
            found[row.movie_id].append(Genre.from_row(row))
        return [found.get(k, []) for k in keys]


class ViewerFavoriteByMovieIdLoader(ContextLoader[int, bool]):
    """Whether the viewer favorited each movie (False for anonymous requests, no query)."""

    async def batch_load_fn(self, keys: list[int]) -> list[bool]:
        viewer = await self.context.viewer()
        if viewer is None:
            return [False] * len(keys)
        rows = await self.context.db.fetch(
            select(Favorite.movie_id).where(
                Favorite.user_id == viewer.id, Favorite.movie_id.in_(keys)
            )
        )
        found = {row.movie_id for row in rows}
        return [k in found for k in keys]


class ViewerWatchlistStatusByMovieIdLoader(ContextLoader[int, WatchlistStatus | None]):
    """The viewer's watchlist status of each movie (None when not listed or anonymous)."""

    async def batch_load_fn(self, keys: list[int]) -> list[WatchlistStatus | None]:
        viewer = await self.context.viewer()
        if viewer is None:
            return [None] * len(keys)
        rows = await self.context.db.fetch(
            select(WatchlistRow.movie_id, WatchlistRow.status).where(
                WatchlistRow.user_id == viewer.id, WatchlistRow.movie_id.in_(keys)
            )
        )
        found = {row.movie_id: WatchlistStatus(row.status) for row in rows}
        return [found.get(k) for k in keys]


class SimilarMoviesByMovieIdLoader(ContextLoader[tuple[int, int], list[Movie]]):
    """ "More like this" by (movie id, how many): one query per distinct size."""

    async def batch_load_fn(self, keys: list[tuple[int, int]]) -> list[list[Movie]]:
        by_limit: dict[int, list[int]] = defaultdict(list)
        for movie_id, limit in keys:
            by_limit[limit].append(movie_id)
        found: dict[tuple[int, int], list[Movie]] = defaultdict(list)
        movie_loader = self.context.loader(MovieByIdLoader)
        for limit, ids in by_limit.items():
            if limit <= 0:
                continue
            for row in await self.context.db.fetch(queries.similar_movies(ids, limit)):
                movie = Movie.from_row(row)
                movie_loader.prime(movie.pk, movie)
                found[(row.source_id, limit)].append(movie)
        return [found.get(k, []) for k in keys]
