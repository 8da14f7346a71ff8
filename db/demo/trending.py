"""Demo activity for `sort: TRENDING`, then the first popularity refresh.

The catalog seeder's favorites and watchlist entries are written "now"; this step spreads
them over the past year (8 to 365 days ago), so they count in the all-time `popularity`
but not in the last 7 days. Then three "rising" films, the least popular active films of
the all-time ranking that have upcoming showtimes, get recent activity: every demo user
adds them to their watchlist 1 to 3 days ago (or, when it is already there, the entry is
moved to then). Finally `marquee_refresh_popularity()` runs, as the periodic refresher
would, so a fresh `make run` shows a TRENDING list that differs from POPULARITY at once.

Deterministic for a given day: it draws from its own generator, not the seed's, so the
seeders after it see the same random sequence as before.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts.models import User
from db.catalog.actions import refresh_popularity
from db.catalog.models import Favorite, Movie, WatchlistEntry

RISING = 3


async def seed(session: AsyncSession, _rng: random.Random, lines: list[str]) -> None:
    rng = random.Random(20261203)
    now = datetime.now(UTC)

    favorites = (
        await session.execute(
            select(Favorite.user_id, Favorite.movie_id).order_by(
                Favorite.user_id, Favorite.movie_id
            )
        )
    ).all()
    for user_id, movie_id in favorites:
        await session.execute(
            update(Favorite)
            .where(Favorite.user_id == user_id, Favorite.movie_id == movie_id)
            .values(created_at=now - timedelta(days=rng.uniform(8, 365)))
        )
    entries = (
        await session.execute(
            select(WatchlistEntry.user_id, WatchlistEntry.movie_id).order_by(
                WatchlistEntry.user_id, WatchlistEntry.movie_id
            )
        )
    ).all()
    for user_id, movie_id in entries:
        when = now - timedelta(days=rng.uniform(8, 365))
        await session.execute(
            update(WatchlistEntry)
            .where(WatchlistEntry.user_id == user_id, WatchlistEntry.movie_id == movie_id)
            .values(created_at=when, updated_at=when)
        )

    # The all-time ranking without the rising films' boost (the final refresh below
    # recomputes both scores with it).
    await refresh_popularity(session, now)
    has_showtimes = text("EXISTS (SELECT 1 FROM showtimes s WHERE s.movie_id = movies.id)")
    rising = list(
        (
            await session.scalars(
                select(Movie.id)
                .where(Movie.is_active.is_(True), has_showtimes)
                .order_by(Movie.popularity.asc(), Movie.id.asc())
                .limit(RISING)
            )
        ).all()
    )
    users = list((await session.scalars(select(User.id).order_by(User.id))).all())
    rows = []
    for movie_id in rising:
        for user_id in users:
            when = now - timedelta(days=rng.uniform(1, 3))
            rows.append(
                {
                    "user_id": user_id,
                    "movie_id": movie_id,
                    "status": "WANT_TO_WATCH",
                    "created_at": when,
                    "updated_at": when,
                }
            )
    if rows:
        stmt = pg_insert(WatchlistEntry).values(rows)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[WatchlistEntry.user_id, WatchlistEntry.movie_id],
                set_={"created_at": stmt.excluded.created_at, "updated_at": func.now()},
            )
        )
    changed = await refresh_popularity(session)
    titles = (
        await session.scalars(select(Movie.title).where(Movie.id.in_(rising)).order_by(Movie.id))
    ).all()
    lines.append(
        f"demo trending: {len(rows)} recent watchlist adds for {', '.join(titles)}; "
        f"popularity and trending of {changed or 0} movies refreshed"
    )
