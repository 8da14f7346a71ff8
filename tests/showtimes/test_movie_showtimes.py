"""Movie.showtimes (batched nested pages) and movies(filter: {nowShowing, comingSoon})."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from db.session import Database, capture_statements
from graph.relay import to_global_id
from tests.conftest import GraphQLClient
from tests.factories import create_cinema, create_hall, create_movie, create_showtime

MOVIES = """
query ($filter: MovieFilter, $first: Int) {
  movies(filter: $filter, first: $first) {
    edges { node { title showtimes(first: 2) { totalCount edges { node { id format } } } } }
  }
}
"""
MOVIE_SHOWTIMES = """
query ($id: ID!, $filter: ShowtimeFilter) {
  movie(id: $id) { showtimes(filter: $filter) { totalCount edges { node { id } } } }
}
"""


async def test_now_showing_and_coming_soon(gql: GraphQLClient, db: Database) -> None:
    hall = await create_hall(db, await create_cinema(db))
    today = datetime.now(UTC)
    showing = await create_movie(db, title="Showing")
    later = await create_movie(db, title="Later")
    await create_movie(
        db, title="Unreleased", release_date=datetime.now(UTC).date() + timedelta(days=60)
    )
    await create_movie(db, title="Nothing", release_date=date(2001, 1, 1))
    await create_showtime(db, movie_id=showing, hall_id=hall, starts_at=today + timedelta(days=1))
    await create_showtime(db, movie_id=later, hall_id=hall, starts_at=today + timedelta(days=20))

    async def titles(filter: dict[str, bool]) -> set[str]:
        data = await gql.execute(MOVIES, {"filter": filter})
        return {e["node"]["title"] for e in data["movies"]["edges"]}

    assert await titles({"nowShowing": True}) == {"Showing"}
    assert await titles({"comingSoon": True}) == {"Later", "Unreleased"}
    assert await titles({"nowShowing": False, "comingSoon": False}) == {"Nothing"}


async def test_movie_showtimes_batched_and_filtered(gql: GraphQLClient, db: Database) -> None:
    lyon = await create_hall(db, await create_cinema(db, city="Lyon"))
    paris = await create_hall(db, await create_cinema(db, city="Paris"))
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    movies = [await create_movie(db, title=f"M{i}", duration_minutes=60) for i in range(6)]
    for i, movie in enumerate(movies):
        for k in range(3):
            await create_showtime(
                db,
                movie_id=movie,
                hall_id=lyon if k < 2 else paris,
                starts_at=start + timedelta(hours=2 * (3 * i + k)),
                format="3D" if k == 0 else "2D",
            )

    async def run(first: int) -> int:
        with capture_statements() as log:
            data = await gql.execute(MOVIES, {"first": first})
        edges = data["movies"]["edges"]
        assert len(edges) == first
        for e in edges:
            assert e["node"]["showtimes"]["totalCount"] == 3
            assert len(e["node"]["showtimes"]["edges"]) == 2
        return len(log)

    assert await run(2) == await run(6)
    data = await gql.execute(
        MOVIE_SHOWTIMES, {"id": to_global_id("Movie", movies[0]), "filter": {"city": "Paris"}}
    )
    assert data["movie"]["showtimes"]["totalCount"] == 1
