"""Reviews through the real ASGI app: create/update/delete, votes, moderation, visibility."""

from __future__ import annotations

from typing import Any

import pytest

from db.session import Database
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import create_movie, create_review, create_user

CREATE = """
mutation ($input: CreateReviewInput!) {
  createReview(input: $input) {
    review { id rating title body isSpoiler isAnonymous status verifiedPurchase isMine
             author { username } movie { id averageRating reviewCount } }
    errors { code field message }
  }
}
"""
UPDATE = """
mutation ($input: UpdateReviewInput!) {
  updateReview(input: $input) {
    review { id rating title body isAnonymous movie { averageRating } }
    errors { code field message }
  }
}
"""
DELETE = """
mutation ($input: DeleteReviewInput!) {
  deleteReview(input: $input) { deletedReviewId errors { code field message } }
}
"""
VOTE = """
mutation ($input: VoteReviewInput!) {
  voteReview(input: $input) {
    review { id helpfulCount unhelpfulCount viewerVote }
    errors { code field message }
  }
}
"""
MODERATE = """
mutation ($input: ModerateReviewInput!) {
  moderateReview(input: $input) {
    review { id status moderationReason }
    errors { code field message }
  }
}
"""
MOVIE_REVIEWS = """
query ($id: ID!, $sort: ReviewSort, $first: Int, $after: String) {
  movie(id: $id) {
    averageRating reviewCount
    viewerReview { id status }
    reviews(sort: $sort, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id rating status isMine isAnonymous author { username } } }
    }
  }
}
"""
COUNT_REVIEWS = "SELECT count(*) FROM reviews"


def _create_input(movie_id: int, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "movieId": to_global_id("Movie", movie_id),
        "rating": 8,
        "title": "Great",
        "body": "Loved every minute.",
    }
    data.update(over)
    return {"input": data}


async def _count(db: Database) -> int:
    from sqlalchemy import text

    return int(await db.scalar(text(COUNT_REVIEWS)))


async def test_create_review_updates_aggregates(gql: GraphQLClient, db: Database) -> None:
    alice = await create_user(db, username="alice")
    movie = await create_movie(db)
    payload = (await gql.execute(CREATE, _create_input(movie), token=gql.token_for(alice)))[
        "createReview"
    ]
    assert payload["errors"] == []
    review = payload["review"]
    assert review["rating"] == 8
    assert review["status"] == "PUBLISHED"
    assert review["verifiedPurchase"] is False
    assert review["isMine"] is True
    assert review["author"] == {"username": "alice"}
    assert review["movie"]["averageRating"] == 8.0
    assert review["movie"]["reviewCount"] == 1

    bob = await create_user(db, username="bob")
    await gql.execute(CREATE, _create_input(movie, rating=5), token=gql.token_for(bob))
    data = await gql.execute(MOVIE_REVIEWS, {"id": to_global_id("Movie", movie)})
    assert data["movie"]["averageRating"] == 6.5
    assert data["movie"]["reviewCount"] == 2


async def test_second_review_already_exists(gql: GraphQLClient, db: Database) -> None:
    alice = await create_user(db)
    movie = await create_movie(db)
    token = gql.token_for(alice)
    await gql.execute(CREATE, _create_input(movie), token=token)
    payload = (await gql.execute(CREATE, _create_input(movie, rating=2), token=token))[
        "createReview"
    ]
    assert payload["review"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("ALREADY_EXISTS", "movieId")]
    assert await _count(db) == 1


async def test_anonymous_must_sign_in(gql: GraphQLClient, db: Database) -> None:
    movie = await create_movie(db)
    body = await gql.raw(CREATE, _create_input(movie))
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("over", "code", "field"),
    [
        ({"rating": 0}, "VALIDATION_ERROR", "rating"),
        ({"rating": 11}, "VALIDATION_ERROR", "rating"),
        ({"title": "t" * 201}, "VALIDATION_ERROR", "title"),
        ({"body": "b" * 10_001}, "VALIDATION_ERROR", "body"),
        ({"movieId": "not-an-id"}, "VALIDATION_ERROR", "movieId"),
        ({"movieId": to_global_id("User", 1)}, "VALIDATION_ERROR", "movieId"),
        ({"movieId": to_global_id("Movie", 999_999)}, "NOT_FOUND", "movieId"),
    ],
)
async def test_create_review_bad_input(
    gql: GraphQLClient, db: Database, over: dict[str, Any], code: str, field: str
) -> None:
    user = await create_user(db)
    movie = await create_movie(db)
    payload = (await gql.execute(CREATE, _create_input(movie, **over), token=gql.token_for(user)))[
        "createReview"
    ]
    assert payload["review"] is None
    assert (payload["errors"][0]["code"], payload["errors"][0]["field"]) == (code, field)
    assert await _count(db) == 0


async def test_wrong_variable_types_are_bad_user_input(gql: GraphQLClient, db: Database) -> None:
    user = await create_user(db)
    movie = await create_movie(db)
    for over in ({"rating": "ten"}, {"rating": 8.5}, {"isSpoiler": "yes"}, {"rating": None}):
        body = await gql.raw(CREATE, _create_input(movie, **over), token=gql.token_for(user))
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert await _count(db) == 0


async def test_update_and_delete_author_or_staff(gql: GraphQLClient, db: Database) -> None:
    alice = await create_user(db)
    bob = await create_user(db)
    staff = await create_user(db, role="MANAGER")
    movie = await create_movie(db)
    review = await create_review(db, user_id=alice.id, movie_id=movie, rating=6)
    rid = to_global_id("Review", review)

    body = await gql.raw(
        UPDATE, {"input": {"reviewId": rid, "rating": 1}}, token=gql.token_for(bob)
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    payload = (
        await gql.execute(
            UPDATE,
            {"input": {"reviewId": rid, "rating": 9, "title": None}},
            token=gql.token_for(alice),
        )
    )["updateReview"]
    assert payload["errors"] == []
    assert payload["review"]["rating"] == 9
    assert payload["review"]["title"] is None
    assert payload["review"]["movie"]["averageRating"] == 9.0

    bad = (
        await gql.execute(
            UPDATE, {"input": {"reviewId": rid, "rating": 12}}, token=gql.token_for(alice)
        )
    )["updateReview"]
    assert bad["errors"][0]["code"] == "VALIDATION_ERROR"

    body = await gql.raw(DELETE, {"input": {"reviewId": rid}}, token=gql.token_for(bob))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await _count(db) == 1
    payload = (await gql.execute(DELETE, {"input": {"reviewId": rid}}, token=gql.token_for(staff)))[
        "deleteReview"
    ]
    assert payload == {"deletedReviewId": rid, "errors": []}
    data = await gql.execute(MOVIE_REVIEWS, {"id": to_global_id("Movie", movie)})
    assert data["movie"]["reviewCount"] == 0
    assert data["movie"]["averageRating"] is None

    payload = (await gql.execute(DELETE, {"input": {"reviewId": rid}}, token=gql.token_for(staff)))[
        "deleteReview"
    ]
    assert payload["errors"][0]["code"] == "NOT_FOUND"


async def test_votes_one_per_user_changeable_not_own(gql: GraphQLClient, db: Database) -> None:
    alice = await create_user(db)
    bob = await create_user(db)
    chloe = await create_user(db)
    movie = await create_movie(db)
    rid = to_global_id("Review", await create_review(db, user_id=alice.id, movie_id=movie))

    async def vote(user: Any, helpful: bool | None) -> dict[str, Any]:
        variables = {"input": {"reviewId": rid, "helpful": helpful}}
        result: dict[str, Any] = (await gql.execute(VOTE, variables, token=gql.token_for(user)))[
            "voteReview"
        ]
        return result

    own = await vote(alice, True)
    assert own["errors"][0]["code"] == "OWN_REVIEW"
    first = await vote(bob, True)
    assert first["review"] == {
        "id": rid,
        "helpfulCount": 1,
        "unhelpfulCount": 0,
        "viewerVote": True,
    }
    again = await vote(bob, True)
    assert again["review"]["helpfulCount"] == 1
    changed = await vote(bob, False)
    assert (changed["review"]["helpfulCount"], changed["review"]["unhelpfulCount"]) == (0, 1)
    other = await vote(chloe, True)
    assert (other["review"]["helpfulCount"], other["review"]["unhelpfulCount"]) == (1, 1)
    withdrawn = await vote(bob, None)
    assert (withdrawn["review"]["helpfulCount"], withdrawn["review"]["unhelpfulCount"]) == (1, 0)
    assert withdrawn["review"]["viewerVote"] is None


async def test_hidden_reviews_visible_to_staff_and_author_only(
    gql: GraphQLClient, db: Database
) -> None:
    alice = await create_user(db, username="alice_h")
    bob = await create_user(db, username="bob_h")
    staff = await create_user(db, role="MANAGER")
    movie = await create_movie(db)
    await create_review(db, user_id=bob.id, movie_id=movie, rating=10)
    review = await create_review(db, user_id=alice.id, movie_id=movie, rating=2)
    rid = to_global_id("Review", review)

    body = await gql.raw(
        MODERATE, {"input": {"reviewId": rid, "status": "HIDDEN"}}, token=gql.token_for(bob)
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    payload = (
        await gql.execute(
            MODERATE,
            {"input": {"reviewId": rid, "status": "HIDDEN", "reason": "Off-topic"}},
            token=gql.token_for(staff),
        )
    )["moderateReview"]
    assert payload["review"] == {"id": rid, "status": "HIDDEN", "moderationReason": "Off-topic"}

    variables = {"id": to_global_id("Movie", movie)}
    anon = (await gql.execute(MOVIE_REVIEWS, variables))["movie"]
    assert anon["reviewCount"] == 1
    assert anon["averageRating"] == 10.0
    assert anon["reviews"]["totalCount"] == 1
    as_bob = (await gql.execute(MOVIE_REVIEWS, variables, token=gql.token_for(bob)))["movie"]
    assert [e["node"]["id"] for e in as_bob["reviews"]["edges"]] != [rid]
    assert as_bob["reviews"]["totalCount"] == 1
    as_alice = (await gql.execute(MOVIE_REVIEWS, variables, token=gql.token_for(alice)))["movie"]
    assert as_alice["reviews"]["totalCount"] == 2
    assert as_alice["viewerReview"] == {"id": rid, "status": "HIDDEN"}
    assert as_alice["reviewCount"] == 1  # hidden reviews never count
    as_staff = (await gql.execute(MOVIE_REVIEWS, variables, token=gql.token_for(staff)))["movie"]
    assert as_staff["reviews"]["totalCount"] == 2

    # Nobody else can vote on (or even find) a hidden review.
    vote = (
        await gql.execute(
            VOTE, {"input": {"reviewId": rid, "helpful": True}}, token=gql.token_for(bob)
        )
    )["voteReview"]
    assert vote["errors"][0]["code"] == "NOT_FOUND"
    node = await gql.execute("query ($id: ID!) { node(id: $id) { id } }", {"id": rid})
    assert node["node"] is None

    payload = (
        await gql.execute(
            MODERATE,
            {"input": {"reviewId": rid, "status": "PUBLISHED"}},
            token=gql.token_for(staff),
        )
    )["moderateReview"]
    assert payload["review"]["status"] == "PUBLISHED"
    assert (await gql.execute(MOVIE_REVIEWS, variables))["movie"]["reviewCount"] == 2


async def test_moderate_bad_enum_is_bad_user_input(gql: GraphQLClient, db: Database) -> None:
    staff = await create_user(db, role="ADMIN")
    body = await gql.raw(
        MODERATE,
        {"input": {"reviewId": to_global_id("Review", 1), "status": "DELETED"}},
        token=gql.token_for(staff),
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_anonymous_review_hides_author_except_to_author(
    gql: GraphQLClient, db: Database
) -> None:
    alice = await create_user(db, username="alice_anon")
    bob = await create_user(db)
    movie = await create_movie(db)
    await create_review(db, user_id=alice.id, movie_id=movie, is_anonymous=True)
    variables = {"id": to_global_id("Movie", movie)}
    for token in (None, gql.token_for(bob)):
        node = (await gql.execute(MOVIE_REVIEWS, variables, token=token))["movie"]["reviews"][
            "edges"
        ][0]["node"]
        assert node["author"] is None
        assert node["isMine"] is False
        assert node["isAnonymous"] is True
    node = (await gql.execute(MOVIE_REVIEWS, variables, token=gql.token_for(alice)))["movie"][
        "reviews"
    ]["edges"][0]["node"]
    assert node["author"] == {"username": "alice_anon"}
    assert node["isMine"] is True


async def test_review_sorts_and_paging(gql: GraphQLClient, db: Database) -> None:
    movie = await create_movie(db)
    users = [await create_user(db) for _ in range(5)]
    ratings = [5, 9, 2, 9, 7]
    ids = [
        await create_review(db, user_id=u.id, movie_id=movie, rating=r)
        for u, r in zip(users, ratings, strict=True)
    ]
    voter = await create_user(db)
    await gql.execute(
        VOTE,
        {"input": {"reviewId": to_global_id("Review", ids[2]), "helpful": True}},
        token=gql.token_for(voter),
    )
    variables: dict[str, Any] = {"id": to_global_id("Movie", movie)}

    async def order(sort: str) -> list[int]:
        data = await gql.execute(MOVIE_REVIEWS, {**variables, "sort": sort, "first": 10})
        return [e["node"]["rating"] for e in data["movie"]["reviews"]["edges"]]

    assert await order("HIGHEST") == [9, 9, 7, 5, 2]
    assert await order("LOWEST") == [2, 5, 7, 9, 9]
    assert await order("NEWEST") == list(reversed(ratings))
    assert (await order("MOST_HELPFUL"))[0] == 2

    seen: list[str] = []
    after = None
    while True:
        data = await gql.execute(
            MOVIE_REVIEWS, {**variables, "sort": "HIGHEST", "first": 2, "after": after}
        )
        page = data["movie"]["reviews"]
        assert page["totalCount"] == 5
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(set(seen)) == 5

    body = await gql.raw(MOVIE_REVIEWS, {**variables, "first": 101})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await gql.raw(MOVIE_REVIEWS, {**variables, "sort": "FUNNIEST"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
