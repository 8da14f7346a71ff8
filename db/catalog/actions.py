"""Catalog actions: movies, genres, favorites and the watchlist. Failures are DomainErrors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, exists, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.catalog.codes import CatalogErrorCode as Code
from db.catalog.codes import WatchlistStatus
from db.catalog.models import Favorite, Genre, Movie, WatchlistEntry, movie_genres
from db.errors import DomainError, Validator
from db.urls import is_http_url

MOVIE_FIELDS = frozenset(
    {
        "tmdb_id",
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
        "cast_members",
        "age_rating",
        "budget",
        "box_office",
        "poster_url",
        "trailer_url",
        "is_active",
        "popularity",
        "genre_ids",
    }
)
# Input field names as clients spell them (for error `field`s).
_API_NAMES = {
    "original_title": "originalTitle",
    "release_date": "releaseDate",
    "duration_minutes": "durationMinutes",
    "cast_members": "cast",
    "age_rating": "ageRating",
    "box_office": "boxOffice",
    "poster_url": "posterUrl",
    "trailer_url": "trailerUrl",
    "genre_ids": "genreIds",
    "tmdb_id": "tmdbId",
    "is_active": "isActive",
}
_MAX_LENGTHS = {
    "title": 300,
    "original_title": 300,
    "tagline": 500,
    "description": 20_000,
    "country": 100,
    "director": 200,
    "age_rating": 10,
    "poster_url": 500,
    "trailer_url": 500,
}
MAX_LIST = 50
MAX_MONEY = Decimal("999999999999.99")
GENRE_NAME_MAX = 100


def _api(name: str) -> str:
    return _API_NAMES.get(name, name)


def _clean_movie_data(data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    unknown = set(data) - MOVIE_FIELDS
    if unknown:
        raise ValueError(f"unknown movie fields: {sorted(unknown)}")
    v = Validator(Code.VALIDATION_ERROR)
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str):
            value = value.strip()
            if key != "title" and value == "":
                value = None
        out[key] = value
    if creating or "title" in out:
        title = out.get("title")
        v.check(bool(title), "title", "The title must not be empty.")
    for key, limit in _MAX_LENGTHS.items():
        value = out.get(key)
        if isinstance(value, str):
            v.check(len(value) <= limit, _api(key), f"At most {limit} characters.")
    for key in ("poster_url", "trailer_url"):
        value = out.get(key)
        if isinstance(value, str) and len(value) <= _MAX_LENGTHS[key]:
            v.check(is_http_url(value), _api(key), "Must be an http(s) URL.")
    for key, limit in (("countries", 100), ("cast_members", 200)):
        if key in out:
            items = [s.strip() for s in (out[key] or []) if s and s.strip()]
            v.check(len(items) <= MAX_LIST, _api(key), f"At most {MAX_LIST} entries.")
            v.check(
                all(len(s) <= limit for s in items),
                _api(key),
                f"Each entry is at most {limit} characters.",
            )
            out[key] = items
    year = out.get("year")
    if year is not None:
        v.check(1870 <= year <= 2100, "year", "The year must be between 1870 and 2100.")
    release = out.get("release_date")
    if isinstance(release, date):
        v.check(1870 <= release.year <= 2100, "releaseDate", "Not a plausible release date.")
        if "year" not in out or out["year"] is None:
            out["year"] = release.year
    duration = out.get("duration_minutes")
    if duration is not None:
        v.check(1 <= duration <= 1000, "durationMinutes", "The duration must be 1 to 1000 minutes.")
    for key in ("budget", "box_office"):
        value = out.get(key)
        if value is not None:
            amount = Decimal(value)
            # NaN and Infinity parse as Decimals; comparing NaN raises, so check it first.
            v.check(
                amount.is_finite() and Decimal(0) <= amount <= MAX_MONEY,
                _api(key),
                "Must be zero or positive.",
            )
    popularity = out.get("popularity")
    if popularity is not None:
        v.check(0 <= popularity <= 1e9, "popularity", "Must be zero or positive.")
    if "is_active" in out and out["is_active"] is None:
        del out["is_active"]
    if "genre_ids" in out:
        ids = list(dict.fromkeys(out["genre_ids"] or []))
        v.check(len(ids) <= MAX_LIST, "genreIds", f"At most {MAX_LIST} genres.")
        out["genre_ids"] = ids
    if out.get("countries") and not out.get("country") and "country" not in data:
        out["country"] = out["countries"][0]
    v.raise_if_any()
    return out


async def _check_genres(session: AsyncSession, ids: Sequence[int]) -> None:
    if not ids:
        return
    found = set((await session.scalars(select(Genre.id).where(Genre.id.in_(ids)))).all())
    missing = [i for i in ids if i not in found]
    if missing:
        raise DomainError(Code.NOT_FOUND, "Some genres do not exist.", "genreIds")


async def _set_genres(session: AsyncSession, movie_id: int, ids: Sequence[int]) -> None:
    await session.execute(delete(movie_genres).where(movie_genres.c.movie_id == movie_id))
    if ids:
        await session.execute(
            insert(movie_genres), [{"movie_id": movie_id, "genre_id": g} for g in ids]
        )


async def _check_tmdb_id(session: AsyncSession, tmdb_id: int | None, movie_id: int | None) -> None:
    if tmdb_id is None:
        return
    stmt = select(Movie.id).where(Movie.tmdb_id == tmdb_id)
    if movie_id is not None:
        stmt = stmt.where(Movie.id != movie_id)
    if await session.scalar(stmt) is not None:
        raise DomainError(Code.ALREADY_EXISTS, "Another movie has this TMDb ID.", "tmdbId")


async def create_movie(session: AsyncSession, data: Mapping[str, Any]) -> Movie:
    values = _clean_movie_data(data, creating=True)
    genre_ids = values.pop("genre_ids", [])
    await _check_genres(session, genre_ids)
    await _check_tmdb_id(session, values.get("tmdb_id"), None)
    movie = Movie(**{k: v for k, v in values.items() if v is not None})
    session.add(movie)
    await session.flush()
    await _set_genres(session, movie.id, genre_ids)
    await session.refresh(movie)
    return movie


async def get_movie(session: AsyncSession, movie_id: int, *, lock: bool = False) -> Movie:
    stmt = select(Movie).where(Movie.id == movie_id)
    if lock:
        stmt = stmt.with_for_update()
    movie = await session.scalar(stmt)
    if movie is None:
        raise DomainError(Code.NOT_FOUND, "No such movie.", "id")
    return movie


async def update_movie(session: AsyncSession, movie_id: int, changes: Mapping[str, Any]) -> Movie:
    movie = await get_movie(session, movie_id, lock=True)
    values = _clean_movie_data(changes, creating=False)
    genre_ids = values.pop("genre_ids", None)
    if genre_ids is not None:
        await _check_genres(session, genre_ids)
    await _check_tmdb_id(session, values.get("tmdb_id"), movie_id)
    for key, value in values.items():
        setattr(movie, key, value)
    movie.updated_at = func.now()
    await session.flush()
    if genre_ids is not None:
        await _set_genres(session, movie_id, genre_ids)
    await session.refresh(movie)
    return movie


async def movie_has_showtimes(session: AsyncSession, movie_id: int) -> bool:
    """Hook for the cinemas domain: whether any showtime (of any status) uses the movie.
    The `showtimes` table belongs to a later migration, so look it up only if it exists."""
    if await session.scalar(text("SELECT to_regclass('showtimes') IS NOT NULL")) is not True:
        return False
    found = await session.scalar(
        text("SELECT EXISTS (SELECT 1 FROM showtimes WHERE movie_id = :id)"), {"id": movie_id}
    )
    return bool(found)


async def delete_movie(session: AsyncSession, movie_id: int) -> Movie | None:
    """Delete a movie; one with showtimes is deactivated instead (returned, else None)."""
    movie = await get_movie(session, movie_id, lock=True)
    if await movie_has_showtimes(session, movie_id):
        movie.is_active = False
        movie.updated_at = func.now()
        await session.flush()
        await session.refresh(movie)
        return movie
    await session.delete(movie)
    await session.flush()
    return None


def _clean_genre_name(name: str) -> str:
    v = Validator(Code.VALIDATION_ERROR)
    name = " ".join(name.split())
    v.check(bool(name), "name", "The name must not be empty.")
    v.check(len(name) <= GENRE_NAME_MAX, "name", f"At most {GENRE_NAME_MAX} characters.")
    v.raise_if_any()
    return name


async def _check_genre_name(session: AsyncSession, name: str, genre_id: int | None) -> None:
    stmt = select(Genre.id).where(Genre.name == name)
    if genre_id is not None:
        stmt = stmt.where(Genre.id != genre_id)
    if await session.scalar(stmt) is not None:
        raise DomainError(Code.ALREADY_EXISTS, "A genre with this name exists.", "name")


async def create_genre(session: AsyncSession, name: str, tmdb_id: int | None = None) -> Genre:
    name = _clean_genre_name(name)
    await _check_genre_name(session, name, None)
    genre = Genre(name=name, tmdb_id=tmdb_id)
    session.add(genre)
    await session.flush()
    return genre


async def get_genre(session: AsyncSession, genre_id: int) -> Genre:
    genre = await session.get(Genre, genre_id, with_for_update=True)
    if genre is None:
        raise DomainError(Code.NOT_FOUND, "No such genre.", "id")
    return genre


async def update_genre(session: AsyncSession, genre_id: int, name: str) -> Genre:
    genre = await get_genre(session, genre_id)
    name = _clean_genre_name(name)
    await _check_genre_name(session, name, genre_id)
    genre.name = name
    await session.flush()
    return genre


async def delete_genre(session: AsyncSession, genre_id: int) -> None:
    """Delete a genre; movies simply lose it (the link rows cascade)."""
    genre = await get_genre(session, genre_id)
    await session.delete(genre)
    await session.flush()


async def _require_movie(session: AsyncSession, movie_id: int, field: str = "movieId") -> None:
    if not await session.scalar(select(exists().where(Movie.id == movie_id))):
        raise DomainError(Code.NOT_FOUND, "No such movie.", field)


async def add_favorite(session: AsyncSession, user_id: int, movie_id: int) -> None:
    """Idempotent: favoriting twice keeps the first time."""
    await _require_movie(session, movie_id)
    await session.execute(
        pg_insert(Favorite)
        .values(user_id=user_id, movie_id=movie_id)
        .on_conflict_do_nothing(index_elements=["user_id", "movie_id"])
    )


async def remove_favorite(session: AsyncSession, user_id: int, movie_id: int) -> None:
    """Idempotent: removing a movie that is not a favorite is not an error."""
    await _require_movie(session, movie_id)
    await session.execute(
        delete(Favorite).where(Favorite.user_id == user_id, Favorite.movie_id == movie_id)
    )


async def set_watchlist_status(
    session: AsyncSession, user_id: int, movie_id: int, status: WatchlistStatus
) -> None:
    """Add a movie to the watchlist or change its status (idempotent)."""
    await _require_movie(session, movie_id)
    stmt = pg_insert(WatchlistEntry).values(user_id=user_id, movie_id=movie_id, status=status.value)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["user_id", "movie_id"],
            set_={"status": stmt.excluded.status, "updated_at": func.now()},
            where=WatchlistEntry.status != stmt.excluded.status,
        )
    )


async def remove_from_watchlist(session: AsyncSession, user_id: int, movie_id: int) -> None:
    await _require_movie(session, movie_id)
    await session.execute(
        delete(WatchlistEntry).where(
            WatchlistEntry.user_id == user_id, WatchlistEntry.movie_id == movie_id
        )
    )


async def watchlist_entry(
    session: AsyncSession, user_id: int, movie_id: int
) -> WatchlistEntry | None:
    return await session.scalar(
        select(WatchlistEntry).where(
            WatchlistEntry.user_id == user_id, WatchlistEntry.movie_id == movie_id
        )
    )


# Key of the advisory lock that lets one instance refresh popularity at a time.
TRENDING_LOCK_KEY = 0x4D51_5452  # "MQTR"


async def refresh_popularity(session: AsyncSession, at: datetime | None = None) -> int | None:
    """Recompute every movie's `popularity` (all-time activity) and `trending_score` (the
    last 7 days, decayed) with `marquee_refresh_popularity()` (migration 0017_trending), as
    of `at` (default now). Returns how many movies changed, or None when another instance
    holds the refresher's advisory lock (transaction-level: it is refreshing right now)."""
    if not await session.scalar(select(func.pg_try_advisory_xact_lock(TRENDING_LOCK_KEY))):
        return None
    if at is None:
        changed = await session.scalar(select(func.marquee_refresh_popularity()))
    else:
        changed = await session.scalar(select(func.marquee_refresh_popularity(at)))
    return int(changed or 0)
