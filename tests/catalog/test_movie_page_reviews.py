"""A movie list whose nodes select one page of card reviews reads those pages, and their
authors, in its own statement (db list_movies `reviews`, graph/reviews/loaders.py
`prime_review_cards`): the same answers as each movie's reviews read through their loader,
for every kind of viewer, with filters and without."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from db.reviews.models import Review
from db.session import Database, capture_statements
from tests.conftest import GraphQLClient
from tests.factories import create_genre, create_movie, create_review, create_user

REVIEWS = (
    "reviews(first: 2, sort: HIGHEST) { totalCount edges { cursor node { id rating title "
    "isMine author { id displayName username } } } pageInfo { hasNextPage endCursor } }"
)
PAGE = (
    "query ($filter: MovieFilter) { movies(first: 10, filter: $filter) { edges { node { id %s "
    "} } } }"
)
ONE = "query ($id: ID!) { movie(id: $id) { id %s } }"


async def test_the_page_of_reviews_comes_with_the_movie_list(
    gql: GraphQLClient, db: Database
) -> None:
    genre = await create_genre(db, "Page noir")
    movies = [
        await create_movie(db, title=f"Paged {i}", popularity=10 - i, genre_ids=[genre])
        for i in range(4)
    ]
    writer, other = await create_user(db), await create_user(db)
    staff = await create_user(db, role="ADMIN")
    hidden = await create_review(db, user_id=writer.id, movie_id=movies[0], rating=10, title="Mine")
    await create_review(db, user_id=other.id, movie_id=movies[0], rating=8, title="Theirs")
    await create_review(db, user_id=staff.id, movie_id=movies[0], rating=6, is_anonymous=True)
    await create_review(db, user_id=other.id, movie_id=movies[1], rating=5, is_anonymous=True)
    async with db.transaction() as session:
        await session.execute(update(Review).where(Review.id == hidden).values(status="HIDDEN"))

    seen: list[Any] = []
    for token in (None, gql.token_for(writer), gql.token_for(staff)):
        for variables in ({}, {"filter": {"genreIds": [_genre_id(genre)]}}):
            with capture_statements() as log:
                data = await gql.execute(PAGE % REVIEWS, variables, token=token)
            # One statement, and the viewer's row when signed in.
            assert len([s for s in log if not s.startswith("SELECT users.")]) == 1, log
            nodes = {e["node"]["id"]: e["node"] for e in data["movies"]["edges"]}
            for node in nodes.values():
                alone = await gql.execute(ONE % REVIEWS, {"id": node["id"]}, token=token)
                assert node == alone["movie"]
            seen.append(nodes)
    # What differs by viewer: the hidden review for its writer and staff, names for staff.
    first = [s[_movie_id(movies[0])]["reviews"] for s in seen[::2]]
    assert [r["totalCount"] for r in first] == [2, 3, 3]
    assert first[1]["edges"][0]["node"]["isMine"] is True
    assert first[1]["edges"][0]["node"]["author"]["username"] == writer.username
    assert first[0]["edges"][0]["node"]["author"]["username"] is None
    assert seen[0] == seen[1]  # the filter changes nothing here


def _genre_id(pk: int) -> str:
    from graph.relay import to_global_id

    return to_global_id("Genre", pk)


def _movie_id(pk: int) -> str:
    from graph.relay import to_global_id

    return to_global_id("Movie", pk)
