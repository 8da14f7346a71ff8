"""Loaders of the catalog domain: movies, genres and the viewer's flags, batched per request.

The types' resolvers use these loaders and these loaders build the types, so the two modules
import each other as modules (`catalog_types.Movie`), reading names only when a batch runs:
either can be imported first.
"""

from __future__ import annotations

from collections import defaultdict

from db.catalog import queries
from db.catalog.codes import WatchlistStatus
from graph.catalog import types as catalog_types
from graph.loaders import ContextLoader, replica_rows_by_ids


class MovieByIdLoader(ContextLoader[int, "catalog_types.Movie | None"]):
    """Movies by id, inactive ones included (showtimes and tickets still point at them)."""

    async def batch_load_fn(self, keys: list[int]) -> list[catalog_types.Movie | None]:
        from_row = catalog_types.Movie.from_row
        rows = await replica_rows_by_ids(self.context, queries.movies_by_ids, keys)
        found = {row.id: from_row(row) for row in rows}
        return [found.get(k) for k in keys]

    def prime_many(self, movies: list[catalog_types.Movie]) -> None:
        for movie in movies:
            self.prime(movie.pk, movie)


class GenreByIdLoader(ContextLoader[int, "catalog_types.Genre | None"]):
    async def batch_load_fn(self, keys: list[int]) -> list[catalog_types.Genre | None]:
        from_row = catalog_types.Genre.from_row
        rows = await replica_rows_by_ids(self.context, queries.genres_by_ids, keys)
        found = {row.id: from_row(row) for row in rows}
        return [found.get(k) for k in keys]


class GenresByMovieIdLoader(ContextLoader[int, "list[catalog_types.Genre]"]):
    """A movie's genres, sorted by name."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[catalog_types.Genre]]:
        from_row = catalog_types.Genre.from_row
        rows = await queries.genres_by_movie_ids(self.context.read_db, keys)
        found: dict[int, list[catalog_types.Genre]] = defaultdict(list)
        for row in rows:
            found[row.movie_id].append(from_row(row))
        return [found.get(k, []) for k in keys]


class ViewerFavoriteByMovieIdLoader(ContextLoader[int, bool]):
    """Whether the viewer favorited each movie (False for anonymous requests, no query)."""

    async def batch_load_fn(self, keys: list[int]) -> list[bool]:
        viewer = await self.context.viewer()
        if viewer is None:
            return [False] * len(keys)
        found = await queries.favorite_movie_ids(self.context.db, viewer.id, keys)
        return [k in found for k in keys]


class ViewerWatchlistStatusByMovieIdLoader(ContextLoader[int, WatchlistStatus | None]):
    """The viewer's watchlist status of each movie (None when not listed or anonymous)."""

    async def batch_load_fn(self, keys: list[int]) -> list[WatchlistStatus | None]:
        viewer = await self.context.viewer()
        if viewer is None:
            return [None] * len(keys)
        found = await queries.watchlist_statuses(self.context.db, viewer.id, keys)
        return [found.get(k) for k in keys]


class SimilarMoviesByMovieIdLoader(ContextLoader[tuple[int, int], "list[catalog_types.Movie]"]):
    """ "More like this" by (movie id, how many): one query per distinct size."""

    async def batch_load_fn(self, keys: list[tuple[int, int]]) -> list[list[catalog_types.Movie]]:
        by_limit: dict[int, list[int]] = defaultdict(list)
        for movie_id, limit in keys:
            by_limit[limit].append(movie_id)
        found: dict[tuple[int, int], list[catalog_types.Movie]] = defaultdict(list)
        movie_loader = self.context.loader(MovieByIdLoader)
        for limit, ids in by_limit.items():
            if limit <= 0:
                continue
            for row in await queries.similar_movies(self.context.read_db, ids, limit):
                movie = catalog_types.Movie.from_row(row)
                movie_loader.prime(movie.pk, movie)
                found[(row.source_id, limit)].append(movie)
        return [found.get(k, []) for k in keys]
