"""Staff access to the TMDb API: `searchTmdb` (candidates, marked when already in the
catalog) and `importMovieFromTmdb`, with the configured key and base URL. TMDb is asked
outside any database transaction, with a timeout well under the operation's limit."""

from __future__ import annotations

import asyncio
import logging
from datetime import date

import strawberry

from db.catalog import queries as q
from db.catalog import tmdb
from db.errors import DomainError
from graph.catalog.enums import CatalogErrorCode
from graph.catalog.loaders import MovieByIdLoader
from graph.catalog.types import Movie
from graph.context import Info
from graph.errors import ApiError, bad_input

log = logging.getLogger("marquee.tmdb")

IMAGE_BASE = "https://image.tmdb.org/t/p/w342"
REQUEST_TIMEOUT = 5.0  # seconds, each phase of a request (connect, read, ...)
DEADLINE = 7.0  # seconds for the whole exchange with TMDb (operations stop at 10)
MAX_QUERY = 200
MAX_CANDIDATES = 20

NOT_CONFIGURED_MESSAGE = "TMDb is not configured on this server (no API key)."
UNAVAILABLE_MESSAGE = "TMDb cannot be reached just now; try again later."
NOT_FOUND_MESSAGE = "TMDb has no movie with this ID."


@strawberry.type(description="A movie found on TMDb by `searchTmdb`.")
class TmdbCandidate:
    movie_pk: strawberry.Private[int | None]
    tmdb_id: int = strawberry.field(description="The movie's TMDb ID (for importMovieFromTmdb).")
    title: str = strawberry.field(description="Title (as released in English).")
    original_title: str | None = strawberry.field(description="Title in the original language.")
    release_date: date | None = strawberry.field(description="First release date.")
    overview: str | None = strawberry.field(description="Plot overview (at most 1,000 characters).")
    poster_url: str | None = strawberry.field(description="A small poster image on TMDb.")

    @strawberry.field(description="The catalog's movie with this TMDb ID, or null (not imported).")
    async def movie(self, info: Info) -> Movie | None:
        if self.movie_pk is None:
            return None
        return await info.context.loader(MovieByIdLoader).load(self.movie_pk)


def _api_key(info: Info) -> str | None:
    return info.context.settings.tmdb_api_key or None


def _log(exc: BaseException, api_key: str) -> None:
    log.warning("tmdb request failed: %s", str(exc).replace(api_key, "***") or type(exc).__name__)


async def search(info: Info, query: str) -> list[TmdbCandidate]:
    """`searchTmdb`: coded top-level errors (a query has no payload)."""
    text = query.strip()
    if not text or len(text) > MAX_QUERY:
        raise bad_input(f"The search text is 1 to {MAX_QUERY} characters.", "query")
    api_key = _api_key(info)
    if api_key is None:
        raise ApiError(NOT_CONFIGURED_MESSAGE, CatalogErrorCode.TMDB_NOT_CONFIGURED.value)
    try:
        async with asyncio.timeout(DEADLINE):
            found = await tmdb.search_api(
                text,
                base_url=info.context.settings.tmdb_base_url,
                api_key=api_key,
                request_timeout=REQUEST_TIMEOUT,
                limit=MAX_CANDIDATES,
            )
    except (tmdb.TmdbError, TimeoutError) as exc:
        _log(exc, api_key)
        raise ApiError(UNAVAILABLE_MESSAGE, CatalogErrorCode.TMDB_UNAVAILABLE.value) from None
    in_catalog = await q.movie_ids_by_tmdb_id(info.context.db, [c.tmdb_id for c in found])
    return [
        TmdbCandidate(
            movie_pk=in_catalog.get(c.tmdb_id),
            tmdb_id=c.tmdb_id,
            title=c.title,
            original_title=c.original_title,
            release_date=c.release_date,
            overview=c.overview,
            poster_url=f"{IMAGE_BASE}{c.poster_path}" if c.poster_path else None,
        )
        for c in found
    ]


async def import_movie(info: Info, tmdb_id: int) -> int:
    """`importMovieFromTmdb`: fetch the movie (no transaction open), then create or update it
    in one transaction; its id, or a DomainError with a catalog code."""
    if tmdb_id <= 0:
        raise DomainError("VALIDATION_ERROR", "A TMDb ID is a positive integer.", "tmdbId")
    api_key = _api_key(info)
    if api_key is None:
        raise DomainError(CatalogErrorCode.TMDB_NOT_CONFIGURED, NOT_CONFIGURED_MESSAGE)
    try:
        async with asyncio.timeout(DEADLINE):
            items = await tmdb.fetch_from_api(
                [tmdb_id],
                base_url=info.context.settings.tmdb_base_url,
                api_key=api_key,
                request_timeout=REQUEST_TIMEOUT,
            )
    except (tmdb.TmdbError, TimeoutError) as exc:
        if isinstance(exc, tmdb.TmdbError) and exc.status == 404:
            raise DomainError(CatalogErrorCode.NOT_FOUND, NOT_FOUND_MESSAGE, "tmdbId") from None
        _log(exc, api_key)
        raise DomainError(CatalogErrorCode.TMDB_UNAVAILABLE, UNAVAILABLE_MESSAGE) from None
    async with info.context.db.transaction() as session:
        report = await tmdb.import_movies(session, items)
    if not report.movie_ids:
        reason = report.skipped[0] if report.skipped else "no movie in TMDb's answer"
        raise DomainError(
            "VALIDATION_ERROR", f"TMDb's data for this movie cannot be imported ({reason})."
        )
    return report.movie_ids[0]
