"""`ContextLoader.loaded`: what a request already has, without a future to await; and a
page of reviews hands its primed authors over without loading them again."""

from __future__ import annotations

import contextlib

from db.session import Database, capture_statements
from graph.context import Context
from graph.loaders import NOT_LOADED, ContextLoader
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_movie, create_review, create_user


class _Squares(ContextLoader[int, int]):
    async def batch_load_fn(self, keys: list[int]) -> list[int | Exception]:
        return [ValueError("no") if k < 0 else k * k for k in keys]


async def test_loaded_gives_only_values_the_request_has(db: Database, settings: Settings) -> None:
    loader = Context(db=db, settings=settings).loader(_Squares)
    assert loader.loaded(3) is NOT_LOADED  # never asked for
    pending = loader.load(3)
    assert loader.loaded(3) is NOT_LOADED  # asked for, its batch not run yet
    assert await pending == 9
    assert loader.loaded(3) == 9
    loader.prime(5, 7)
    assert loader.loaded(5) == 7
    failed = loader.load(-1)
    with contextlib.suppress(ValueError):
        await failed
    assert loader.loaded(-1) is NOT_LOADED  # an error is not a value


async def test_review_authors_come_with_their_page(gql: GraphQLClient, db: Database) -> None:
    movie = await create_movie(db)
    for _n in range(3):
        user = await create_user(db)
        await create_review(db, user_id=user.id, movie_id=movie, title=f"By {user.username}")
    query = """{ movies(first: 5) { edges { node { reviews(first: 5) { edges { node {
        title author { id username } } } } } } } }"""
    with capture_statements() as statements:
        page = await gql.execute(query)
    # The list with each movie's page of reviews and their authors (db list_movies
    # `reviews`): no statement for the reviews or the users.
    assert len(statements) == 1
    [movie_edge] = page["movies"]["edges"]
    edges = movie_edge["node"]["reviews"]["edges"]
    assert len(edges) == 3
    assert len({e["node"]["author"]["id"] for e in edges}) == 3
    # Anonymous: the page reads only the public profile, and shows only that.
    assert {e["node"]["author"]["username"] for e in edges} == {None}
    # Staff see the usernames (the page reads every author column for them).
    staff = gql.token_for(await create_user(db, role="MANAGER"))
    as_staff = await gql.execute(query, token=staff)
    [movie_edge] = as_staff["movies"]["edges"]
    assert {e["node"]["author"]["username"] for e in movie_edge["node"]["reviews"]["edges"]} == {
        e["node"]["title"].removeprefix("By ") for e in edges
    }
