"""The demo catalog loads from db/demo/films.json through the TMDb importer, every field of
every film intact, is big enough to browse, and its aggregates are consistent."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from db.demo import accounts as accounts_demo
from db.demo import catalog as catalog_demo
from db.session import Database
from graph.relay import to_global_id
from tests.conftest import GraphQLClient

BROWSE = """
{ movies(first: 5, sort: RATING, filter: {search: "godfather"}) { totalCount edges { node {
    title director cast averageRating reviewCount genres { name }
    reviews(first: 3, sort: MOST_HELPFUL) { edges { node { rating body helpfulCount } } } } } }
}
"""

MOVIE = """
query ($id: ID!) {
  movie(id: $id) {
    tmdbId title originalTitle tagline description releaseDate year country countries
    durationMinutes director cast ageRating budget { amount currency }
    boxOffice { amount currency } posterUrl trailerUrl isActive popularity genres { name }
  }
}
"""


def _usd(amount: str | None) -> dict[str, str] | None:
    return None if amount is None else {"amount": amount, "currency": "USD"}


def _film(**fields: Any) -> dict[str, Any]:
    budget, box_office = fields.pop("budget"), fields.pop("boxOffice")
    genres = fields.pop("genres")
    return {
        **fields,
        "budget": _usd(budget),
        "boxOffice": _usd(box_office),
        "posterUrl": None,
        "trailerUrl": None,
        "isActive": True,
        "genres": [{"name": g} for g in genres],
    }


# What the seed from the old Python literals (db/demo/catalog_data.py) stored for these
# films; `popularity` is the snapshot `marquee seed` computed from them in 2026.
EXPECTED = [
    _film(
        tmdbId=238,
        title="The Godfather",
        originalTitle="The Godfather",
        tagline="An offer you can't refuse.",
        description="The ageing head of a New York crime family tries to hand his empire to "
        "his reluctant youngest son, who is drawn step by step into the violence he meant to "
        "escape.",
        releaseDate="1972-03-14",
        year=1972,
        country="United States",
        countries=["United States"],
        durationMinutes=175,
        director="Francis Ford Coppola",
        cast=["Marlon Brando", "Al Pacino", "James Caan", "Robert Duvall", "Diane Keaton"],
        ageRating="R",
        budget="6000000.00",
        boxOffice="245066411.00",
        popularity=26.42,
        genres=["Crime", "Drama"],
    ),
    _film(
        tmdbId=194,
        title="Amélie",
        originalTitle="Le Fabuleux Destin d'Amélie Poulain",
        tagline="One person can change your life forever.",
        description="A shy Montmartre waitress secretly sets about improving the lives of the "
        "people around her, while avoiding her own chance at love.",
        releaseDate="2001-04-25",
        year=2001,
        country="France",
        countries=["France", "Germany"],
        durationMinutes=122,
        director="Jean-Pierre Jeunet",
        cast=["Audrey Tautou", "Mathieu Kassovitz", "Rufus", "Lorella Cravotta", "Serge Merlin"],
        ageRating="R",
        budget="10000000.00",
        boxOffice="174200000.00",
        popularity=28.58,
        genres=["Comedy", "Romance"],
    ),
    _film(
        tmdbId=324857,
        title="Spider-Man: Into the Spider-Verse",
        originalTitle="Spider-Man: Into the Spider-Verse",
        tagline="More than one wears the mask.",
        description="Brooklyn teenager Miles Morales becomes Spider-Man and teams up with "
        "spider-people from other dimensions to stop a threat to every reality.",
        releaseDate="2018-12-14",
        year=2018,
        country="United States",
        countries=["United States"],
        durationMinutes=117,
        director="Bob Persichetti, Peter Ramsey, Rodney Rothman",
        cast=[
            "Shameik Moore",
            "Jake Johnson",
            "Hailee Steinfeld",
            "Mahershala Ali",
            "Liev Schreiber",
        ],
        ageRating="PG",
        budget="90000000.00",
        boxOffice="375500000.00",
        popularity=39.86,
        genres=["Action", "Adventure", "Animation", "Science Fiction"],
    ),
    # No TMDb id in the demo data, nor an age rating, money or a tagline.
    _film(
        tmdbId=None,
        title="Moscow Does Not Believe in Tears",
        originalTitle="Москва слезам не верит",
        tagline=None,
        description="Three young women arrive in 1950s Moscow looking for love and success; "
        "twenty years later, one of them has become a factory director still searching for "
        "happiness.",
        releaseDate="1980-02-11",
        year=1980,
        country="Soviet Union",
        countries=["Soviet Union"],
        durationMinutes=150,
        director="Vladimir Menshov",
        cast=["Vera Alentova", "Aleksey Batalov", "Irina Muravyova", "Raisa Ryazanova"],
        ageRating=None,
        budget=None,
        boxOffice=None,
        popularity=15.82,
        genres=["Comedy", "Drama", "Romance"],
    ),
]

# Totals over all films, as the old seed stored them: a field dropped from any film of the
# JSON changes one of these.
TOTALS = """
SELECT count(*) AS movies, count(tmdb_id) AS tmdb_ids,
       count(*) FILTER (WHERE original_title <> title) AS original_titles,
       count(tagline) AS taglines, count(description) AS descriptions,
       count(release_date) AS release_dates, count(year) AS years, count(country) AS countries,
       sum(cardinality(countries)) AS production_countries,
       sum(duration_minutes) AS minutes, count(director) AS directors,
       sum(cardinality(cast_members)) AS cast_members, count(age_rating) AS age_ratings,
       count(budget) AS budgets, sum(budget) AS budget, count(box_office) AS box_offices,
       sum(box_office) AS box_office, count(poster_url) + count(trailer_url) AS urls,
       round(sum(popularity)::numeric, 2) AS popularity,
       (SELECT count(*) FROM genres) AS genres, (SELECT count(*) FROM movie_genres) AS links
FROM movies
"""
EXPECTED_TOTALS = {
    "movies": 76,
    "tmdb_ids": 72,
    "original_titles": 21,
    "taglines": 63,
    "descriptions": 76,
    "release_dates": 76,
    "years": 76,
    "countries": 76,
    "production_countries": 102,
    "minutes": 10129,
    "directors": 76,
    "cast_members": 371,
    "age_ratings": 71,
    "budgets": 68,
    "budget": Decimal("4004484947.00"),
    "box_offices": 66,
    "box_office": Decimal("28148799045.00"),
    "urls": 0,
    "popularity": Decimal("2284.26"),
    "genres": 17,
    "links": 203,
}
GENRES = [
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Drama", "Family", "Fantasy",
    "History", "Horror", "Music", "Mystery", "Romance", "Science Fiction", "Thriller", "War",
    "Western",
]  # fmt: skip


async def _seed(db: Database) -> list[str]:
    lines: list[str] = []
    async with db.transaction() as session:
        rng = random.Random(1)
        await accounts_demo.seed(session, rng, lines)
        await catalog_demo.seed(session, rng, lines)
    return lines


async def test_demo_catalog(gql: GraphQLClient, db: Database) -> None:
    lines = await _seed(db)
    assert await db.scalar(text("SELECT count(*) FROM movies")) == 76
    assert await db.scalar(text("SELECT count(*) FROM reviews")) >= 250
    assert await db.scalar(text("SELECT count(*) FROM review_votes")) >= 200
    per_film = await db.fetch(text("SELECT min(review_count), max(review_count) FROM movies"))
    assert tuple(per_film[0]) == (3, 8)
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
    # The reviews follow the film's audience score (9.2 for The Godfather).
    assert node["averageRating"] >= 7.5
    assert len(node["reviews"]["edges"]) == 3
    assert any(line.startswith("demo catalog: 76 films, 17 genres") for line in lines)


async def test_demo_films_keep_every_field(gql: GraphQLClient, db: Database) -> None:
    await _seed(db)
    totals = await db.fetch(text(TOTALS))
    assert dict(totals[0]._mapping) == EXPECTED_TOTALS
    names = await db.fetch(text("SELECT name, tmdb_id FROM genres ORDER BY name"))
    assert [(r.name, r.tmdb_id) for r in names] == [(g, None) for g in GENRES]
    for expected in EXPECTED:
        pk = await db.scalar(
            text("SELECT id FROM movies WHERE title = :title").bindparams(title=expected["title"])
        )
        data = await gql.execute(MOVIE, {"id": to_global_id("Movie", pk)})
        assert data["movie"] == expected
