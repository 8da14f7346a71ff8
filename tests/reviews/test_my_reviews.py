"""Issue 15, "my activity": ratings without text, `me { reviews }`, `User.reviews`, and
`genres(search:)`, through the real ASGI app."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import text

from db.session import Database, capture_statements
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import create_genre, create_movie, create_review, create_user

CREATE = """
mutation ($input: CreateReviewInput!) {
  createReview(input: $input) {
    review { id rating title body movie { averageRating reviewCount } }
    errors { code field message }
  }
}
"""
UPDATE = """
mutation ($input: UpdateReviewInput!) {
  updateReview(input: $input) { review { id rating body } errors { code field message } }
}
"""
MODERATE = """
mutation ($id: ID!) {
  moderateReview(input: {reviewId: $id, status: HIDDEN}) { errors { code } }
}
"""
ME_REVIEWS = """
query ($first: Int, $after: String) {
  me { reviews(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { node { id rating body status isAnonymous isMine movie { title } } } } }
}
"""
USER_REVIEWS = """
query ($id: ID!, $first: Int, $after: String) {
  node(id: $id) { ... on User { reviews(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id rating body status author { id } } } } } }
}
"""
GENRES = "query ($search: String) { genres(search: $search) { name } }"


_minutes = itertools.count()


def _ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


async def test_rating_without_text(gql: GraphQLClient, db: Database) -> None:
    alice = await create_user(db)
    bob = await create_user(db)
    movie = await create_movie(db)
    mid = to_global_id("Movie", movie)
    token = gql.token_for(alice)
    payload = (await gql.execute(CREATE, {"input": {"movieId": mid, "rating": 6}}, token=token))[
        "createReview"
    ]
    assert payload["errors"] == []
    assert payload["review"]["body"] is None
    assert payload["review"]["movie"] == {"averageRating": 6.0, "reviewCount": 1}
    # Blank text is no text; a rating-only review counts in the aggregates.
    payload = (
        await gql.execute(
            CREATE,
            {"input": {"movieId": mid, "rating": 9, "body": "  \n ", "title": "Wow"}},
            token=gql.token_for(bob),
        )
    )["createReview"]
    assert payload["errors"] == []
    assert payload["review"]["body"] is None
    assert payload["review"]["title"] == "Wow"
    assert payload["review"]["movie"] == {"averageRating": 7.5, "reviewCount": 2}
    assert await db.scalar(text("SELECT count(*) FROM reviews WHERE body IS NULL")) == 2

    # Edit: add text, then remove it again (null and blank both leave the rating alone).
    rid = payload["review"]["id"]
    edited = (
        await gql.execute(
            UPDATE, {"input": {"reviewId": rid, "body": " Great. "}}, token=gql.token_for(bob)
        )
    )["updateReview"]
    assert edited["review"] == {"id": rid, "rating": 9, "body": "Great."}
    for cleared in (None, ""):
        edited = (
            await gql.execute(
                UPDATE, {"input": {"reviewId": rid, "body": cleared}}, token=gql.token_for(bob)
            )
        )["updateReview"]
        assert edited["errors"] == []
        assert edited["review"] == {"id": rid, "rating": 9, "body": None}


async def test_a_review_needs_a_rating(gql: GraphQLClient, db: Database) -> None:
    user = await create_user(db)
    movie = await create_movie(db)
    mid = to_global_id("Movie", movie)
    token = gql.token_for(user)
    # Neither rating nor text: the rating is the field at fault.
    body = await gql.raw(CREATE, {"input": {"movieId": mid}}, token=token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    payload = (await gql.execute(CREATE, {"input": {"movieId": mid, "rating": 0}}, token=token))[
        "createReview"
    ]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION_ERROR", "rating")]
    payload = (
        await gql.execute(
            CREATE, {"input": {"movieId": mid, "rating": 5, "body": "b" * 10_001}}, token=token
        )
    )["createReview"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION_ERROR", "body")]
    assert await db.scalar(text("SELECT count(*) FROM reviews")) == 0


async def _reviews_of(db: Database, user_id: int, n: int, **fields: Any) -> list[int]:
    """n reviews by the user of n new movies, created a minute apart, oldest first (and
    each call's reviews newer than the previous call's)."""
    ids = [
        await create_review(db, user_id=user_id, movie_id=await create_movie(db), **fields)
        for _ in range(n)
    ]
    async with db.transaction() as session:
        for pk in ids:
            await session.execute(
                text(
                    "UPDATE reviews SET created_at = now() - make_interval(mins => :m) "
                    "WHERE id = :id"
                ),
                {"m": 100_000 - next(_minutes), "id": pk},
            )
    return ids


def _gids(pks: list[int]) -> list[str]:
    return [to_global_id("Review", pk) for pk in pks]


async def test_me_reviews_lists_all_of_mine_newest_first(gql: GraphQLClient, db: Database) -> None:
    alice = await create_user(db)
    bob = await create_user(db)
    staff = await create_user(db, role="MANAGER")
    mine = await _reviews_of(db, alice.id, 3)
    anonymous = await _reviews_of(db, alice.id, 1, is_anonymous=True)
    rating_only = await _reviews_of(db, alice.id, 1, body=None)
    await _reviews_of(db, bob.id, 2)  # not alice's
    hidden = mine[0]
    await gql.execute(MODERATE, {"id": to_global_id("Review", hidden)}, token=gql.token_for(staff))

    token = gql.token_for(alice)
    everything = list(reversed(mine + anonymous + rating_only))
    data = (await gql.execute(ME_REVIEWS, {"first": 10}, token=token))["me"]["reviews"]
    assert data["totalCount"] == 5
    assert _ids(data) == _gids(everything)
    nodes = {e["node"]["id"]: e["node"] for e in data["edges"]}
    assert nodes[to_global_id("Review", hidden)]["status"] == "HIDDEN"
    assert nodes[to_global_id("Review", anonymous[0])]["isAnonymous"] is True
    assert nodes[to_global_id("Review", rating_only[0])]["body"] is None
    assert all(node["isMine"] for node in nodes.values())

    # Pages of 2 walk the same list.
    seen: list[str] = []
    after = None
    while True:
        page = (await gql.execute(ME_REVIEWS, {"first": 2, "after": after}, token=token))["me"][
            "reviews"
        ]
        seen += _ids(page)
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == _gids(everything)

    body = await gql.raw(ME_REVIEWS, {"first": 101}, token=token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await gql.raw(ME_REVIEWS, {"after": "nonsense"}, token=token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_user_reviews_are_public_and_published_only(gql: GraphQLClient, db: Database) -> None:
    alice = await create_user(db)
    bob = await create_user(db)
    staff = await create_user(db, role="MANAGER")
    public = await _reviews_of(db, alice.id, 3)
    anonymous = await _reviews_of(db, alice.id, 1, is_anonymous=True)
    await _reviews_of(db, bob.id, 2)
    await gql.execute(
        MODERATE, {"id": to_global_id("Review", public[1])}, token=gql.token_for(staff)
    )
    shown = _gids([public[2], public[0]])
    variables = {"id": to_global_id("User", alice.id), "first": 10}
    # Anyone (signed out, another user, staff, alice herself) sees the same public list: the
    # hidden review and the anonymous one (which would name its author) are not in it.
    for token in (None, gql.token_for(bob), gql.token_for(staff), gql.token_for(alice)):
        data = (await gql.execute(USER_REVIEWS, variables, token=token))["node"]["reviews"]
        assert data["totalCount"] == 2, token
        assert _ids(data) == shown
        assert {e["node"]["status"] for e in data["edges"]} == {"PUBLISHED"}
        assert {e["node"]["author"]["id"] for e in data["edges"]} == {variables["id"]}
    assert to_global_id("Review", anonymous[0]) not in shown

    page = (await gql.execute(USER_REVIEWS, {**variables, "first": 1}))["node"]["reviews"]
    assert _ids(page) == shown[:1]
    assert page["pageInfo"]["hasNextPage"] is True
    after = page["pageInfo"]["endCursor"]
    page = (await gql.execute(USER_REVIEWS, {**variables, "first": 1, "after": after}))["node"][
        "reviews"
    ]
    assert _ids(page) == shown[1:]
    assert page["pageInfo"]["hasNextPage"] is False

    # A user with no reviews: an empty connection.
    data = (await gql.execute(USER_REVIEWS, {"id": to_global_id("User", staff.id)}))["node"]
    assert data["reviews"] == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }


AUTHORS_REVIEWS = """
query ($id: ID!, $first: Int) {
  movie(id: $id) { reviews(first: $first) { edges { node { author {
    reviews(first: 3) { totalCount edges { node { rating movie { title } } } } } } } } }
}
"""


async def test_user_reviews_of_many_authors_is_flat(gql: GraphQLClient, db: Database) -> None:
    """Each author's reviews on a movie's page: one statement for all of them, whatever the
    page size."""
    movie = await create_movie(db)
    others = [await create_movie(db) for _ in range(3)]
    for _ in range(12):
        user = await create_user(db)
        await create_review(db, user_id=user.id, movie_id=movie)
        for other in others:
            await create_review(db, user_id=user.id, movie_id=other)
    variables = {"id": to_global_id("Movie", movie)}
    counts = []
    for first in (2, 12):
        with capture_statements() as log:
            data = await gql.execute(AUTHORS_REVIEWS, {**variables, "first": first})
        counts.append(len(log))
        edges = data["movie"]["reviews"]["edges"]
        assert len(edges) == first
        for edge in edges:
            reviews = edge["node"]["author"]["reviews"]
            assert reviews["totalCount"] == 4
            assert len(reviews["edges"]) == 3
    assert counts[0] == counts[1], counts

    user = await create_user(db)
    await _reviews_of(db, user.id, 30)
    with capture_statements() as small:
        await gql.execute(ME_REVIEWS, {"first": 2}, token=gql.token_for(user))
    with capture_statements() as big:
        await gql.execute(ME_REVIEWS, {"first": 30}, token=gql.token_for(user))
    assert len(small) == len(big), "\n---\n".join(big)


async def test_genres_search(gql: GraphQLClient, db: Database) -> None:
    for name in ("Science Fiction", "Comédie", "Drama", "Crime", "50%_off"):
        await create_genre(db, name)

    async def names(search: str | None) -> list[str]:
        return [g["name"] for g in (await gql.execute(GENRES, {"search": search}))["genres"]]

    everything = await names(None)
    assert set(everything) >= {"Science Fiction", "Comédie", "Drama", "Crime", "50%_off"}
    assert await names("") == everything
    assert await names("  ") == everything
    assert await names("FICTION") == ["Science Fiction"]
    assert await names("comedie") == ["Comédie"]
    assert await names("r") == [n for n in everything if "r" in n.lower()]
    assert await names("%") == ["50%_off"]
    assert await names("_") == ["50%_off"]
    assert await names("nothing like it") == []
    body = await gql.raw(GENRES, {"search": "x" * 201})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await gql.raw(GENRES, {"search": "a\x00b"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
