"""Admission control: with every query slot of a worker taken, queries wait and are served in
arrival order, one at a time, with correct results; a mutation does not wait behind them
(the kind is judged from the parsed operation: tests/core/test_limits.py). Mutations have
slots of their own (MARQUEE_MAX_CONCURRENT_MUTATIONS), which queries do not wait for."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from db.session import Database
from graph.app import create_app
from graph.schema import build_schema
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_user

ME = "{ me { username } }"
REGISTER = """
mutation ($input: RegisterInput!) { register(input: $input) { user { username } errors { code } } }
"""


@contextlib.asynccontextmanager
async def _client(
    db: Database, settings: Settings, **limits: int
) -> AsyncIterator[tuple[GraphQLClient, Any]]:
    """A client of an app with these limits, and the app's schema (its semaphores)."""
    limited = settings.model_copy(update=limits)
    app = create_app(limited, database=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield GraphQLClient(http, limited), app.state.marquee_schema


async def test_queries_wait_in_arrival_order_and_mutations_pass(
    committed_db: Database, settings: Settings
) -> None:
    async with _client(committed_db, settings, max_concurrent_requests=1) as (gql, schema):
        admission = schema.admission
        users = [await create_user(committed_db, username=f"queued{n}") for n in range(5)]
        finished: list[str] = []

        async def ask(user: Any) -> dict[str, Any]:
            data = await gql.execute(ME, token=gql.token_for(user))
            finished.append(data["me"]["username"])
            return data

        await admission.acquire()  # a long query holds the only slot
        try:
            waiting = []
            for user in users:
                waiting.append(asyncio.ensure_future(ask(user)))
                await asyncio.sleep(0.02)  # each reaches the queue before the next
            registered = await asyncio.wait_for(
                gql.execute(
                    REGISTER,
                    {
                        "input": {
                            "username": "passer",
                            "email": "passer@example.com",
                            "password": "x" * 10,
                        }
                    },
                ),
                10,
            )
            assert registered["register"] == {"user": {"username": "passer"}, "errors": []}
            await asyncio.sleep(0.1)
            assert finished == [], "a query ran while the only slot was taken"
        finally:
            admission.release()
        answers = await asyncio.wait_for(asyncio.gather(*waiting), 30)
    assert [a["me"]["username"] for a in answers] == [u.username for u in users]
    assert finished == [u.username for u in users], "not served in arrival order"


async def test_mutations_have_slots_of_their_own(
    committed_db: Database, settings: Settings
) -> None:
    """With the only mutation slot taken, a mutation waits and a query does not; the
    mutation runs once the slot is free."""
    async with _client(committed_db, settings, max_concurrent_mutations=1) as (gql, schema):
        mutations = schema.mutations
        user = await create_user(committed_db, username="reader")
        await mutations.acquire()  # a long mutation holds the only slot
        try:
            register = asyncio.ensure_future(
                gql.execute(
                    REGISTER,
                    {
                        "input": {
                            "username": "waiter",
                            "email": "waiter@example.com",
                            "password": "x" * 10,
                        }
                    },
                )
            )
            me = await asyncio.wait_for(gql.execute(ME, token=gql.token_for(user)), 10)
            assert me == {"me": {"username": "reader"}}
            await asyncio.sleep(0.2)
            assert not register.done(), "a mutation ran while the only mutation slot was taken"
        finally:
            mutations.release()
        registered = await asyncio.wait_for(register, 10)
    assert registered["register"] == {"user": {"username": "waiter"}, "errors": []}


def test_the_mutation_limit_can_be_turned_off(settings: Settings) -> None:
    assert build_schema(settings).mutations is not None
    off = build_schema(settings.model_copy(update={"max_concurrent_mutations": 0}))
    assert off.mutations is None
