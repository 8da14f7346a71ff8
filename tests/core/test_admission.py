"""Admission control: with a limit of one query at a time per worker, concurrent queries all
complete (in turn) with correct results, and a mutation is not queued behind them."""

from __future__ import annotations

import asyncio

import httpx

from db.session import Database
from graph.app import create_app
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_user

ME = "{ me { username } }"
REGISTER = """
mutation ($input: RegisterInput!) { register(input: $input) { user { username } errors { code } } }
"""


async def test_queries_queue_and_mutations_pass(committed_db: Database, settings: Settings) -> None:
    limited = settings.model_copy(update={"max_concurrent_requests": 1})
    app = create_app(limited, database=committed_db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        gql = GraphQLClient(http, limited)
        users = [await create_user(committed_db, username=f"queued{n}") for n in range(5)]
        queries = [gql.execute(ME, token=gql.token_for(u)) for u in users for _ in range(4)]
        mutation = gql.execute(
            REGISTER,
            {"input": {"username": "passer", "email": "passer@example.com", "password": "x" * 10}},
        )
        *answers, registered = await asyncio.wait_for(asyncio.gather(*queries, mutation), 30)
    expected = [u.username for u in users for _ in range(4)]
    assert [a["me"]["username"] for a in answers] == expected
    assert registered["register"] == {"user": {"username": "passer"}, "errors": []}
