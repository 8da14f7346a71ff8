"""GraphQL types of the catalog domain: Movie, Genre, watchlist entries, payloads.

Relations resolve through loaders, which build these types: the loader modules are imported
as modules and read when a field resolves (see graph/catalog/loaders.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry

from graph.catalog import loaders as catalog_loaders
from graph.catalog.enums import CatalogErrorCode, WatchlistStatus
from graph.catalog.loader_futures import deferred
from graph.context import Info
from graph.execution import NOT_READY, ready_value
from graph.pagination import Connection, PageArgs
from graph.relay import Node, to_global_id
from graph.reviews import loaders as review_loaders
from graph.reviews.enums import ReviewSort
from graph.scalars import Money
from graph.showtimes import loaders as showtime_loaders

if TYPE_CHECKING:
    from graph.reviews.types import Review
    from graph.showtimes.inputs import ShowtimeFilter
    from graph.showtimes.types import Showtime

BUDGET_CURRENCY = "USD"


def _money(amount: Decimal | None) -> Money | None:
    return None if amount is None else Money(amount=amount, currency=BUDGET_CURRENCY)


# What Movie.genres and Movie.reviews return without running when a look-ahead loaded it
# (graph/catalog/prefetch.py): the execution fast path reads these (graph/execution.py).


def _ready_genres(movie: Movie, args: Mapping[str, Any]) -> Any:
    genres = movie.prefetched_genres
    return NOT_READY if genres is None else genres


def _ready_reviews(movie: Movie, args: Mapping[str, Any]) -> Any:
    pre = movie.prefetched_reviews
    if pre is None:
        return NOT_READY
    offset, limit = PageArgs(first=args.get("first"), after=args.get("after")).window()
    return pre[1] if pre[0] == (args.get("sort"), offset, limit) else NOT_READY


@strawberry.type(description="A film genre.")
class Genre(Node):
    pk: strawberry.Private[int]
    name: str = strawberry.field(description="Unique genre name, e.g. Drama.")

    @classmethod
    def from_row(cls, row: Any) -> Genre:
        return cls(id=strawberry.ID(to_global_id("Genre", row.id)), pk=row.id, name=row.name)


# The Movie fields a list can answer from a card row (db MOVIE_CARD_COLUMNS): plain fields
# read from those columns, and fields that need only the movie's id (loaders, look-ahead).
# A list whose nodes select only these reads card rows (graph/catalog/queries.py); any other
# field, a new one included, makes it read whole rows. tests/catalog/test_movie_cards.py
# checks each name against the schema and each plain field against a whole row.
CARD_FIELDS = frozenset(
    {
        "__typename",
        "id",
        "tmdbId",
        "title",
        "originalTitle",
        "releaseDate",
        "year",
        "durationMinutes",
        "ageRating",
        "posterUrl",
        "isActive",
        "popularity",
        "averageRating",
        "reviewCount",
        "genres",
        "reviews",
        "showtimes",
        "isFavorite",
        "watchlistStatus",
        "viewerReview",
        "similar",
    }
)
# What a card Movie holds for the fields it has no column for: never read, since a list
# reads card rows only when its selection stays within CARD_FIELDS.
_NOT_IN_CARD: dict[str, Any] = dict.fromkeys(
    (
        "tagline",
        "description",
        "country",
        "countries",
        "director",
        "cast",
        "budget",
        "box_office",
        "trailer_url",
        "created_at",
        "updated_at",
    )
)


@strawberry.type(description="A film in the catalog.")
class Movie(Node):
    pk: strawberry.Private[int]
    tmdb_id: int | None = strawberry.field(description="The Movie Database (TMDb) ID, if known.")
    title: str = strawberry.field(description="Title (as released in English).")
    original_title: str | None = strawberry.field(description="Title in the original language.")
    tagline: str | None = strawberry.field(description="One-line tagline.")
    description: str | None = strawberry.field(description="Plot overview.")
    release_date: date | None = strawberry.field(description="First release date.")
    year: int | None = strawberry.field(description="Release year.")
    country: str | None = strawberry.field(description="Main production country.")
    countries: list[str] = strawberry.field(description="All production countries.")
    duration_minutes: int | None = strawberry.field(description="Running time in minutes.")
    director: str | None = strawberry.field(description="Director(s).")
    cast: list[str] = strawberry.field(description="Top-billed cast, in billing order.")
    age_rating: str | None = strawberry.field(description="Age rating, e.g. PG-13 or 16+.")
    budget: Money | None = strawberry.field(description="Production budget (USD).")
    box_office: Money | None = strawberry.field(description="Worldwide box office (USD).")
    poster_url: str | None = strawberry.field(description="Poster image URL.")
    trailer_url: str | None = strawberry.field(description="Trailer video URL.")
    is_active: bool = strawberry.field(description="False once withdrawn from the catalog.")
    popularity: float = strawberry.field(
        description=(
            "All-time popularity score (higher is more popular): activity on the movie, "
            "recomputed periodically (see the POPULARITY sort)."
        )
    )
    average_rating: float | None = strawberry.field(
        description="Average rating (1-10) of published reviews; null when there are none."
    )
    review_count: int = strawberry.field(description="Number of published reviews.")
    created_at: datetime = strawberry.field(description="When the movie was added.")
    updated_at: datetime = strawberry.field(description="When the movie was last changed.")
    # Filled by graph/catalog/prefetch.py when a list query looks ahead.
    prefetched_genres: strawberry.Private[list[Genre] | None] = None
    prefetched_reviews: strawberry.Private[tuple[Any, Connection[Review]] | None] = None

    @classmethod
    def from_row(cls, row: Any) -> Movie:
        m = row._mapping  # by name: much faster than attributes (db/session.py, Record)
        return cls._from_card(
            m,
            tagline=m["tagline"],
            description=m["description"],
            country=m["country"],
            countries=list(m["countries"]),
            director=m["director"],
            cast=list(m["cast_members"]),
            budget=_money(m["budget"]),
            box_office=_money(m["box_office"]),
            trailer_url=m["trailer_url"],
            created_at=m["created_at"],
            updated_at=m["updated_at"],
        )

    @classmethod
    def from_card_row(cls, row: Any) -> Movie:
        """A movie from a card row (db MOVIE_CARD_COLUMNS): only CARD_FIELDS may be read."""
        return cls._from_card(row._mapping, **_NOT_IN_CARD)

    @classmethod
    def _from_card(cls, m: Any, **rest: Any) -> Movie:
        """The movie from a row's card columns (`m`, its mapping) and the other fields."""
        avg = m["average_rating"]
        return cls(
            id=strawberry.ID(to_global_id("Movie", m["id"])),
            pk=m["id"],
            tmdb_id=m["tmdb_id"],
            title=m["title"],
            original_title=m["original_title"],
            release_date=m["release_date"],
            year=m["year"],
            duration_minutes=m["duration_minutes"],
            age_rating=m["age_rating"],
            poster_url=m["poster_url"],
            is_active=m["is_active"],
            popularity=m["popularity"],
            average_rating=None if avg is None else float(avg),
            review_count=m["review_count"],
            **rest,
        )

    @strawberry.field(
        description="Genres of the movie, by name.", metadata=ready_value(_ready_genres)
    )
    def genres(self, info: Info) -> list[Genre]:
        ready = _ready_genres(self, {})
        if ready is not NOT_READY:
            return cast("list[Genre]", ready)
        return deferred(info.context.loader(catalog_loaders.GenresByMovieIdLoader).load(self.pk))

    @strawberry.field(
        description="Reviews visible to the viewer (published ones; staff and authors also "
        "see hidden ones).",
        metadata=ready_value(_ready_reviews),
    )
    def reviews(
        self,
        info: Info,
        first: Annotated[
            int | None, strawberry.argument(description="Page size (at most 100).")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor to start after.")
        ] = None,
        sort: Annotated[
            ReviewSort, strawberry.argument(description="Order of the reviews.")
        ] = ReviewSort.NEWEST,
    ) -> Connection[Annotated[Review, strawberry.lazy("graph.reviews.types")]]:
        offset, limit = PageArgs(first=first, after=after).window()
        ready = _ready_reviews(self, {"first": first, "after": after, "sort": sort})
        if ready is not NOT_READY:
            return cast("Connection[Review]", ready)
        return deferred(
            info.context.loader(review_loaders.ReviewsByMovieIdLoader).load(
                (self.pk, sort, offset, limit, False)
            )
        )

    @strawberry.field(
        description="Showtimes of this movie by start time (same filter as `showtimes`; "
        "without times, those that have not started)."
    )
    async def showtimes(
        self,
        info: Info,
        filter: Annotated[
            Annotated[ShowtimeFilter, strawberry.lazy("graph.showtimes.inputs")] | None,
            strawberry.argument(description="Conditions (movieId is ignored)."),
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
    ) -> Connection[Annotated[Showtime, strawberry.lazy("graph.showtimes.types")]]:
        return await showtime_loaders.movie_showtimes(info, self.pk, filter, first, after)

    @strawberry.field(description="Whether the viewer marked this movie as a favorite.")
    def is_favorite(self, info: Info) -> bool:
        loader = info.context.loader(catalog_loaders.ViewerFavoriteByMovieIdLoader)
        return deferred(loader.load(self.pk))

    @strawberry.field(description="The viewer's watchlist status for this movie, if listed.")
    def watchlist_status(self, info: Info) -> WatchlistStatus | None:
        loader = info.context.loader(catalog_loaders.ViewerWatchlistStatusByMovieIdLoader)
        return deferred(loader.load(self.pk))

    @strawberry.field(description="The viewer's own review of this movie, if any.")
    def viewer_review(
        self, info: Info
    ) -> Annotated[Review, strawberry.lazy("graph.reviews.types")] | None:
        loader = info.context.loader(review_loaders.ViewerReviewByMovieIdLoader)
        return deferred(loader.load(self.pk))

    @strawberry.field(
        description="More like this: active movies sharing genres and fans, best match first."
    )
    def similar(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="How many (at most 100).")] = 10,
    ) -> list[Movie]:
        PageArgs(first=first)
        loader = info.context.loader(catalog_loaders.SimilarMoviesByMovieIdLoader)
        return deferred(loader.load((self.pk, first)))


@strawberry.type(description="A movie on the viewer's watchlist.")
class WatchlistEntry:
    movie_pk: strawberry.Private[int]
    status: WatchlistStatus = strawberry.field(description="Watching status.")
    added_at: datetime = strawberry.field(description="When the movie was added.")
    updated_at: datetime = strawberry.field(description="When the status last changed.")

    @classmethod
    def from_row(cls, row: Any) -> WatchlistEntry:
        return cls(
            movie_pk=row.movie_id,
            status=WatchlistStatus(row.status),
            added_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field(description="The movie.")
    def movie(self, info: Info) -> Movie:
        # The foreign key cascades, so the movie exists.
        loader = info.context.loader(catalog_loaders.MovieByIdLoader)
        return cast("Movie", deferred(loader.load(self.movie_pk)))


@strawberry.type(description="An expected failure of a catalog mutation.")
class CatalogError:
    code: CatalogErrorCode = strawberry.field(description="Machine-readable code.")
    message: str = strawberry.field(description="Human-readable explanation.")
    field: str | None = strawberry.field(description="The input field at fault, if any.")


@strawberry.type(description="Result of createMovie and updateMovie.")
class MoviePayload:
    movie: Movie | None = strawberry.field(description="The movie, on success.")
    errors: list[CatalogError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="Result of deleteMovie.")
class DeleteMoviePayload:
    deleted_movie_id: strawberry.ID | None = strawberry.field(
        description="ID of the deleted movie (null when it was only deactivated)."
    )
    movie: Movie | None = strawberry.field(
        description="The deactivated movie, when it had showtimes and could not be deleted."
    )
    errors: list[CatalogError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="Result of createGenre and updateGenre.")
class GenrePayload:
    genre: Genre | None = strawberry.field(description="The genre, on success.")
    errors: list[CatalogError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="Result of deleteGenre.")
class DeleteGenrePayload:
    deleted_genre_id: strawberry.ID | None = strawberry.field(description="ID of the genre.")
    errors: list[CatalogError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="Result of addFavorite and removeFavorite.")
class FavoritePayload:
    movie: Movie | None = strawberry.field(description="The movie (see its isFavorite).")
    errors: list[CatalogError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="Result of setWatchlistStatus and removeFromWatchlist.")
class WatchlistPayload:
    movie: Movie | None = strawberry.field(description="The movie (see its watchlistStatus).")
    entry: WatchlistEntry | None = strawberry.field(
        description="The watchlist entry; null after removal."
    )
    errors: list[CatalogError] = strawberry.field(description="Empty on success.")
