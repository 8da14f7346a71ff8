"""Import movies in TMDb's JSON format (files or the TMDb HTTP API), upserting by TMDb id.

Accepted file shapes: one movie object, a list of movie objects, or a TMDb list response
(`{"results": [...]}`); a directory imports every `*.json` in it. A movie object is TMDb's
`/movie/{id}` response, optionally with `append_to_response=credits,videos,release_dates`.
An object without an `id` (a film whose TMDb id is unknown, as for a few demo films) is
matched by title and release date instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.catalog import actions
from db.catalog.models import Genre, Movie
from db.errors import DomainError
from db.progress import NO_PROGRESS, Progress

POSTER_BASE = "https://image.tmdb.org/t/p/w500"
TOP_CAST = 10
CERTIFICATION_COUNTRIES = ("US", "GB", "FR", "DE", "RU")
SEARCH_OVERVIEW = 1000  # characters of a search result's overview kept


class TmdbError(Exception):
    """A file or API response that cannot be imported; `status` is the HTTP status of an
    API answer other than 200 (None when TMDb did not answer, or answered 200 with JSON
    that is not an object)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class ImportReport:
    created: int = 0
    updated: int = 0
    skipped: list[str] = field(default_factory=list)
    # The created or updated movies' ids, in input order (skipped items have none).
    movie_ids: list[int] = field(default_factory=list)


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def _certification(data: Mapping[str, Any]) -> str | None:
    results = (data.get("release_dates") or {}).get("results") or []
    by_country = {r.get("iso_3166_1"): r.get("release_dates") or [] for r in results}
    for country in CERTIFICATION_COUNTRIES:
        for entry in by_country.get(country, []):
            cert = _text(entry.get("certification"), 10)
            if cert:
                return cert
    return None


def _trailer(data: Mapping[str, Any]) -> str | None:
    for video in (data.get("videos") or {}).get("results") or []:
        if video.get("site") == "YouTube" and video.get("type") == "Trailer" and video.get("key"):
            return f"https://www.youtube.com/watch?v={video['key']}"
    return None


def parse_movie(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[int | None, str]]]:
    """Movie fields for the catalog actions, and the (TMDb id, name) of its genres."""
    tmdb_id = data.get("id")
    title = _text(data.get("title"), 300)
    bad_id = tmdb_id is not None and (not isinstance(tmdb_id, int) or tmdb_id <= 0)
    if bad_id or not title:
        raise TmdbError("a movie needs a `title`, and its `id` (if any) must be a positive integer")
    credits = data.get("credits") or {}
    directors = [
        c["name"]
        for c in credits.get("crew") or []
        if c.get("job") == "Director" and isinstance(c.get("name"), str)
    ]
    cast = sorted(
        (c for c in credits.get("cast") or [] if isinstance(c.get("name"), str)),
        key=lambda c: c.get("order", 0),
    )
    countries = [
        c["name"][:100]
        for c in data.get("production_countries") or []
        if isinstance(c, Mapping) and isinstance(c.get("name"), str)
    ]
    poster = data.get("poster_path")
    release = _date(data.get("release_date"))
    popularity = data.get("popularity")
    fields: dict[str, Any] = {
        "tmdb_id": tmdb_id,
        "title": title,
        "original_title": _text(data.get("original_title"), 300),
        "tagline": _text(data.get("tagline"), 500),
        "description": _text(data.get("overview"), 20_000),
        "release_date": release,
        "year": release.year if release else None,
        "countries": countries[:50],
        "country": countries[0] if countries else None,
        "duration_minutes": _positive(data.get("runtime")),
        "director": ", ".join(directors)[:200] or None,
        "cast_members": [c["name"][:200] for c in cast[:TOP_CAST]],
        "budget": Decimal(data["budget"]) if _positive(data.get("budget")) else None,
        "box_office": Decimal(data["revenue"]) if _positive(data.get("revenue")) else None,
        "poster_url": f"{POSTER_BASE}{poster}" if isinstance(poster, str) and poster else None,
        "trailer_url": _trailer(data),
        "age_rating": _certification(data),
        "popularity": float(popularity) if isinstance(popularity, int | float) else None,
    }
    genres: list[tuple[int | None, str]] = []
    for g in data.get("genres") or []:
        if isinstance(g, Mapping) and isinstance(g.get("name"), str) and g["name"].strip():
            gid = g.get("id")
            genres.append((gid if isinstance(gid, int) else None, g["name"].strip()[:100]))
    return fields, genres


def read_path(path: Path) -> list[Mapping[str, Any]]:
    """The movie objects in a JSON file or in every *.json of a directory."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    movies: list[Mapping[str, Any]] = []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TmdbError(f"{file}: {exc}") from exc
        if isinstance(data, Mapping) and isinstance(data.get("results"), list):
            data = data["results"]
        items = data if isinstance(data, list) else [data]
        for item in items:
            if not isinstance(item, Mapping):
                raise TmdbError(f"{file}: expected movie objects")
            movies.append(item)
    return movies


def _client(
    base_url: str,
    api_key: str,
    transport: httpx.AsyncBaseTransport | None,
    request_timeout: float,
) -> tuple[httpx.AsyncClient, dict[str, str]]:
    """A client for the TMDb API, and the query parameters every request carries. A v4 read
    access token (a JWT) goes in the Authorization header, a v3 key in `api_key`."""
    headers = {"Accept": "application/json"}
    params: dict[str, str] = {}
    if api_key.startswith("eyJ"):
        headers["Authorization"] = f"Bearer {api_key}"
    else:
        params["api_key"] = api_key
    client = httpx.AsyncClient(
        base_url=base_url.rstrip("/") + "/",
        headers=headers,
        timeout=request_timeout,
        transport=transport,
    )
    return client, params


async def _get_object(
    client: httpx.AsyncClient, path: str, params: Mapping[str, str], what: str
) -> Mapping[str, Any]:
    """`GET path`: its JSON object, or a TmdbError (with the HTTP status, if any)."""
    try:
        response = await client.get(path, params=dict(params))
    except httpx.HTTPError as exc:
        raise TmdbError(f"{what}: {type(exc).__name__} {exc}".rstrip()) from exc
    if response.status_code != 200:
        raise TmdbError(f"{what}: HTTP {response.status_code}", status=response.status_code)
    try:
        data = response.json()
    except ValueError as exc:
        raise TmdbError(f"{what}: not JSON") from exc
    if not isinstance(data, Mapping):
        raise TmdbError(f"{what}: not a JSON object")
    return data


async def fetch_from_api(
    ids: Sequence[int],
    *,
    base_url: str,
    api_key: str,
    transport: httpx.AsyncBaseTransport | None = None,
    request_timeout: float = 15.0,
    progress: Progress = NO_PROGRESS,
) -> list[Mapping[str, Any]]:
    """`GET {base}/movie/{id}` with credits, videos and release dates appended."""
    client, params = _client(base_url, api_key, transport, request_timeout)
    params["append_to_response"] = "credits,videos,release_dates"
    out: list[Mapping[str, Any]] = []
    progress.start(len(ids), "movies")
    async with client:
        for movie_id in ids:
            out.append(
                await _get_object(client, f"movie/{int(movie_id)}", params, f"movie {movie_id}")
            )
            progress.advance(f"movie {movie_id}")
    return out


@dataclass(frozen=True, slots=True)
class Candidate:
    """One result of a TMDb movie search."""

    tmdb_id: int
    title: str
    original_title: str | None
    release_date: date | None
    overview: str | None
    poster_path: str | None


def parse_candidate(data: Any) -> Candidate | None:
    """A search result, or None when it lacks a positive integer `id` or a `title`."""
    if not isinstance(data, Mapping):
        return None
    tmdb_id = data.get("id")
    title = _text(data.get("title"), 300)
    if not isinstance(tmdb_id, int) or isinstance(tmdb_id, bool) or tmdb_id <= 0 or not title:
        return None
    poster = data.get("poster_path")
    return Candidate(
        tmdb_id=tmdb_id,
        title=title,
        original_title=_text(data.get("original_title"), 300),
        release_date=_date(data.get("release_date")),
        overview=_text(data.get("overview"), SEARCH_OVERVIEW),
        poster_path=poster[:200] if isinstance(poster, str) and poster.startswith("/") else None,
    )


async def search_api(
    query: str,
    *,
    base_url: str,
    api_key: str,
    transport: httpx.AsyncBaseTransport | None = None,
    request_timeout: float = 5.0,
    limit: int = 20,
) -> list[Candidate]:
    """`GET {base}/search/movie?query=...` (adult titles excluded): its first page of results,
    at most `limit`, each once; results without an id or a title are left out."""
    client, params = _client(base_url, api_key, transport, request_timeout)
    params.update(query=query, include_adult="false")
    async with client:
        data = await _get_object(client, "search/movie", params, "search")
    results = data.get("results")
    out: dict[int, Candidate] = {}
    for item in results if isinstance(results, list) else []:
        candidate = parse_candidate(item)
        if candidate is not None and candidate.tmdb_id not in out:
            out[candidate.tmdb_id] = candidate
            if len(out) >= limit:
                break
    return list(out.values())


async def _genre_ids(
    session: AsyncSession, genres: Iterable[tuple[int | None, str]], cache: dict[str, int]
) -> list[int]:
    ids: list[int] = []
    for tmdb_id, name in genres:
        key = name.lower()
        if key not in cache:
            found = await session.scalar(
                select(Genre).where((Genre.name == name) | (Genre.tmdb_id == tmdb_id))
                if tmdb_id is not None
                else select(Genre).where(Genre.name == name)
            )
            if found is None:
                found = await actions.create_genre(session, name, tmdb_id)
            elif found.tmdb_id is None and tmdb_id is not None:
                found.tmdb_id = tmdb_id
            cache[key] = found.id
        ids.append(cache[key])
    return list(dict.fromkeys(ids))


async def _existing_movie_id(session: AsyncSession, fields: Mapping[str, Any]) -> int | None:
    """The movie with this TMDb id; for an object without one, the first movie with the same
    title and release date."""
    if fields["tmdb_id"] is not None:
        return await session.scalar(select(Movie.id).where(Movie.tmdb_id == fields["tmdb_id"]))
    return await session.scalar(
        select(Movie.id)
        .where(
            Movie.title == fields["title"],
            Movie.release_date.is_not_distinct_from(fields["release_date"]),
        )
        .order_by(Movie.id)
        .limit(1)
    )


async def import_movies(
    session: AsyncSession,
    items: Sequence[Mapping[str, Any]],
    progress: Progress = NO_PROGRESS,
) -> ImportReport:
    """Create or update each movie by its TMDb id (fields TMDb lacks stay as they are); one
    `progress` step per item, imported or skipped."""
    report = ImportReport()
    cache: dict[str, int] = {}
    progress.start(len(items), "movies")
    for item in items:
        try:
            fields, genres = parse_movie(item)
        except TmdbError as exc:
            report.skipped.append(f"{item.get('id', '?')}: {exc}")
            progress.advance(f"skipped {item.get('id', '?')}")
            continue
        fields["genre_ids"] = await _genre_ids(session, genres, cache)
        existing = await _existing_movie_id(session, fields)
        try:
            async with session.begin_nested():
                if existing is None:
                    values = {k: v for k, v in fields.items() if v is not None}
                    existing = (await actions.create_movie(session, values)).id
                    report.created += 1
                else:
                    changes = {
                        k: v
                        for k, v in fields.items()
                        if (v is not None and v != []) or k == "genre_ids"
                    }
                    await actions.update_movie(session, existing, changes)
                    report.updated += 1
        except DomainError as exc:
            report.skipped.append(f"{fields['tmdb_id'] or fields['title']}: {exc}")
            progress.advance(f"skipped {fields['title']}")
            continue
        report.movie_ids.append(existing)
        progress.advance(str(fields["title"]))
    return report
