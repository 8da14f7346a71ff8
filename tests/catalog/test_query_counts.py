"""N+1 guards: the SQL statements of a query must not grow with the page size."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from db.accounts.models import User
from db.catalog.models import Favorite, Genre, Movie, WatchlistEntry, movie_genres
from db.reviews import actions as review_actions
from db.reviews.models import Review, ReviewVote
from db.session import Database, capture_statements
from graph.relay import to_global_id
from tests.conftest import GraphQLClient

ISSUE_QUERY = """
query ($first: Int) {
  movies(first: $first, sort: POPULARITY) { totalCount edges { node {
    id title year genres { name } averageRating reviewCount
    reviews(first: 3) { edges { node { rating title author { username } } } } } } }
}
"""
VIEWER_QUERY = """
query ($first: Int) {
  movies(first: $first, sort: RATING) { edges { node {
    id isFavorite watchlistStatus viewerReview { id rating }
    similar(first: 2) { title genres { name } }
    reviews(first: 2, sort: MOST_HELPFUL) { totalCount edges { node {
      author { username } viewerVote movie { title } } } } } } }
}
"""
ME_FAVORITES = """
query ($first: Int) {
  me {
    favorites(first: $first) { totalCount edges { node {
      title genres { name } averageRating isFavorite watchlistStatus
      reviews(first: 2) { edges { node { author { username } } } } } } }
    watchlist(first: $first) { totalCount edges { node {
      status movie { title genres { name } } } } }
  }
}
"""
MOVIE_REVIEWS = """
query ($id: ID!, $first: Int) {
  movie(id: $id) { reviews(first: $first) { totalCount edges { node {
    rating author { id username } movie { title } } } } }
}
"""
N = 60


async def _seed(db: Database) -> dict[str, Any]:
    """60 movies with 2 genres each, 60 users, 3+ reviews per movie, favorites, votes."""
    async with db.transaction() as session:
        user_ids = list(
            (
                await session.scalars(
                    insert(User)
                    .returning(User.id)
                    .values(
                        [
                            {
                                "username": f"qc{i}",
                                "email": f"qc{i}@example.com",
                                "password_hash": "x",
                            }
                            for i in range(N)
                        ]
                    )
                )
            ).all()
        )
        genre_ids = list(
            (
                await session.scalars(
                    insert(Genre)
                    .returning(Genre.id)
                    .values([{"name": f"QC genre {i}"} for i in range(5)])
                )
            ).all()
        )
        movie_ids = list(
            (
                await session.scalars(
                    insert(Movie)
                    .returning(Movie.id)
                    .values([{"title": f"QC {i}", "popularity": float(i)} for i in range(N)])
                )
            ).all()
        )
        await session.execute(
            insert(movie_genres),
            [
                {"movie_id": m, "genre_id": genre_ids[(i + k) % 5]}
                for i, m in enumerate(movie_ids)
                for k in range(2)
            ],
        )
        reviews = [
            {
                "movie_id": m,
                "user_id": user_ids[(i + k) % N],
                "rating": 1 + (i + k) % 10,
                "title": f"T{k}",
                "body": "text",
                "is_anonymous": k == 2,
            }
            for i, m in enumerate(movie_ids)
            for k in range(4)
        ]
        review_ids = list(
            (await session.scalars(insert(Review).returning(Review.id).values(reviews))).all()
        )
        viewer = user_ids[0]
        await session.execute(
            insert(ReviewVote),
            [{"review_id": r, "user_id": user_ids[1], "is_helpful": True} for r in review_ids],
        )
        await session.execute(
            insert(Favorite), [{"user_id": viewer, "movie_id": m} for m in movie_ids]
        )
        await session.execute(
            insert(WatchlistEntry),
            [{"user_id": viewer, "movie_id": m, "status": "WATCHED"} for m in movie_ids],
        )
        for m in movie_ids:
            await review_actions.refresh_movie_stats(session, m)
    return {"viewer": viewer, "movies": movie_ids}


async def _count(
    gql: GraphQLClient, query: str, variables: dict[str, Any], token: str | None = None
) -> tuple[int, list[str], dict[str, Any]]:
    with capture_statements() as log:
        data = await gql.execute(query, variables, token=token)
    return len(log), list(log), data


async def _assert_flat(
    gql: GraphQLClient,
    query: str,
    variables: dict[str, Any],
    token: str | None = None,
) -> list[dict[str, Any]]:
    small, _, small_data = await _count(gql, query, {**variables, "first": 5}, token)
    big, big_log, big_data = await _count(gql, query, {**variables, "first": 50}, token)
    assert small == big, f"{small} statements for first=5, {big} for first=50:\n" + "\n---\n".join(
        big_log
    )
    return [small_data, big_data]


def _token(gql: GraphQLClient, user_id: int) -> str:
    from graph.auth import create_access_token

    return create_access_token(user_id, "CUSTOMER", gql.settings)


async def test_issue_query_is_flat(gql: GraphQLClient, db: Database) -> None:
    await _seed(db)
    _, big = await _assert_flat(gql, ISSUE_QUERY, {})
    edges = big["movies"]["edges"]
    assert len(edges) == 50
    assert all(len(e["node"]["reviews"]["edges"]) == 3 for e in edges)
    assert all(len(e["node"]["genres"]) == 2 for e in edges)
    # One statement: the page with its total, genres, and each movie's page of card reviews
    # with their authors (db list_movies `reviews`).
    with capture_statements() as log:
        await gql.execute(ISSUE_QUERY, {"first": 20})
    assert len(log) == 1, "\n---\n".join(log)


async def test_viewer_fields_are_flat(gql: GraphQLClient, db: Database) -> None:
    seeded = await _seed(db)
    await _assert_flat(gql, VIEWER_QUERY, {}, token=_token(gql, seeded["viewer"]))


async def test_me_favorites_is_flat(gql: GraphQLClient, db: Database) -> None:
    seeded = await _seed(db)
    _, big = await _assert_flat(gql, ME_FAVORITES, {}, token=_token(gql, seeded["viewer"]))
    assert big["me"]["favorites"]["totalCount"] == N
    assert len(big["me"]["favorites"]["edges"]) == 50
    assert len(big["me"]["watchlist"]["edges"]) == 50


async def test_movie_reviews_authors_is_flat(gql: GraphQLClient, db: Database) -> None:
    seeded = await _seed(db)
    movie = seeded["movies"][0]
    # 60 reviews on one movie, by 60 different authors.
    async with db.transaction() as session:
        users = list((await session.scalars(select(User.id))).all())
        have = set(
            (await session.scalars(select(Review.user_id).where(Review.movie_id == movie))).all()
        )
        await session.execute(
            insert(Review),
            [
                {"movie_id": movie, "user_id": u, "rating": 5, "body": "more"}
                for u in users
                if u not in have
            ],
        )
    _, big = await _assert_flat(gql, MOVIE_REVIEWS, {"id": to_global_id("Movie", movie)})
    assert len(users) == N
    edges = big["movie"]["reviews"]["edges"]
    assert big["movie"]["reviews"]["totalCount"] == N
    assert len(edges) == 50
    # 50 reviews by 50 different authors, every one loaded (none anonymous here)
    assert len({e["node"]["author"]["id"] for e in edges if e["node"]["author"]}) == 50
