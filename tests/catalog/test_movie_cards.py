"""Movie lists read card rows (db MOVIE_CARD_COLUMNS) when their nodes select only
CARD_FIELDS (graph/catalog/types.py): the same answers as whole rows, and whole rows as
soon as anything else is selected."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from db.session import Database, capture_statements
from graph.catalog.types import CARD_FIELDS
from graph.schema import build_schema
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_genre, create_movie, create_review, create_user

# Every plain (column-backed) card field, and every field a card cannot answer.
CARD_SCALARS = """id tmdbId title originalTitle releaseDate year durationMinutes ageRating
    posterUrl isActive popularity averageRating reviewCount"""
WHOLE_ONLY = """tagline description country countries director cast
    budget { amount currency } boxOffice { amount currency } trailerUrl createdAt updatedAt"""

LIST = "query { movies(first: 50) { totalCount edges { node { %s } } } }"
ONE = "query ($id: ID!) { movie(id: $id) { %s } }"


async def _catalog(db: Database) -> list[int]:
    genre = await create_genre(db, "Card drama")
    full = await create_movie(
        db,
        title="Le Samouraï",
        original_title="Le Samouraï",
        tagline="There is no solitude greater than that of the samurai.",
        description="A hitman's perfect alibi comes undone.",
        release_date=date(1967, 10, 25),
        year=1967,
        country="FR",
        countries=["FR", "IT"],
        duration_minutes=105,
        director="Jean-Pierre Melville",
        cast_members=["Alain Delon", "François Périer"],
        age_rating="12",
        budget=Decimal("1200000"),
        box_office=Decimal("3500000"),
        poster_url="https://example.com/samourai.jpg",
        trailer_url="https://example.com/samourai.mp4",
        tmdb_id=5511,
        genre_ids=[genre],
    )
    bare = await create_movie(db, title="Untitled short")  # nulls and empty lists
    user = await create_user(db)
    await create_review(db, user_id=user.id, movie_id=full, rating=9, title="Cool")
    return [full, bare]


def _list_statement(statements: list[str]) -> str:
    (found,) = [s for s in statements if "FROM movies" in s and "total_count" in s]
    return found


def test_card_fields_are_fields_of_movie(settings: Settings) -> None:
    """A misspelt name in CARD_FIELDS would never match, a removed field would linger."""
    movie = build_schema(settings)._schema.type_map["Movie"]
    assert CARD_FIELDS - {"__typename"} <= set(movie.fields)  # type: ignore[attr-defined]
    assert set(CARD_SCALARS.split()) <= CARD_FIELDS
    assert not CARD_FIELDS & {
        "tagline",
        "description",
        "country",
        "countries",
        "director",
        "cast",
        "budget",
        "boxOffice",
        "trailerUrl",
        "createdAt",
        "updatedAt",
    }


async def test_a_list_of_card_fields_reads_card_rows_with_the_same_answers(
    gql: GraphQLClient, db: Database
) -> None:
    ids = await _catalog(db)
    with capture_statements() as statements:
        cards = await gql.execute(LIST % CARD_SCALARS)
    sql = _list_statement(statements)
    assert "movies.description" not in sql
    assert "movies.budget" not in sql
    by_id = {e["node"]["id"]: e["node"] for e in cards["movies"]["edges"]}
    assert len(by_id) == len(ids)
    for node_id, node in by_id.items():
        # The same fields read one by one (MovieByIdLoader: whole rows).
        assert (await gql.execute(ONE % CARD_SCALARS, {"id": node_id}))["movie"] == node


async def test_any_other_field_makes_the_list_read_whole_rows(
    gql: GraphQLClient, db: Database
) -> None:
    await _catalog(db)
    with capture_statements() as statements:
        whole = await gql.execute(LIST % f"{CARD_SCALARS} {WHOLE_ONLY}")
    assert "movies.description" in _list_statement(statements)
    nodes = {e["node"]["title"]: e["node"] for e in whole["movies"]["edges"]}
    samourai = nodes["Le Samouraï"]
    assert samourai["description"] == "A hitman's perfect alibi comes undone."
    assert samourai["cast"] == ["Alain Delon", "François Périer"]
    assert samourai["budget"] == {"amount": "1200000.00", "currency": "USD"}
    assert samourai["createdAt"] is not None
    assert nodes["Untitled short"]["countries"] == []
    # One field beyond the card, inside a fragment, is enough.
    with capture_statements() as statements:
        fragment = await gql.execute(
            "query { movies(first: 50) { edges { node { title ...More } } } }"
            " fragment More on Movie { director }"
        )
    assert "movies.description" in _list_statement(statements)
    directors = {e["node"]["title"]: e["node"]["director"] for e in fragment["movies"]["edges"]}
    assert directors["Le Samouraï"] == "Jean-Pierre Melville"


async def test_a_card_movie_is_never_served_as_a_whole_one(
    gql: GraphQLClient, db: Database
) -> None:
    """Card movies are not primed into MovieByIdLoader: the same movie reached through a
    review in the same request is read whole."""
    await _catalog(db)
    page = await gql.execute(
        LIST
        % """title genres { name } reviews(first: 1) { edges { node {
               movie { title description cast } } } }"""
    )
    nodes = {e["node"]["title"]: e["node"] for e in page["movies"]["edges"]}
    samourai = nodes["Le Samouraï"]
    assert samourai["genres"] == [{"name": "Card drama"}]
    [review] = samourai["reviews"]["edges"]
    assert review["node"]["movie"] == {
        "title": "Le Samouraï",
        "description": "A hitman's perfect alibi comes undone.",
        "cast": ["Alain Delon", "François Périer"],
    }


async def test_genres_joined_after_the_page_keep_every_order(
    gql: GraphQLClient, db: Database
) -> None:
    """With genres the page is a subquery and the order is applied again outside it (the
    TRENDING order reads a column no page selects): the same movies in the same order."""
    genre = await create_genre(db, "Order drama")
    for n in range(6):
        await create_movie(
            db,
            title=f"Order film {n % 3}",
            year=2000 + n % 2,
            popularity=float(n % 4),
            genre_ids=[genre] if n % 2 else [],
        )
    page = "query { movies(first: %d, sort: %s, filter: %s) { edges { node { %s } } } }"
    for sort in ("POPULARITY", "TRENDING", "RATING", "NEWEST", "TITLE"):
        for where in ("{}", '{search: "order"}'):
            for first in (4, 50):
                plain = await gql.execute(page % (first, sort, where, "id"))
                joined = await gql.execute(page % (first, sort, where, "id genres { name }"))
                assert [e["node"]["id"] for e in joined["movies"]["edges"]] == [
                    e["node"]["id"] for e in plain["movies"]["edges"]
                ]
