"""`sort: TRENDING` and `Movie.popularity`: recomputed from activity (tickets sold, reviews,
favorites, watchlist adds) by the periodic refresher, `marquee_refresh_popularity()`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import text

from db import demo
from db.session import Database
from graph.catalog.trending import refresh_once, start_trending_refresher
from graph.relay import to_global_id
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_movie, create_review, create_user

MOVIES = """
query ($sort: MovieSort, $first: Int, $after: String) {
  movies(sort: $sort, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id title popularity } }
  }
}
"""
ADD_FAVORITE = """
mutation ($input: FavoriteInput!) { addFavorite(input: $input) { errors { code } } }
"""
WATCH = """
mutation ($input: SetWatchlistStatusInput!) {
  setWatchlistStatus(input: $input) { errors { code } }
}
"""


def _ids(data: dict[str, Any]) -> list[str]:
    return [e["node"]["id"] for e in data["movies"]["edges"]]


async def _backdate(db: Database, table: str, movie_id: int, days: float) -> None:
    async with db.transaction() as session:
        await session.execute(
            text(f"UPDATE {table} SET created_at = :at WHERE movie_id = :m"),
            {"at": datetime.now(UTC) - timedelta(days=days), "m": movie_id},
        )


async def _scores(db: Database, *ids: int) -> list[tuple[float, float]]:
    rows = await db.fetch(
        text("SELECT id, popularity, trending_score FROM movies WHERE id = ANY(:ids)"),
        {"ids": list(ids)},
    )
    by_id = {r.id: (r.popularity, r.trending_score) for r in rows}
    return [by_id[i] for i in ids]


async def test_recent_activity_trends_old_activity_only_counts_all_time(
    gql: GraphQLClient, db: Database
) -> None:
    # The importer's numbers seed popularity until the first refresh.
    old = await create_movie(db, title="Classic", popularity=90.0)
    new = await create_movie(db, title="Rising", popularity=1.0)
    idle = await create_movie(db, title="Idle", popularity=50.0)
    users = [await create_user(db) for _ in range(4)]
    # Classic: four reviews and four favorites, all ten days old (outside the 7 days).
    for user in users:
        await create_review(db, user_id=user.id, movie_id=old)
        await gql.execute(
            ADD_FAVORITE, {"input": {"movieId": to_global_id("Movie", old)}}, gql.token_for(user)
        )
    await _backdate(db, "reviews", old, 10)
    await _backdate(db, "favorites", old, 10)
    # Rising: two favorites and a watchlist add through the API, now.
    for user in users[:2]:
        await gql.execute(
            ADD_FAVORITE, {"input": {"movieId": to_global_id("Movie", new)}}, gql.token_for(user)
        )
    await gql.execute(
        WATCH,
        {"input": {"movieId": to_global_id("Movie", new), "status": "WANT_TO_WATCH"}},
        gql.token_for(users[2]),
    )

    popular = await gql.execute(MOVIES, {"sort": "POPULARITY", "first": 3})
    assert [e["node"]["title"] for e in popular["movies"]["edges"]] == [
        "Classic",
        "Idle",
        "Rising",
    ]
    trending = await gql.execute(MOVIES, {"sort": "TRENDING", "first": 3})
    assert _ids(trending)[0] != to_global_id("Movie", new)  # not refreshed yet

    assert await refresh_once(db) == 3
    (old_pop, old_trend), (new_pop, new_trend), (idle_pop, idle_trend) = await _scores(
        db, old, new, idle
    )
    assert (old_pop, old_trend) == (4 * 2 + 4 * 1, 0.0)  # older than 7 days: not trending
    assert new_pop == 3.0
    assert 2.99 < new_trend <= 3.0  # barely decayed
    assert (idle_pop, idle_trend) == (0.0, 0.0)  # the job owns popularity now

    trending = await gql.execute(MOVIES, {"sort": "TRENDING", "first": 3})
    assert [e["node"]["title"] for e in trending["movies"]["edges"]] == [
        "Rising",
        "Idle",
        "Classic",
    ]  # ties (0) by id desc
    popular = await gql.execute(MOVIES, {"sort": "POPULARITY", "first": 3})
    assert [e["node"]["popularity"] for e in popular["movies"]["edges"]] == [12.0, 3.0, 0.0]

    # Nothing changed: the next refresh writes no row.
    assert await refresh_once(db) == 0

    # Decay: the same activity four days old weighs a quarter (half-life 2 days).
    await _backdate(db, "favorites", new, 4)
    await _backdate(db, "watchlist_entries", new, 4)
    assert await refresh_once(db) == 1
    [(_, decayed)] = await _scores(db, new)
    assert abs(decayed - 0.75) < 0.01


async def test_trending_pages_follow_the_full_order(gql: GraphQLClient, db: Database) -> None:
    users = [await create_user(db) for _ in range(3)]
    ids = [await create_movie(db, title=f"T{i}") for i in range(7)]
    for i, movie in enumerate(ids):
        for user in users[: i % 3]:  # scores 0, 1, 2, 0, 1, 2, 0: ties broken by id
            await gql.execute(
                ADD_FAVORITE,
                {"input": {"movieId": to_global_id("Movie", movie)}},
                gql.token_for(user),
            )
    await refresh_once(db)
    full = _ids(await gql.execute(MOVIES, {"sort": "TRENDING", "first": 100}))
    want = sorted(ids, key=lambda m: (-(ids.index(m) % 3), -m))
    assert full == [to_global_id("Movie", m) for m in want]
    seen: list[str] = []
    after = None
    while True:
        page = await gql.execute(MOVIES, {"sort": "TRENDING", "first": 2, "after": after})
        seen += _ids(page)
        if not page["movies"]["pageInfo"]["hasNextPage"]:
            break
        after = page["movies"]["pageInfo"]["endCursor"]
    assert seen == full


async def test_the_refresher_is_a_periodic_job_started_by_the_setting(db: Database) -> None:
    assert Settings().trending_interval_seconds == 600
    movie = await create_movie(db, popularity=7.0)
    off = SimpleNamespace(settings=Settings(trending_interval_seconds=0), db=db)
    stop = await start_trending_refresher(off)
    await asyncio.sleep(0.2)
    await stop()
    assert await _scores(db, movie) == [(7.0, 0.0)]  # 0: no refresher in this process

    on = SimpleNamespace(settings=Settings(trending_interval_seconds=0.05), db=db)
    stop = await start_trending_refresher(on)
    try:
        for _ in range(100):
            if await _scores(db, movie) == [(0.0, 0.0)]:
                break
            await asyncio.sleep(0.05)
    finally:
        await stop()
    assert await _scores(db, movie) == [(0.0, 0.0)]


async def test_one_refresh_at_a_time(committed_db: Database) -> None:
    await create_movie(committed_db, popularity=3.0)
    async with committed_db.transaction() as session:
        await session.execute(text("SELECT pg_advisory_xact_lock(x'4D515452'::int)"))
        assert await refresh_once(committed_db) is None  # another instance is refreshing
    assert await refresh_once(committed_db) == 1


async def test_demo_trending_differs_from_popularity(gql: GraphQLClient, db: Database) -> None:
    async with db.transaction() as session:
        lines = await demo.seed(session)
    assert any(line.startswith("demo trending: ") for line in lines)
    popular = _ids(await gql.execute(MOVIES, {"sort": "POPULARITY", "first": 10}))
    trending = _ids(await gql.execute(MOVIES, {"sort": "TRENDING", "first": 10}))
    # The rankings differ. Not necessarily in the top three: the demo orders' tickets of
    # this week count in both, and on some days they put the same films first in both.
    assert popular != trending
    # The refresh ran at the end of the seed: nothing is left to change.
    assert await refresh_once(db) == 0
