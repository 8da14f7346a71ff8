"""movies / movie / genres through the real ASGI app: filters, search, sorts, paging."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from db.session import Database
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import create_genre, create_movie, create_review, create_user

MOVIES = """
query ($filter: MovieFilter, $sort: MovieSort, $first: Int, $after: String,
       $last: Int, $before: String) {
  movies(filter: $filter, sort: $sort, first: $first, after: $after, last: $last,
         before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id title year genres { name } averageRating reviewCount } }
  }
}
"""

MOVIE = """
query ($id: ID!) {
  movie(id: $id) {
    id title originalTitle tagline description releaseDate year country countries
    durationMinutes director cast ageRating budget { amount currency }
    boxOffice { amount currency } posterUrl trailerUrl isActive averageRating reviewCount
    genres { id name } isFavorite watchlistStatus viewerReview { id }
  }
}
"""


def titles(data: dict[str, Any]) -> list[str]:
    return [e["node"]["title"] for e in data["movies"]["edges"]]


async def test_movie_fields(gql: GraphQLClient, db: Database) -> None:
    drama = await create_genre(db, "Drama")
    pk = await create_movie(
        db,
        title="Amélie",
        original_title="Le Fabuleux Destin d'Amélie Poulain",
        tagline="She'll change your life.",
        description="A shy waitress decides to change the lives of those around her.",
        release_date=date(2001, 4, 25),
        countries=["France", "Germany"],
        duration_minutes=122,
        director="Jean-Pierre Jeunet",
        cast_members=["Audrey Tautou", "Mathieu Kassovitz"],
        age_rating="R",
        budget=10_000_000,
        box_office=174_000_000,
        poster_url="https://example.com/a.jpg",
        genre_ids=[drama],
    )
    movie = (await gql.execute(MOVIE, {"id": to_global_id("Movie", pk)}))["movie"]
    assert movie["title"] == "Amélie"
    assert movie["year"] == 2001
    assert movie["country"] == "France"
    assert movie["countries"] == ["France", "Germany"]
    assert movie["cast"] == ["Audrey Tautou", "Mathieu Kassovitz"]
    assert movie["budget"] == {"amount": "10000000.00", "currency": "USD"}
    assert movie["genres"] == [{"id": to_global_id("Genre", drama), "name": "Drama"}]
    assert movie["averageRating"] is None
    assert movie["reviewCount"] == 0
    assert movie["isFavorite"] is False
    assert movie["watchlistStatus"] is None
    assert movie["viewerReview"] is None


async def test_movie_unknown_is_null_and_bad_ids_are_coded(gql: GraphQLClient) -> None:
    assert (await gql.execute(MOVIE, {"id": to_global_id("Movie", 999_999)}))["movie"] is None
    for bad in ("nonsense!!", to_global_id("User", 1), to_global_id("Genre", 1), ""):
        body = await gql.raw(MOVIE, {"id": bad})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    body = await gql.raw(MOVIE, {"id": 12})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


async def test_search_tolerates_case_accents_and_typos(gql: GraphQLClient, db: Database) -> None:
    await create_movie(db, title="Amélie", original_title="Le Fabuleux Destin d'Amélie Poulain")
    await create_movie(
        db, title="The Godfather", description="An aging patriarch of a crime dynasty."
    )
    await create_movie(db, title="Spirited Away", original_title="千と千尋の神隠し")
    await create_movie(db, title="Léon", description="A hitman takes in a girl.")

    async def search(text: str) -> list[str]:
        data = await gql.execute(MOVIES, {"filter": {"search": text}, "sort": "TITLE"})
        return titles(data)

    assert await search("amelie") == ["Amélie"]
    assert await search("AMÉLIE") == ["Amélie"]
    assert await search("fabuleux destin") == ["Amélie"]
    assert await search("godfater") == ["The Godfather"]
    assert await search("patriarch") == ["The Godfather"]
    assert await search("leon") == ["Léon"]
    assert await search("spirted away") == ["Spirited Away"]
    assert await search("千尋") == ["Spirited Away"]
    assert await search("zzzzqqq") == []
    assert await search("100%_") == []


async def test_filters(gql: GraphQLClient, db: Database) -> None:
    drama = await create_genre(db, "Drama")
    crime = await create_genre(db, "Crime")
    await create_movie(
        db,
        title="A",
        year=1972,
        countries=["United States"],
        age_rating="R",
        genre_ids=[drama, crime],
    )
    await create_movie(
        db, title="B", year=2001, countries=["France"], age_rating="PG", genre_ids=[drama]
    )
    await create_movie(db, title="C", year=2010, countries=["Japan", "France"], age_rating="PG")
    await create_movie(db, title="Hidden", year=2010, is_active=False)

    async def run(f: dict[str, Any]) -> list[str]:
        return titles(await gql.execute(MOVIES, {"filter": f, "sort": "TITLE"}))

    assert await run({}) == ["A", "B", "C"]
    assert await run({"genreIds": [to_global_id("Genre", crime)]}) == ["A"]
    assert await run({"genreIds": [to_global_id("Genre", drama)]}) == ["A", "B"]
    assert await run({"yearFrom": 2000}) == ["B", "C"]
    assert await run({"yearFrom": 1970, "yearTo": 2001}) == ["A", "B"]
    assert await run({"country": "france"}) == ["B", "C"]
    assert await run({"ageRating": "pg"}) == ["B", "C"]
    assert await run({"country": "France", "ageRating": "PG", "yearFrom": 2005}) == ["C"]
    # Withdrawn movies: only staff may list them.
    assert await run({"includeInactive": True}) == ["A", "B", "C"]
    staff = await create_user(db, role="MANAGER")
    data = await gql.execute(
        MOVIES, {"filter": {"includeInactive": True}, "sort": "TITLE"}, token=gql.token_for(staff)
    )
    assert titles(data) == ["A", "B", "C", "Hidden"]


async def test_sorts_are_stable_and_paging_walks_every_movie(
    gql: GraphQLClient, db: Database
) -> None:
    user = await create_user(db)
    ids = []
    for i in range(7):
        ids.append(
            await create_movie(
                db,
                title=f"Same {i % 2}",
                popularity=float(i % 3),
                release_date=date(2000 + i % 2, 1, 1),
            )
        )
    await create_review(db, user_id=user.id, movie_id=ids[3], rating=9)
    await create_review(db, user_id=user.id, movie_id=ids[5], rating=4)
    for sort in ("POPULARITY", "TRENDING", "RATING", "NEWEST", "TITLE"):
        full = await gql.execute(MOVIES, {"sort": sort, "first": 100})
        expected = [e["node"]["id"] for e in full["movies"]["edges"]]
        assert len(expected) == 7
        seen: list[str] = []
        after = None
        while True:
            page = (await gql.execute(MOVIES, {"sort": sort, "first": 2, "after": after}))["movies"]
            assert page["totalCount"] == 7
            seen += [e["node"]["id"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == expected, sort
    rating = await gql.execute(MOVIES, {"sort": "RATING", "first": 3})
    nodes = [e["node"] for e in rating["movies"]["edges"]]
    assert [n["averageRating"] for n in nodes] == [9.0, 4.0, None]
    # ties by id: popularity sort is (popularity desc, id desc)
    pop = await gql.execute(MOVIES, {"sort": "POPULARITY", "first": 100})
    got = [e["node"]["id"] for e in pop["movies"]["edges"]]
    want = sorted(ids, key=lambda i: (-float(ids.index(i) % 3), -i))
    assert got == [to_global_id("Movie", i) for i in want]


async def test_last_and_before(gql: GraphQLClient, db: Database) -> None:
    for i in range(5):
        await create_movie(db, title=f"M{i}")
    data = await gql.execute(MOVIES, {"sort": "TITLE", "last": 2})
    assert titles(data) == ["M3", "M4"]
    assert data["movies"]["pageInfo"]["hasPreviousPage"] is True
    before = data["movies"]["pageInfo"]["startCursor"]
    data = await gql.execute(MOVIES, {"sort": "TITLE", "last": 2, "before": before})
    assert titles(data) == ["M1", "M2"]
    # Past the end, and an empty page: the total is still counted.
    end = (await gql.execute(MOVIES, {"sort": "TITLE", "first": 5}))["movies"]["pageInfo"]
    data = await gql.execute(MOVIES, {"sort": "TITLE", "first": 5, "after": end["endCursor"]})
    assert (titles(data), data["movies"]["totalCount"]) == ([], 5)
    data = await gql.execute(MOVIES, {"sort": "TITLE", "first": 0})
    assert (titles(data), data["movies"]["totalCount"]) == ([], 5)
    data = await gql.execute(MOVIES, {"sort": "TITLE", "first": 2, "before": before})
    assert titles(data) == ["M0", "M1"]


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"first": 101}, "first"),
        ({"first": -1}, "first"),
        ({"after": "garbage"}, "after"),
        # Forged offsets: past PostgreSQL's integer (an internal error before), a space, an
        # underscore and Arabic-Indic digits (which `int()` read as 1, 10 and 1).
        ({"after": "bzoyMTQ3NDgzNjQ3"}, "after"),
        ({"after": "bzogMQ"}, "after"),
        ({"after": "bzoxXzA"}, "after"),
        ({"after": "bzrZoQ"}, "after"),
        ({"last": 2, "before": "bzo5OTk5OTk5OTk5OTk5OQ"}, "before"),
        ({"filter": {"search": "x" * 201}}, "search"),
        ({"filter": {"genreIds": ["nope"]}}, "genreIds"),
        ({"filter": {"genreIds": [to_global_id("Movie", 1)]}}, "genreIds"),
        ({"filter": {"yearFrom": 99999}}, "yearFrom"),
        ({"sort": "SHINIEST"}, None),
        ({"first": "ten"}, None),
    ],
)
async def test_bad_list_arguments(
    gql: GraphQLClient, variables: dict[str, Any], field: str | None
) -> None:
    body = await gql.raw(MOVIES, variables)
    assert body.get("data") is None or body["data"].get("movies") is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    if field:
        assert error["extensions"].get("field") == field


async def test_genres_sorted(gql: GraphQLClient, db: Database) -> None:
    await create_genre(db, "Western")
    await create_genre(db, "Animation")
    data = await gql.execute("{ genres { name } }")
    assert [g["name"] for g in data["genres"]] == ["Animation", "Western"]


async def test_node_resolves_movie_and_genre(gql: GraphQLClient, db: Database) -> None:
    genre = await create_genre(db, "Noir")
    movie = await create_movie(db, title="Chinatown")
    query = """query ($ids: [ID!]!) {
      nodes(ids: $ids) { id ... on Movie { title } ... on Genre { name } }
    }"""
    data = await gql.execute(
        query, {"ids": [to_global_id("Movie", movie), to_global_id("Genre", genre)]}
    )
    assert data["nodes"][0]["title"] == "Chinatown"
    assert data["nodes"][1]["name"] == "Noir"


PREFETCH_SHAPES = """
fragment R on Review { rating author { id username } }
query ($n: Int, $sort: ReviewSort) {
  plain: movies(sort: TITLE) { edges { node { title genres { name }
    reviews(first: $n, sort: $sort) { totalCount edges { node { ...R } } } } } }
  split: movies(sort: TITLE) { edges { node { ... on Movie { title }
    top: reviews(first: 1, sort: HIGHEST) { edges { node { rating } } }
    low: reviews(first: 1, sort: LOWEST) { edges { node { rating } } } } } }
}
"""


async def test_prefetched_relations_match_loaded_ones(gql: GraphQLClient, db: Database) -> None:
    """The look-ahead in `movies` must give what the per-field loaders give (variables,
    fragments, aliases with different arguments, anonymous authors)."""
    drama = await create_genre(db, "Drama")
    a = await create_movie(db, title="A", genre_ids=[drama])
    b = await create_movie(db, title="B")
    alice = await create_user(db, username="alice_p")
    bob = await create_user(db, username="bob_p")
    await create_review(db, user_id=alice.id, movie_id=a, rating=9)
    await create_review(db, user_id=bob.id, movie_id=a, rating=3, is_anonymous=True)
    await create_review(db, user_id=bob.id, movie_id=b, rating=6)
    data = await gql.execute(PREFETCH_SHAPES, {"n": 5, "sort": "HIGHEST"})
    first = data["plain"]["edges"][0]["node"]
    assert first["genres"] == [{"name": "Drama"}]
    assert first["reviews"]["totalCount"] == 2
    assert [e["node"] for e in first["reviews"]["edges"]] == [
        # usernames are private: shown to the user themself and to staff only
        {"rating": 9, "author": {"id": to_global_id("User", alice.id), "username": None}},
        {"rating": 3, "author": None},
    ]
    as_bob = await gql.execute(
        PREFETCH_SHAPES, {"n": 5, "sort": "LOWEST"}, token=gql.token_for(bob)
    )
    mine = as_bob["plain"]["edges"][0]["node"]["reviews"]["edges"][0]["node"]
    assert mine == {
        "rating": 3,
        "author": {"id": to_global_id("User", bob.id), "username": "bob_p"},
    }
    split = data["split"]["edges"][0]["node"]
    assert split["top"]["edges"][0]["node"]["rating"] == 9
    assert split["low"]["edges"][0]["node"]["rating"] == 3
    body = await gql.raw(PREFETCH_SHAPES, {"n": 500})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_long_cursor_is_not_echoed_whole(gql: GraphQLClient) -> None:
    body = await gql.raw(MOVIES, {"first": 1, "after": "A" * 5000})
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert len(error["message"]) < 100, error["message"]
