"""A request's loaded objects go by reference counting when it ends, not by the cyclic
garbage collector (graph/schema.py, `_releasing`): graphql-core's executor is in a
reference cycle that holds the context, and through its loaders every row, object and
future the request loaded. Left to the collector they made its pauses the movie page's p99
(bench/README.md)."""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bench.scenarios.movies import QUERY as MOVIE_PAGE
from db.session import Database
from graph.catalog.types import Movie
from graph.context import Context
from graph.reviews.types import Review
from graph.schema import build_schema
from graph.settings import Settings
from tests.factories import create_genre, create_movie, create_review, create_user

LOADED = (Movie, Review, asyncio.Future)


@contextmanager
def _cyclic_garbage() -> Iterator[Counter[str]]:
    """What the code inside leaves to the cyclic collector, counted by type."""
    found: Counter[str] = Counter()
    gc.collect()
    gc.disable()
    try:
        yield found
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        found.update(type(o).__name__ for o in gc.garbage if isinstance(o, LOADED))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


@pytest.mark.parametrize("prepared", [False, True], ids=["full-path", "prepared"])
async def test_a_movie_page_leaves_no_loaded_objects_to_the_collector(
    committed_db: Database, settings: Settings, prepared: bool
) -> None:
    genre = await create_genre(committed_db)
    for n in range(3):
        movie = await create_movie(committed_db, genre_ids=[genre], popularity=float(n))
        user = await create_user(committed_db)
        await create_review(committed_db, user_id=user.id, movie_id=movie, rating=4)
    schema = build_schema(settings.model_copy(update={"prepared_operations": prepared}))

    async def page() -> None:
        context = Context(db=committed_db, settings=settings)
        result = await schema.execute(MOVIE_PAGE, context_value=context)
        assert not result.errors
        assert len(result.data["movies"]["edges"]) == 3  # type: ignore[index]

    await page()  # the first run prepares the document
    with _cyclic_garbage() as garbage:
        await page()
    assert garbage == Counter()
