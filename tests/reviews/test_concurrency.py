"""Concurrent reviews and votes (real commits): the stored aggregates stay exact."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from db.session import Database
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import create_movie, create_review, create_user

CREATE = """
mutation ($input: CreateReviewInput!) {
  createReview(input: $input) { review { id } errors { code } }
}
"""
VOTE = """
mutation ($input: VoteReviewInput!) {
  voteReview(input: $input) { review { id } errors { code } }
}
"""


async def test_concurrent_reviews_and_votes(
    committed_gql: GraphQLClient, committed_db: Database
) -> None:
    movie = await create_movie(committed_db)
    users = [await create_user(committed_db) for _ in range(6)]
    ratings = [10, 9, 8, 7, 6, 5]
    results = await asyncio.gather(
        *(
            committed_gql.execute(
                CREATE,
                {
                    "input": {
                        "movieId": to_global_id("Movie", movie),
                        "rating": r,
                        "body": "Concurrent.",
                    }
                },
                token=committed_gql.token_for(u),
            )
            for u, r in zip(users, ratings, strict=True)
        )
    )
    assert all(r["createReview"]["errors"] == [] for r in results)
    row = (
        await committed_db.fetch(
            text(f"SELECT review_count, average_rating FROM movies WHERE id = {movie}")
        )
    )[0]
    assert row.review_count == 6
    assert float(row.average_rating) == 7.5

    author = await create_user(committed_db)
    review = await create_review(committed_db, user_id=author.id, movie_id=movie, rating=4)
    rid = to_global_id("Review", review)
    await asyncio.gather(
        *(
            committed_gql.execute(
                VOTE,
                {"input": {"reviewId": rid, "helpful": i % 2 == 0}},
                token=committed_gql.token_for(u),
            )
            for i, u in enumerate(users)
        )
    )
    counts = (
        await committed_db.fetch(
            text(f"SELECT helpful_count, unhelpful_count FROM reviews WHERE id = {review}")
        )
    )[0]
    assert (counts.helpful_count, counts.unhelpful_count) == (3, 3)
