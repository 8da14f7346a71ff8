"""Reads of the catalog: movie lists, search, genres, similar movies, the viewer's lists.

Each read is an async function on the `Database` returning plain rows (or values); the
statements behind them are SQLAlchemy Core, built once where their shape allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Executable,
    Row,
    Select,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.sql import visitors
from sqlalchemy.sql.util import ClauseAdapter
from sqlalchemy.types import BigInteger, Integer

from db.catalog.codes import MovieSort, WatchlistStatus
from db.catalog.models import (
    Favorite,
    Genre,
    Movie,
    WatchlistEntry,
    movie_genres,
    search_description_expr,
    search_title_expr,
)
from db.reviews.codes import ReviewSort
from db.reviews.queries import ReviewCards, review_card_arrays
from db.search import contains_pattern
from db.session import Database, Record, any_id
from db.showtimes.queries import coming_soon, now_showing

MOVIE_COLUMNS = (
    Movie.id,
    Movie.tmdb_id,
    Movie.title,
    Movie.original_title,
    Movie.tagline,
    Movie.description,
    Movie.release_date,
    Movie.year,
    Movie.country,
    Movie.countries,
    Movie.duration_minutes,
    Movie.director,
    Movie.cast_members,
    Movie.age_rating,
    Movie.budget,
    Movie.box_office,
    Movie.poster_url,
    Movie.trailer_url,
    Movie.is_active,
    Movie.popularity,
    Movie.review_count,
    Movie.average_rating,
    Movie.created_at,
    Movie.updated_at,
)
# A movie as a list shows it (a "card"): what a list selects when it asks only for the
# fields graph/catalog/types.py names in CARD_FIELDS. Without the long texts, arrays, money
# and timestamps, a page of 20 costs the worker about half the decoding (`list_movies`).
MOVIE_CARD_COLUMNS = (
    Movie.id,
    Movie.tmdb_id,
    Movie.title,
    Movie.original_title,
    Movie.release_date,
    Movie.year,
    Movie.duration_minutes,
    Movie.age_rating,
    Movie.poster_url,
    Movie.is_active,
    Movie.popularity,
    Movie.review_count,
    Movie.average_rating,
)

GENRE_COLUMNS = (Genre.id, Genre.name)


@dataclass(frozen=True, slots=True)
class MovieFilter:
    search: str | None = None
    genre_ids: Sequence[int] = ()
    year_from: int | None = None
    year_to: int | None = None
    country: str | None = None
    age_rating: str | None = None
    include_inactive: bool = False
    now_showing: bool | None = None  # None: either
    coming_soon: bool | None = None


def search_condition(text: str) -> ColumnElement[bool]:
    """Case- and accent-insensitive substring match on title, original title and
    description, plus trigram word similarity on the titles for small typos."""
    needle = func.marquee_unaccent(func.lower(text))
    pattern = contains_pattern(text)
    like = func.marquee_unaccent(func.lower(pattern))
    return or_(
        search_title_expr.like(like, escape="\\"),
        search_description_expr.like(like, escape="\\"),
        needle.op("<%")(search_title_expr),
    )


def movie_conditions(f: MovieFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if not f.include_inactive:
        conds.append(Movie.is_active.is_(True))
    if f.search is not None and f.search.strip():
        conds.append(search_condition(f.search.strip()))
    if f.genre_ids:
        conds.append(
            exists().where(
                movie_genres.c.movie_id == Movie.id,
                movie_genres.c.genre_id.in_(list(f.genre_ids)),
            )
        )
    if f.year_from is not None:
        conds.append(Movie.year >= f.year_from)
    if f.year_to is not None:
        conds.append(Movie.year <= f.year_to)
    if f.country:
        wanted = f.country.strip().lower()
        conds.append(or_(func.lower(Movie.country) == wanted, _country_in_list(wanted)))
    if f.age_rating:
        conds.append(func.upper(Movie.age_rating) == f.age_rating.strip().upper())
    if f.now_showing is not None:
        cond = now_showing(Movie.id)
        conds.append(cond if f.now_showing else ~cond)
    if f.coming_soon is not None:
        cond = coming_soon(Movie.id, Movie.release_date)
        conds.append(cond if f.coming_soon else ~cond)
    return conds


def _country_in_list(wanted: str) -> ColumnElement[bool]:
    # countries is a short array: compare case-insensitively element by element.
    element = func.unnest(Movie.countries).table_valued("c").render_derived(name="country_names")
    return exists(select(1).select_from(element).where(func.lower(element.c.c) == wanted))


def movie_order(sort: MovieSort) -> list[Any]:
    match sort:
        case MovieSort.POPULARITY:
            return [Movie.popularity.desc(), Movie.id.desc()]
        case MovieSort.TRENDING:
            return [Movie.trending_score.desc(), Movie.id.desc()]
        case MovieSort.RATING:
            return [
                Movie.average_rating.desc().nulls_last(),
                Movie.review_count.desc(),
                Movie.id.desc(),
            ]
        case MovieSort.NEWEST:
            return [
                Movie.release_date.desc().nulls_last(),
                Movie.year.desc().nulls_last(),
                Movie.id.desc(),
            ]
        case MovieSort.TITLE:
            return [func.lower(Movie.title).asc(), Movie.id.asc()]


# Statements are built once and reused with new parameters where their shape allows:
# building a select of this size costs more CPU than PostgreSQL spends running it.
DEFAULT_FILTER = MovieFilter()
TOTAL_COUNT = func.count().over().label("total_count")


async def count_movies(db: Database, f: MovieFilter) -> int:
    """The size of the filtered movie list."""
    stmt = _count_all() if f == DEFAULT_FILTER else _count_movies(f)
    return int(await db.scalar(stmt))


def _count_movies(f: MovieFilter) -> Executable:
    return select(func.count()).select_from(Movie).where(*movie_conditions(f))


@lru_cache(maxsize=1)
def _count_all() -> Executable:
    return select(func.count()).select_from(Movie).where(*movie_conditions(DEFAULT_FILTER))


async def list_movies(
    db: Database,
    f: MovieFilter,
    sort: MovieSort,
    offset: int,
    limit: int,
    *,
    with_genres: bool = False,
    card: bool = False,
    reviews: ReviewCards | None = None,
) -> Sequence[Row[Any] | Record]:
    """A page of the movie list (see `list_movies_query` for the columns; with `card`,
    only MOVIE_CARD_COLUMNS of the movie). The statement without filters is built once, so
    it runs straight on the driver (`fetch_static`)."""
    stmt, params = list_movies_query(f, sort, offset, limit, with_genres, card, reviews)
    if f == DEFAULT_FILTER:
        return await db.fetch_static(stmt, params)
    return await db.fetch(stmt, params or None)


def list_movies_query(
    f: MovieFilter,
    sort: MovieSort,
    offset: int,
    limit: int,
    with_genres: bool = False,
    card: bool = False,
    reviews: ReviewCards | None = None,
) -> tuple[Select[*tuple[Any, ...]], dict[str, Any]]:
    """A page of movies and its parameters; each row also carries `total_count`, the size of
    the whole list (a window count, so a page needs no separate count unless it is empty),
    with `with_genres` the movie's genres as `genre_ids` / `genre_names` arrays by name, and
    with `reviews` a page of each movie's card reviews and their authors as arrays
    (`db.reviews.queries.review_card_arrays`): the movie page in one statement.
    Without filters the statement is built once and keeps its memoized cache key, which a
    `.params()` copy computes again on every request (~0.7 ms of CPU for this statement)."""
    review_params = reviews.params() if reviews is not None else {}
    shape = (reviews.sort, reviews.kind) if reviews is not None else None
    if f == DEFAULT_FILTER:
        params = {"offset": offset, "limit": limit, **review_params}
        return _list_all(sort, with_genres, card, shape), params
    return _movie_page(f, sort, offset, limit, with_genres, card, shape), review_params


@cache
def _list_all(
    sort: MovieSort, with_genres: bool, card: bool, reviews: tuple[ReviewSort, str] | None
) -> Select[*tuple[Any, ...]]:
    offset, limit = bindparam("offset", type_=Integer), bindparam("limit", type_=Integer)
    return _movie_page(DEFAULT_FILTER, sort, offset, limit, with_genres, card, reviews)


def _movie_page(
    f: MovieFilter,
    sort: MovieSort,
    offset: Any,
    limit: Any,
    with_genres: bool,
    card: bool,
    reviews: tuple[ReviewSort, str] | None = None,
) -> Select[*tuple[Any, ...]]:
    columns = MOVIE_CARD_COLUMNS if card else MOVIE_COLUMNS
    order = movie_order(sort)
    extra: list[Column[Any]] = []
    if with_genres or reviews:
        # The columns the order reads and the page does not (`trending_score`) come along,
        # for the outer statement to order by.
        keys = {c.key: c for o in order for c in visitors.iterate(o) if isinstance(c, Column)}
        extra = [c for key, c in keys.items() if key not in {c.key for c in columns}]
    page = (
        select(*columns, TOTAL_COUNT, *extra)
        .where(*movie_conditions(f))
        .order_by(*order)
        .offset(offset)
        .limit(limit)
    )
    if not with_genres and not reviews:
        return page
    # The genres and reviews joined to the page, after its LIMIT: laterals per movie of the
    # page. For the genres one aggregate instead of two correlated subqueries (PostgreSQL
    # time of the movie page's list statement about 0.7 -> 0.35 ms, bench/README.md).
    rows = page.subquery("page")
    joined: Any = rows
    outer: list[Any] = [*(rows.c[c.key] for c in columns), rows.c.total_count]
    if with_genres:
        genres = (
            select(
                func.array_agg(aggregate_order_by(Genre.id, Genre.name)).label("genre_ids"),
                func.array_agg(aggregate_order_by(Genre.name, Genre.name)).label("genre_names"),
            )
            .select_from(movie_genres)
            .join(Genre, Genre.id == movie_genres.c.genre_id)
            .where(movie_genres.c.movie_id == rows.c.id)
            .lateral("genres")
        )
        joined = joined.outerjoin(genres, true())
        outer += [genres.c.genre_ids, genres.c.genre_names]
    if reviews:
        counted, arrays = review_card_arrays(rows.c.id, *reviews)
        joined = joined.join(counted, true()).join(arrays, true())
        outer += [*counted.c, *arrays.c]
    adapt = ClauseAdapter(rows).traverse
    return select(*outer).select_from(joined).order_by(*(adapt(o) for o in order))


async def movies_by_ids(db: Database, ids: Sequence[int]) -> Sequence[Row[Any]]:
    """Movies by id, inactive ones included, in no particular order."""
    return await db.fetch(_movies_by_ids().params(ids=list(ids)))


@lru_cache(maxsize=1)
def _movies_by_ids() -> Select[*tuple[Any, ...]]:
    return select(*MOVIE_COLUMNS).where(any_id(Movie.id))


async def genres_by_movie_ids(db: Database, ids: Sequence[int]) -> Sequence[Row[Any]]:
    """Each movie's genres (`movie_id`, `id`, `name`), by movie and then by name."""
    return await db.fetch(_genres_by_movie_ids().params(ids=list(ids)))


@lru_cache(maxsize=1)
def _genres_by_movie_ids() -> Select[*tuple[Any, ...]]:
    return (
        select(movie_genres.c.movie_id, *GENRE_COLUMNS)
        .join(Genre, Genre.id == movie_genres.c.genre_id)
        .where(any_id(movie_genres.c.movie_id))
        .order_by(movie_genres.c.movie_id, Genre.name)
    )


async def similar_movies(db: Database, movie_ids: Sequence[int], limit: int) -> Sequence[Row[Any]]:
    """Up to `limit` similar movies for each movie, as movie rows with their `source_id`."""
    return await db.fetch(_similar_movies(movie_ids, limit))


def _similar_movies(movie_ids: Sequence[int], limit: int) -> Executable:
    """For each movie: active movies sharing genres (1 point per genre) and fans (2 points
    per user who favorited both), best first; ties by popularity, then id."""
    src = (
        func.unnest(literal(list(movie_ids), ARRAY(BigInteger)))
        .table_valued("id")
        .render_derived(name="src")
    )
    mg_src = movie_genres.alias("mg_src")
    mg_other = movie_genres.alias("mg_other")
    fav_src = Favorite.__table__.alias("fav_src")
    fav_other = Favorite.__table__.alias("fav_other")
    by_genre = (
        select(mg_other.c.movie_id.label("movie_id"), literal(1).label("w"))
        .select_from(mg_src)
        .join(mg_other, mg_other.c.genre_id == mg_src.c.genre_id)
        .where(mg_src.c.movie_id == src.c.id, mg_other.c.movie_id != src.c.id)
        .correlate(src)
    )
    by_fan = (
        select(fav_other.c.movie_id.label("movie_id"), literal(2).label("w"))
        .select_from(fav_src)
        .join(fav_other, fav_other.c.user_id == fav_src.c.user_id)
        .where(fav_src.c.movie_id == src.c.id, fav_other.c.movie_id != src.c.id)
        .correlate(src)
    )
    links = by_genre.union_all(by_fan).subquery("links")
    score = func.sum(links.c.w).label("score")
    candidates = (
        select(links.c.movie_id, score)
        .join(Movie, Movie.id == links.c.movie_id)
        .where(Movie.is_active.is_(True))
        .group_by(links.c.movie_id, Movie.popularity)
        .order_by(score.desc(), Movie.popularity.desc(), links.c.movie_id.desc())
        .limit(limit)
        .lateral("cand")
    )
    ranked = (
        select(src.c.id.label("source_id"), candidates.c.movie_id, candidates.c.score)
        .select_from(src.join(candidates, true()))
        .subquery("ranked")
    )
    return (
        select(ranked.c.source_id, *MOVIE_COLUMNS)
        .join(Movie, Movie.id == ranked.c.movie_id)
        .order_by(
            ranked.c.source_id, ranked.c.score.desc(), Movie.popularity.desc(), Movie.id.desc()
        )
    )


async def genres_by_ids(db: Database, ids: Sequence[int]) -> Sequence[Row[Any]]:
    """Genres (`id`, `name`) by id, in no particular order."""
    return await db.fetch(select(*GENRE_COLUMNS).where(Genre.id.in_(list(ids))))


async def all_genres(db: Database, search: str | None = None) -> Sequence[Row[Any]]:
    """Every genre (`id`, `name`), by name; with `search`, those whose name contains it,
    ignoring case and accents like the movie search (a blank search matches all). The table
    is a few dozen rows, so a sequential scan is the plan; no index is worth its upkeep."""
    stmt = select(*GENRE_COLUMNS).order_by(Genre.name)
    if search is not None and search.strip():
        pattern = func.marquee_unaccent(func.lower(contains_pattern(search)))
        stmt = stmt.where(func.marquee_unaccent(func.lower(Genre.name)).like(pattern))
    return await db.fetch(stmt)


# --- the viewer's favorites and watchlist ---


async def favorite_movie_ids(db: Database, user_id: int, movie_ids: Sequence[int]) -> set[int]:
    """Which of these movies the user favorited."""
    rows = await db.fetch(
        select(Favorite.movie_id).where(
            Favorite.user_id == user_id, Favorite.movie_id.in_(list(movie_ids))
        )
    )
    return {row.movie_id for row in rows}


async def watchlist_statuses(
    db: Database, user_id: int, movie_ids: Sequence[int]
) -> dict[int, WatchlistStatus]:
    """The user's watchlist status of those of these movies that are on it."""
    rows = await db.fetch(
        select(WatchlistEntry.movie_id, WatchlistEntry.status).where(
            WatchlistEntry.user_id == user_id, WatchlistEntry.movie_id.in_(list(movie_ids))
        )
    )
    return {row.movie_id: WatchlistStatus(row.status) for row in rows}


async def count_favorites(db: Database, user_id: int) -> int:
    return int(
        await db.scalar(
            select(func.count()).select_from(Favorite).where(Favorite.user_id == user_id)
        )
    )


async def favorite_movies(
    db: Database, user_id: int, offset: int, limit: int
) -> Sequence[Row[Any]]:
    """A page of the user's favorite movies (movie rows), most recently added first."""
    return await db.fetch(
        select(*MOVIE_COLUMNS)
        .join(Favorite, Favorite.movie_id == Movie.id)
        .where(Favorite.user_id == user_id)
        .order_by(Favorite.created_at.desc(), Movie.id.desc())
        .offset(offset)
        .limit(limit)
    )


def _watchlist_conditions(user_id: int, status: WatchlistStatus | None) -> list[Any]:
    conds: list[Any] = [WatchlistEntry.user_id == user_id]
    if status is not None:
        conds.append(WatchlistEntry.status == status.value)
    return conds


async def count_watchlist(db: Database, user_id: int, status: WatchlistStatus | None) -> int:
    conds = _watchlist_conditions(user_id, status)
    return int(await db.scalar(select(func.count()).select_from(WatchlistEntry).where(*conds)))


async def watchlist_movies(
    db: Database, user_id: int, status: WatchlistStatus | None, offset: int, limit: int
) -> Sequence[Row[Any]]:
    """A page of the user's watchlist, most recently changed first: movie rows with the
    entry's `status`, `entry_created_at` and `entry_updated_at`."""
    return await db.fetch(
        select(
            WatchlistEntry.movie_id,
            WatchlistEntry.status,
            WatchlistEntry.created_at.label("entry_created_at"),
            WatchlistEntry.updated_at.label("entry_updated_at"),
            *MOVIE_COLUMNS,
        )
        .join(Movie, Movie.id == WatchlistEntry.movie_id)
        .where(*_watchlist_conditions(user_id, status))
        .order_by(WatchlistEntry.updated_at.desc(), WatchlistEntry.movie_id.desc())
        .offset(offset)
        .limit(limit)
    )


async def movie_ids_by_tmdb_id(db: Database, tmdb_ids: Sequence[int]) -> dict[int, int]:
    """The catalog's movies with these TMDb ids: TMDb id -> movie id (one statement)."""
    if not tmdb_ids:
        return {}
    rows = await db.fetch(select(Movie.tmdb_id, Movie.id).where(Movie.tmdb_id.in_(list(tmdb_ids))))
    return {row.tmdb_id: row.id for row in rows}
