"""The movie page of issue 3: 20 movies by popularity with genres, rating aggregates and
three reviews each with their authors (anonymous; the demo catalog)."""

from __future__ import annotations

from typing import Any

from bench.scenario import BenchError, Scenario

QUERY = """query MoviePage {
  movies(first: 20, sort: POPULARITY) { totalCount edges { node {
    id title year genres { name } averageRating reviewCount
    reviews(first: 3) { edges { node { rating title author { displayName } } } } } } }
}"""


def _expect(data: dict[str, Any]) -> None:
    edges = (data.get("movies") or {}).get("edges") or []
    if len(edges) < 20:
        raise BenchError(f"expected 20 movies (is the demo catalog loaded?), got {len(edges)}")
    if not any(e["node"]["reviews"]["edges"] for e in edges):
        raise BenchError("no movie has reviews: the demo reviews are missing")


SCENARIO = Scenario(
    name="movies",
    description="movies(first: 20, sort: POPULARITY) with genres, rating, 3 reviews + authors",
    query=QUERY,
    expect=_expect,
)
