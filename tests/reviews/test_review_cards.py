"""A movie list's pages of reviews read card rows (db REVIEW_CARD_COLUMNS) when their nodes
select only REVIEW_CARD_FIELDS (graph/reviews/types.py): the same answers as whole rows,
and whole rows as soon as anything else is selected."""

from __future__ import annotations

from db.session import Database, capture_statements
from graph.reviews.types import REVIEW_CARD_FIELDS
from graph.schema import build_schema
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_movie, create_review, create_user

CARD_SCALARS = "id rating title isAnonymous status isMine createdAt"
WHOLE_ONLY = "body isSpoiler moderationReason helpfulCount unhelpfulCount updatedAt"
PAGE = """query { movies(first: 10) { edges { node { title
    reviews(first: 5, sort: MOST_HELPFUL) { totalCount edges { node { %s } } } } } } }"""
ONE = "query ($id: ID!) { node(id: $id) { ... on Review { %s } } }"


async def _reviews(db: Database) -> None:
    movie = await create_movie(db, title="Cards")
    for n, (body, spoiler) in enumerate([("A long text.", True), (None, False), ("Short.", False)]):
        user = await create_user(db)
        await create_review(
            db,
            user_id=user.id,
            movie_id=movie,
            rating=4 + n,
            title=f"Take {n}",
            body=body,
            is_spoiler=spoiler,
            is_anonymous=n == 1,
        )


def _review_statement(statements: list[str]) -> str:
    (found,) = [s for s in statements if "FROM reviews" in s and "position" in s]
    return found


def _nodes(page: dict[str, object]) -> list[dict[str, object]]:
    [movie] = page["movies"]["edges"]  # type: ignore[index]
    return [e["node"] for e in movie["node"]["reviews"]["edges"]]


def test_card_fields_are_fields_of_review(settings: Settings) -> None:
    review = build_schema(settings)._schema.type_map["Review"]
    assert REVIEW_CARD_FIELDS - {"__typename"} <= set(review.fields)  # type: ignore[attr-defined]
    assert set(CARD_SCALARS.split()) <= REVIEW_CARD_FIELDS
    assert not REVIEW_CARD_FIELDS & set(WHOLE_ONLY.split())


async def test_card_reviews_give_the_same_answers(gql: GraphQLClient, db: Database) -> None:
    await _reviews(db)
    with capture_statements() as statements:
        page = await gql.execute(PAGE % f"{CARD_SCALARS} author {{ id }}")
    sql = _review_statement(statements)
    assert "body" not in sql
    assert "helpful_count," not in sql.split("ORDER BY")[0].split("FROM")[0]
    nodes = _nodes(page)
    assert [n["title"] for n in nodes] == ["Take 2", "Take 1", "Take 0"]  # by votes, then newest
    assert nodes[1]["author"] is None  # anonymous
    for node in nodes:
        whole = await gql.execute(ONE % CARD_SCALARS, {"id": node["id"]})
        assert whole["node"] == {k: v for k, v in node.items() if k != "author"}


async def test_any_other_review_field_reads_whole_rows(gql: GraphQLClient, db: Database) -> None:
    await _reviews(db)
    with capture_statements() as statements:
        page = await gql.execute(PAGE % f"title {WHOLE_ONLY}")
    assert "body" in _review_statement(statements)
    by_title = {n["title"]: n for n in _nodes(page)}
    assert by_title["Take 0"]["body"] == "A long text."
    assert by_title["Take 0"]["isSpoiler"] is True
    assert by_title["Take 1"]["body"] is None
    assert by_title["Take 2"]["helpfulCount"] == 0
    assert by_title["Take 2"]["updatedAt"] is not None
