"""Inputs of the catalog domain."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry

from graph.catalog.enums import WatchlistStatus


@strawberry.input(description="Narrows the movie list; all given conditions must hold.")
class MovieFilter:
    search: str | None = strawberry.field(
        default=None,
        description="Words in the title, original title or description; tolerant of case, "
        "accents and small typos.",
    )
    genre_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Movies having any of these genres."
    )
    year_from: int | None = strawberry.field(default=None, description="Released in or after.")
    year_to: int | None = strawberry.field(default=None, description="Released in or before.")
    country: str | None = strawberry.field(
        default=None, description="Production country (case-insensitive), e.g. France."
    )
    age_rating: str | None = strawberry.field(
        default=None, description="Exact age rating, e.g. PG-13."
    )
    now_showing: bool | None = strawberry.field(
        default=None,
        description="True: with a scheduled showtime in the coming week (not ended); "
        "false: without.",
    )
    coming_soon: bool | None = strawberry.field(
        default=None,
        description="True: not showing yet, but released later or scheduled beyond the coming "
        "week; false: the others.",
    )
    include_inactive: bool = strawberry.field(
        default=False, description="Staff only: include withdrawn movies."
    )


@strawberry.input(description="A new movie (staff).")
class CreateMovieInput:
    title: str = strawberry.field(description="Title, 1 to 300 characters.")
    original_title: str | None = strawberry.field(default=None, description="Original title.")
    tagline: str | None = strawberry.field(default=None, description="Tagline.")
    description: str | None = strawberry.field(default=None, description="Plot overview.")
    release_date: date | None = strawberry.field(default=None, description="Release date.")
    year: int | None = strawberry.field(
        default=None, description="Release year (taken from releaseDate when omitted)."
    )
    country: str | None = strawberry.field(
        default=None, description="Main country (the first of countries when omitted)."
    )
    countries: list[str] | None = strawberry.field(default=None, description="Countries.")
    duration_minutes: int | None = strawberry.field(
        default=None, description="Running time, 1 to 1000 minutes."
    )
    director: str | None = strawberry.field(default=None, description="Director(s).")
    cast: list[str] | None = strawberry.field(default=None, description="Top-billed cast.")
    age_rating: str | None = strawberry.field(default=None, description="Age rating.")
    budget: Decimal | None = strawberry.field(default=None, description="Budget in USD.")
    box_office: Decimal | None = strawberry.field(default=None, description="Box office, USD.")
    poster_url: str | None = strawberry.field(default=None, description="Poster URL.")
    trailer_url: str | None = strawberry.field(default=None, description="Trailer URL.")
    genre_ids: list[strawberry.ID] | None = strawberry.field(default=None, description="Genres.")
    tmdb_id: int | None = strawberry.field(default=None, description="TMDb ID.")
    popularity: float | None = strawberry.field(default=None, description="Popularity score.")
    is_active: bool | None = strawberry.field(default=True, description="Listed in the catalog.")


@strawberry.input(description="Changes to a movie (staff); omitted fields stay as they are.")
class UpdateMovieInput:
    id: strawberry.ID = strawberry.field(description="The movie.")
    title: str | None = strawberry.field(default=strawberry.UNSET, description="Title.")
    original_title: str | None = strawberry.field(
        default=strawberry.UNSET, description="Original title."
    )
    tagline: str | None = strawberry.field(default=strawberry.UNSET, description="Tagline.")
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="Plot overview."
    )
    release_date: date | None = strawberry.field(
        default=strawberry.UNSET, description="Release date."
    )
    year: int | None = strawberry.field(default=strawberry.UNSET, description="Release year.")
    country: str | None = strawberry.field(default=strawberry.UNSET, description="Main country.")
    countries: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Countries."
    )
    duration_minutes: int | None = strawberry.field(
        default=strawberry.UNSET, description="Running time in minutes."
    )
    director: str | None = strawberry.field(default=strawberry.UNSET, description="Director.")
    cast: list[str] | None = strawberry.field(default=strawberry.UNSET, description="Cast.")
    age_rating: str | None = strawberry.field(default=strawberry.UNSET, description="Age rating.")
    budget: Decimal | None = strawberry.field(default=strawberry.UNSET, description="Budget.")
    box_office: Decimal | None = strawberry.field(
        default=strawberry.UNSET, description="Box office."
    )
    poster_url: str | None = strawberry.field(default=strawberry.UNSET, description="Poster URL.")
    trailer_url: str | None = strawberry.field(default=strawberry.UNSET, description="Trailer URL.")
    genre_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Genres (replaces the current ones)."
    )
    tmdb_id: int | None = strawberry.field(default=strawberry.UNSET, description="TMDb ID.")
    popularity: float | None = strawberry.field(
        default=strawberry.UNSET, description="Popularity score."
    )
    is_active: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Listed in the catalog."
    )


@strawberry.input(description="Delete a movie (staff); one with showtimes is deactivated.")
class DeleteMovieInput:
    id: strawberry.ID = strawberry.field(description="The movie.")


@strawberry.input(description="A movie to import from TMDb (staff).")
class ImportMovieFromTmdbInput:
    tmdb_id: int = strawberry.field(description="The movie's TMDb ID (see searchTmdb).")


@strawberry.input(description="A new genre (staff).")
class CreateGenreInput:
    name: str = strawberry.field(description="Unique name, 1 to 100 characters.")


@strawberry.input(description="Rename a genre (staff).")
class UpdateGenreInput:
    id: strawberry.ID = strawberry.field(description="The genre.")
    name: str = strawberry.field(description="New unique name.")


@strawberry.input(description="Delete a genre (staff); movies lose it.")
class DeleteGenreInput:
    id: strawberry.ID = strawberry.field(description="The genre.")


@strawberry.input(description="A movie to add to or remove from the viewer's favorites.")
class FavoriteInput:
    movie_id: strawberry.ID = strawberry.field(description="The movie.")


@strawberry.input(description="Put a movie on the viewer's watchlist with a status.")
class SetWatchlistStatusInput:
    movie_id: strawberry.ID = strawberry.field(description="The movie.")
    status: WatchlistStatus = strawberry.field(description="The new status.")


@strawberry.input(description="Take a movie off the viewer's watchlist.")
class RemoveFromWatchlistInput:
    movie_id: strawberry.ID = strawberry.field(description="The movie.")
