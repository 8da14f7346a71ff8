"""Admission control: with every query slot of a worker taken, queries wait and are served in
arrival order, one at a time, with correct results; a mutation does not wait behind them
(the kind is judged from the parsed operation: tests/core/test_limits.py)."""

from __future__ import annotations

import asyncio
from typing import Any

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


async def test_queries_wait_in_arrival_order_and_mutations_pass(
    committed_db: Database, settings: Settings
) -> None:
    limited = settings.model_copy(update={"max_concurrent_requests": 1})
    app = create_app(limited, database=committed_db)
    admission = app.state.marquee_schema.admission
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        gql = GraphQLClient(http, limited)
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
