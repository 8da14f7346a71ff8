"""Catalog mutations: staff edits of movies and genres; the viewer's favorites and watchlist."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from db.catalog import actions
from db.errors import DomainError
from graph.auth import IsAuthenticated, IsStaff
from graph.catalog import tmdb
from graph.catalog.enums import CatalogErrorCode
from graph.catalog.inputs import (
    CreateGenreInput,
    CreateMovieInput,
    DeleteGenreInput,
    DeleteMovieInput,
    FavoriteInput,
    ImportMovieFromTmdbInput,
    RemoveFromWatchlistInput,
    SetWatchlistStatusInput,
    UpdateGenreInput,
    UpdateMovieInput,
)
from graph.catalog.loaders import MovieByIdLoader
from graph.catalog.types import (
    CatalogError,
    DeleteGenrePayload,
    DeleteMoviePayload,
    FavoritePayload,
    Genre,
    GenrePayload,
    Movie,
    MoviePayload,
    WatchlistEntry,
    WatchlistPayload,
)
from graph.context import Info
from graph.errors import payload_errors
from graph.relay import decode_id, to_global_id

# Input attribute -> action field, where the names differ.
_RENAMED = {"cast": "cast_members"}
_MOVIE_INPUT_FIELDS = (
    "title",
    "original_title",
    "tagline",
    "description",
    "release_date",
    "year",
    "country",
    "countries",
    "duration_minutes",
    "director",
    "cast",
    "age_rating",
    "budget",
    "box_office",
    "poster_url",
    "trailer_url",
    "tmdb_id",
    "popularity",
    "is_active",
)

MAX_INPUT_LIST = 50


def _errors(exc: DomainError) -> list[CatalogError]:
    return payload_errors(exc, CatalogError, CatalogErrorCode)


def _movie_data(source: CreateMovieInput | UpdateMovieInput) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in _MOVIE_INPUT_FIELDS:
        value = getattr(source, name)
        if value is strawberry.UNSET:
            continue
        data[_RENAMED.get(name, name)] = value
    genre_ids = source.genre_ids
    if genre_ids is not strawberry.UNSET:
        ids = genre_ids or []
        if len(ids) > MAX_INPUT_LIST:
            raise DomainError("VALIDATION_ERROR", f"At most {MAX_INPUT_LIST} genres.", "genreIds")
        data["genre_ids"] = [decode_id(g, "Genre", "genreIds") for g in ids]
    for name in ("countries", "cast"):
        value = data.get(_RENAMED.get(name, name))
        if isinstance(value, list) and len(value) > MAX_INPUT_LIST:
            raise DomainError("VALIDATION_ERROR", f"At most {MAX_INPUT_LIST} entries.", name)
    return data


async def _load_movie(info: Info, pk: int) -> Movie | None:
    info.context.reset_loaders()
    return await info.context.loader(MovieByIdLoader).load(pk)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Add a movie (staff).", permission_classes=[IsStaff])
    async def create_movie(
        self,
        info: Info,
        input: Annotated[CreateMovieInput, strawberry.argument(description="The new movie.")],
    ) -> MoviePayload:
        try:
            data = _movie_data(input)
            async with info.context.db.transaction() as session:
                movie = await actions.create_movie(session, data)
        except DomainError as exc:
            return MoviePayload(movie=None, errors=_errors(exc))
        return MoviePayload(movie=await _load_movie(info, movie.id), errors=[])

    @strawberry.mutation(
        description="Import a movie from TMDb by its TMDb ID, or update it from TMDb when the "
        "catalog has it already (staff). Needs the server's TMDb key: TMDB_NOT_CONFIGURED "
        "without one, NOT_FOUND when TMDb has no such movie, TMDB_UNAVAILABLE when TMDb cannot "
        "be reached or refuses the key.",
        permission_classes=[IsStaff],
    )
    async def import_movie_from_tmdb(
        self,
        info: Info,
        input: Annotated[
            ImportMovieFromTmdbInput, strawberry.argument(description="The TMDb movie.")
        ],
    ) -> MoviePayload:
        try:
            pk = await tmdb.import_movie(info, input.tmdb_id)
        except DomainError as exc:
            return MoviePayload(movie=None, errors=_errors(exc))
        return MoviePayload(movie=await _load_movie(info, pk), errors=[])

    @strawberry.mutation(description="Change a movie (staff).", permission_classes=[IsStaff])
    async def update_movie(
        self,
        info: Info,
        input: Annotated[
            UpdateMovieInput, strawberry.argument(description="The movie and the fields to change.")
        ],
    ) -> MoviePayload:
        try:
            pk = decode_id(input.id, "Movie")
            data = _movie_data(input)
            async with info.context.db.transaction() as session:
                await actions.update_movie(session, pk, data)
        except DomainError as exc:
            return MoviePayload(movie=None, errors=_errors(exc))
        return MoviePayload(movie=await _load_movie(info, pk), errors=[])

    @strawberry.mutation(
        description="Delete a movie (staff). A movie with showtimes is deactivated instead, "
        "and returned.",
        permission_classes=[IsStaff],
    )
    async def delete_movie(
        self,
        info: Info,
        input: Annotated[DeleteMovieInput, strawberry.argument(description="The movie to delete.")],
    ) -> DeleteMoviePayload:
        try:
            pk = decode_id(input.id, "Movie")
            async with info.context.db.transaction() as session:
                kept = await actions.delete_movie(session, pk)
        except DomainError as exc:
            return DeleteMoviePayload(deleted_movie_id=None, movie=None, errors=_errors(exc))
        if kept is not None:
            return DeleteMoviePayload(
                deleted_movie_id=None, movie=await _load_movie(info, pk), errors=[]
            )
        return DeleteMoviePayload(
            deleted_movie_id=strawberry.ID(to_global_id("Movie", pk)), movie=None, errors=[]
        )

    @strawberry.mutation(description="Add a genre (staff).", permission_classes=[IsStaff])
    async def create_genre(
        self,
        info: Info,
        input: Annotated[
            CreateGenreInput, strawberry.argument(description="The new genre's name.")
        ],
    ) -> GenrePayload:
        try:
            async with info.context.db.transaction() as session:
                genre = await actions.create_genre(session, input.name)
        except DomainError as exc:
            return GenrePayload(genre=None, errors=_errors(exc))
        return GenrePayload(genre=Genre.from_row(genre), errors=[])

    @strawberry.mutation(description="Rename a genre (staff).", permission_classes=[IsStaff])
    async def update_genre(
        self,
        info: Info,
        input: Annotated[
            UpdateGenreInput, strawberry.argument(description="The genre and its new name.")
        ],
    ) -> GenrePayload:
        try:
            pk = decode_id(input.id, "Genre")
            async with info.context.db.transaction() as session:
                genre = await actions.update_genre(session, pk, input.name)
        except DomainError as exc:
            return GenrePayload(genre=None, errors=_errors(exc))
        info.context.reset_loaders()
        return GenrePayload(genre=Genre.from_row(genre), errors=[])

    @strawberry.mutation(description="Delete a genre (staff).", permission_classes=[IsStaff])
    async def delete_genre(
        self,
        info: Info,
        input: Annotated[DeleteGenreInput, strawberry.argument(description="The genre to delete.")],
    ) -> DeleteGenrePayload:
        try:
            pk = decode_id(input.id, "Genre")
            async with info.context.db.transaction() as session:
                await actions.delete_genre(session, pk)
        except DomainError as exc:
            return DeleteGenrePayload(deleted_genre_id=None, errors=_errors(exc))
        info.context.reset_loaders()
        return DeleteGenrePayload(
            deleted_genre_id=strawberry.ID(to_global_id("Genre", pk)), errors=[]
        )

    @strawberry.mutation(
        description="Mark a movie as a favorite (idempotent).",
        permission_classes=[IsAuthenticated],
    )
    async def add_favorite(
        self,
        info: Info,
        input: Annotated[
            FavoriteInput, strawberry.argument(description="The movie to mark as a favorite.")
        ],
    ) -> FavoritePayload:
        return await _favorite(info, input, add=True)

    @strawberry.mutation(
        description="Unmark a favorite (idempotent).", permission_classes=[IsAuthenticated]
    )
    async def remove_favorite(
        self,
        info: Info,
        input: Annotated[FavoriteInput, strawberry.argument(description="The movie to unmark.")],
    ) -> FavoritePayload:
        return await _favorite(info, input, add=False)

    @strawberry.mutation(
        description="Put a movie on the watchlist or change its status (idempotent).",
        permission_classes=[IsAuthenticated],
    )
    async def set_watchlist_status(
        self,
        info: Info,
        input: Annotated[
            SetWatchlistStatusInput,
            strawberry.argument(description="The movie and its watchlist status."),
        ],
    ) -> WatchlistPayload:
        viewer = await info.context.require_viewer()
        try:
            pk = decode_id(input.movie_id, "Movie", "movieId")
            async with info.context.db.transaction() as session:
                await actions.set_watchlist_status(session, viewer.id, pk, input.status)
                entry = await actions.watchlist_entry(session, viewer.id, pk)
        except DomainError as exc:
            return WatchlistPayload(movie=None, entry=None, errors=_errors(exc))
        return WatchlistPayload(
            movie=await _load_movie(info, pk),
            entry=WatchlistEntry.from_row(entry) if entry is not None else None,
            errors=[],
        )

    @strawberry.mutation(
        description="Take a movie off the watchlist (idempotent).",
        permission_classes=[IsAuthenticated],
    )
    async def remove_from_watchlist(
        self,
        info: Info,
        input: Annotated[
            RemoveFromWatchlistInput,
            strawberry.argument(description="The movie to take off the watchlist."),
        ],
    ) -> WatchlistPayload:
        viewer = await info.context.require_viewer()
        try:
            pk = decode_id(input.movie_id, "Movie", "movieId")
            async with info.context.db.transaction() as session:
                await actions.remove_from_watchlist(session, viewer.id, pk)
        except DomainError as exc:
            return WatchlistPayload(movie=None, entry=None, errors=_errors(exc))
        return WatchlistPayload(movie=await _load_movie(info, pk), entry=None, errors=[])


async def _favorite(info: Info, input: FavoriteInput, *, add: bool) -> FavoritePayload:
    viewer = await info.context.require_viewer()
    try:
        pk = decode_id(input.movie_id, "Movie", "movieId")
        async with info.context.db.transaction() as session:
            if add:
                await actions.add_favorite(session, viewer.id, pk)
            else:
                await actions.remove_favorite(session, viewer.id, pk)
    except DomainError as exc:
        return FavoritePayload(movie=None, errors=_errors(exc))
    return FavoritePayload(movie=await _load_movie(info, pk), errors=[])
