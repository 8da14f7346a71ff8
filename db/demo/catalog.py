"""Demo catalog: real films, genres, extra demo reviewers, reviews, votes, favorites and
watchlists, so GraphiQL has something worth browsing."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts.models import User
from db.accounts.passwords import hash_password
from db.catalog import tmdb
from db.catalog.models import Favorite, Movie, WatchlistEntry
from db.demo.accounts import DEMO_PASSWORD
from db.reviews.models import Review, ReviewVote

# The films in TMDb's `/movie/{id}` format, loaded by the TMDb importer. Overviews are written
# for Marquee; money is USD (worldwide box office where known, else 0 as in TMDb);
# `popularity` is a snapshot; `vote_average` is the film's usual audience score out of 10,
# which the demo reviews follow. The 4 films whose TMDb id is unknown have no `id`.
FILMS_JSON = Path(__file__).with_name("films.json")

REVIEWERS = [
    ("ingrid_b", "Ingrid Berg"),
    ("kenji_m", "Kenji Matsuda"),
    ("lucia_r", "Lucía Romero"),
    ("olaf_k", "Olaf Kristiansen"),
    ("priya_s", "Priya Sharma"),
    ("tomas_n", "Tomáš Novák"),
    ("amara_o", "Amara Okafor"),
    ("sven_l", "Sven Larsson"),
    ("marta_w", "Marta Wiśniewska"),
    ("diego_f", "Diego Fernández"),
    ("yuki_t", "Yuki Tanaka"),
    ("noah_g", "Noah Goldberg"),
    ("elena_p", "Elena Petrova"),
    ("fatima_z", "Fatima Zahra"),
    ("liam_o", "Liam O'Connor"),
    ("sofia_c", "Sofia Costa"),
    ("arjun_k", "Arjun Kapoor"),
    ("hannah_m", "Hannah Müller"),
]
CUSTOMERS = ("alice", "bob", "chloe", "dmitri")

OPENINGS = {
    "high": [
        "An absolute masterpiece.",
        "One of the best films I have ever seen.",
        "Every frame of this is a gift.",
        "I keep coming back to this one.",
        "Worth every minute of its running time.",
    ],
    "mid": [
        "Good, but not the classic people say it is.",
        "Solid and well made, if a little uneven.",
        "I enjoyed it more than I expected.",
        "Some brilliant moments, some slow ones.",
    ],
    "low": [
        "Not for me, I'm afraid.",
        "I wanted to love it and didn't.",
        "Overrated, in my honest opinion.",
        "Beautifully shot, but it left me cold.",
    ],
}
MIDDLES = [
    "{director} directs with total confidence",
    "{lead} gives a performance I won't forget",
    "{director} never wastes a scene",
    "{lead} and {second} have wonderful chemistry",
    "the score does half of the storytelling",
    "the pacing in the second half is something else",
    "the production design is worth the ticket alone",
]
CLOSINGS = [
    "See it on the biggest screen you can find.",
    "Bring tissues.",
    "It rewards a second viewing.",
    "The ending stayed with me for days.",
    "Not perfect, but it has a heart.",
    "Perfect for a rainy Sunday.",
]
TITLES = {
    "high": ["A masterpiece", "Unforgettable", "Pure cinema", "Believe the hype", None],
    "mid": ["Worth a watch", "Good, not great", "Mixed feelings", None],
    "low": ["Not for me", "Overrated", "Disappointing", None],
}


def _review_text(
    film: Mapping[str, Any], rating: int, rng: random.Random
) -> tuple[str | None, str]:
    mood = "high" if rating >= 8 else "mid" if rating >= 5 else "low"
    cast = film["cast_members"] or ["the cast"]
    middle = rng.choice(MIDDLES).format(
        director=film["director"].split(",")[0],
        lead=cast[0],
        second=cast[1] if len(cast) > 1 else "the supporting cast",
    )
    body = f"{rng.choice(OPENINGS[mood])} {middle[0].upper()}{middle[1:]}. {rng.choice(CLOSINGS)}"
    return rng.choice(TITLES[mood]), body


def _rating(score: float, rng: random.Random) -> int:
    return max(1, min(10, round(rng.gauss(score, 1.3))))


async def seed(session: AsyncSession, rng: random.Random, lines: list[str]) -> None:
    # Movies and their genres, through the importer.
    items = tmdb.read_path(FILMS_JSON)
    report = await tmdb.import_movies(session, items)
    if report.skipped:
        raise tmdb.TmdbError(f"{FILMS_JSON.name}: not imported: {'; '.join(report.skipped)}")
    movie_ids = report.movie_ids
    films = [tmdb.parse_movie(item)[0] for item in items]
    scores = [float(item["vote_average"]) for item in items]
    names = {g["name"] for item in items for g in item["genres"]}

    # Demo reviewers (same password as the demo accounts), plus the demo customers.
    hashed = hash_password(DEMO_PASSWORD)
    await session.execute(
        insert(User),
        [
            {
                "username": u,
                "email": f"{u}@marquee.test",
                "password_hash": hashed,
                "full_name": name,
            }
            for u, name in REVIEWERS
        ],
    )
    usernames = [u for u, _ in REVIEWERS] + list(CUSTOMERS)
    user_ids = dict(
        (
            await session.execute(
                select(User.username, User.id).where(User.username.in_(usernames))
            )
        ).all()
    )
    reviewers = [user_ids[u] for u in usernames if u in user_ids]

    # Reviews: 3 to 8 per film, spread over the last two years.
    now = datetime.now(UTC)
    reviews: list[dict[str, object]] = []
    for mid, film, score in zip(movie_ids, films, scores, strict=True):
        for uid in rng.sample(reviewers, rng.randint(3, 8)):
            rating = _rating(score, rng)
            written = _review_text(film, rating, rng)
            # Every 20th review is a rating without text (the text is still drawn, so the
            # random sequence and everything else the seed makes stay as they were).
            title, body = (None, None) if len(reviews) % 20 == 19 else written
            when = now - timedelta(days=rng.uniform(1, 730))
            reviews.append(
                {
                    "movie_id": mid,
                    "user_id": uid,
                    "rating": rating,
                    "title": title,
                    "body": body,
                    "is_spoiler": rng.random() < 0.08,
                    "is_anonymous": rng.random() < 0.1,
                    "created_at": when,
                    "updated_at": when,
                }
            )
    review_rows = (
        await session.execute(insert(Review).returning(Review.id, Review.user_id), reviews)
    ).all()

    # Votes: other users find most reviews helpful.
    votes = []
    for review_id, author_id in review_rows:
        for voter in rng.sample(reviewers, rng.randint(0, 4)):
            if voter != author_id:
                votes.append(
                    {"review_id": review_id, "user_id": voter, "is_helpful": rng.random() < 0.8}
                )
    if votes:
        await session.execute(insert(ReviewVote), votes)

    # Favorites and watchlists of the demo customers.
    favorites, watchlist = [], []
    for username in CUSTOMERS:
        customer = user_ids.get(username)
        if customer is None:
            continue
        picks = rng.sample(movie_ids, 12)
        favorites += [{"user_id": customer, "movie_id": m} for m in picks[:6]]
        watchlist += [
            {"user_id": customer, "movie_id": m, "status": rng.choice(WATCH_STATUSES)}
            for m in picks[6:]
        ]
    if favorites:
        await session.execute(insert(Favorite), favorites)
        await session.execute(insert(WatchlistEntry), watchlist)

    await refresh_all_aggregates(session)
    lines.append(
        f"demo catalog: {len(movie_ids)} films, {len(names)} genres, {len(reviews)} reviews, "
        f"{len(votes)} votes; reviewers {', '.join(u for u, _ in REVIEWERS[:3])}, ... "
        f"(password '{DEMO_PASSWORD}')"
    )


WATCH_STATUSES = ("WANT_TO_WATCH", "WATCHING", "WATCHED")


async def refresh_all_aggregates(session: AsyncSession) -> None:
    """Recompute every movie's rating aggregates and every review's vote tallies."""
    stats = (
        select(
            Review.movie_id,
            func.count().label("n"),
            func.round(func.avg(Review.rating), 2).label("avg"),
        )
        .where(Review.status == "PUBLISHED")
        .group_by(Review.movie_id)
        .subquery()
    )
    await session.execute(
        update(Movie)
        .where(Movie.id == stats.c.movie_id)
        .values(review_count=stats.c.n, average_rating=stats.c.avg)
    )
    tallies = (
        select(
            ReviewVote.review_id,
            func.count(case((ReviewVote.is_helpful, 1))).label("up"),
            func.count(case((ReviewVote.is_helpful.is_(False), 1))).label("down"),
        )
        .group_by(ReviewVote.review_id)
        .subquery()
    )
    await session.execute(
        update(Review)
        .where(Review.id == tallies.c.review_id)
        .values(helpful_count=tallies.c.up, unhelpful_count=tallies.c.down)
    )
