"""The movie page of issue 3: 20 movies by popularity with genres, rating aggregates and
three reviews each with their authors (anonymous; the demo catalog)."""

from __future__ import annotations

from typing import Any

from bench.scenario import BenchError, Scenario

PAGE = """query MoviePage {
  movies(first: %d, sort: POPULARITY) { totalCount edges { node {
    id title year genres { name } averageRating reviewCount
    reviews(first: 3) { edges { node { rating title author { displayName } } } } } } }
}"""
QUERY = PAGE % 20
# The demo catalog has 76 films: first: 100 returns them all.
DEMO_FILMS = 76


def _expecting(first: int) -> Any:
    wanted = min(first, DEMO_FILMS)

    def expect(data: dict[str, Any]) -> None:
        edges = (data.get("movies") or {}).get("edges") or []
        if len(edges) < wanted:
            raise BenchError(
                f"expected {wanted} movies (is the demo catalog loaded?), got {len(edges)}"
            )
        if not any(e["node"]["reviews"]["edges"] for e in edges):
            raise BenchError("no movie has reviews: the demo reviews are missing")

    return expect


SCENARIO = Scenario(
    name="movies",
    description="movies(first: 20, sort: POPULARITY) with genres, rating, 3 reviews + authors",
    query=QUERY,
    expect=_expecting(20),
)
# The same page with 10, 50 and 100 movies: how req/s and SQL per request grow with size.
PAGE_SIZES = [
    Scenario(
        name=f"movies_{first}",
        description=f"the movie page with first: {first} (demo catalog: {DEMO_FILMS} films)",
        query=PAGE % first,
        expect=_expecting(first),
    )
    for first in (10, 50, 100)
]
