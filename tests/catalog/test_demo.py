"""The demo catalog loads, is big enough to browse, and its aggregates are consistent."""

from __future__ import annotations

import random

from sqlalchemy import text

from db.demo import accounts as accounts_demo
from db.demo import catalog as catalog_demo
from db.session import Database
from tests.conftest import GraphQLClient

BROWSE = """
{ movies(first: 5, sort: RATING, filter: {search: "godfather"}) { totalCount edges { node {
    title director cast averageRating reviewCount genres { name }
    reviews(first: 3, sort: MOST_HELPFUL) { edges { node { rating body helpfulCount } } } } } }
}
"""


async def test_demo_catalog(gql: GraphQLClient, db: Database) -> None:
    lines: list[str] = []
    async with db.transaction() as session:
        rng = random.Random(1)
        await accounts_demo.seed(session, rng, lines)
        await catalog_demo.seed(session, rng, lines)
    assert await db.scalar(text("SELECT count(*) FROM movies")) >= 50
    assert await db.scalar(text("SELECT count(*) FROM reviews")) >= 250
    assert await db.scalar(text("SELECT count(*) FROM review_votes")) >= 200
    mismatched = await db.scalar(
        text(
            "SELECT count(*) FROM movies m WHERE m.review_count <> "
            "(SELECT count(*) FROM reviews r WHERE r.movie_id = m.id AND r.status = 'PUBLISHED')"
        )
    )
    assert mismatched == 0
    data = await gql.execute(BROWSE)
    node = data["movies"]["edges"][0]["node"]
    assert node["title"] == "The Godfather"
    assert node["director"] == "Francis Ford Coppola"
    assert node["reviewCount"] >= 3
    assert len(node["reviews"]["edges"]) == 3
    assert any(line.startswith("demo catalog") for line in lines)
