"""GraphQL over WebSocket on /graphql: the token goes in connection_init; a valid one signs
the connection in, an invalid one closes it with 4403, none stays anonymous."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from sqlalchemy import text

from db.session import SharedConnectionDatabase
from graph.app import create_app
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_user

SERVER_TIME = "subscription { serverTime(ticks: 2) { tick time viewer { username } } }"
ME = "query { me { username } }"


@asynccontextmanager
async def _ws(
    db: SharedConnectionDatabase, settings: Settings, protocol: str = "graphql-transport-ws"
) -> AsyncIterator[AsyncWebSocketSession]:
    app = create_app(settings, database=db)
    async with (
        httpx.AsyncClient(
            transport=ASGIWebSocketTransport(app=app), base_url="http://test"
        ) as client,
        aconnect_ws("/graphql", client, subprotocols=[protocol]) as ws,
    ):
        yield ws


async def _init(ws: AsyncWebSocketSession, payload: dict[str, Any] | None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "connection_init"}
    if payload is not None:
        message["payload"] = payload
    await ws.send_json(message)
    reply: dict[str, Any] = await ws.receive_json(timeout=5)
    return reply


async def _run(ws: AsyncWebSocketSession, query: str) -> list[dict[str, Any]]:
    """Subscribe and collect the `next` payloads until `complete`."""
    await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
    results = []
    while True:
        message = await ws.receive_json(timeout=5)
        if message["type"] == "complete":
            return results
        assert message["type"] == "next", message
        # extensions (the cost) aside: these tests are about who is signed in
        results.append({k: v for k, v in message["payload"].items() if k != "extensions"})


async def test_valid_token_signs_the_connection_in(
    db: SharedConnectionDatabase, gql: GraphQLClient, settings: Settings
) -> None:
    user = await create_user(db, username="socket")
    async with _ws(db, settings) as ws:
        ack = await _init(ws, {"Authorization": f"Bearer {gql.token_for(user)}"})
        assert ack["type"] == "connection_ack"
        events = await _run(ws, SERVER_TIME)
        assert [e["data"]["serverTime"]["tick"] for e in events] == [1, 2]
        assert events[0]["data"]["serverTime"]["viewer"] == {"username": "socket"}
        # queries work over the socket too, as the same viewer
        assert await _run(ws, ME) == [{"data": {"me": {"username": "socket"}}}]


async def _update(db: SharedConnectionDatabase, statement: str, user_id: int) -> None:
    async with db.transaction() as session:
        await session.execute(text(statement), {"id": user_id})


async def test_each_operation_checks_the_viewer_again(
    db: SharedConnectionDatabase, gql: GraphQLClient, settings: Settings
) -> None:
    """A connection signed in at connection_init does not keep a role or an account that
    has changed since: each operation reads the viewer again (the role, whether the
    account is active), as an HTTP request does."""
    staff = await create_user(db, username="demoted", role="MANAGER")
    genre = "mutation ($n: String!) { createGenre(input: {name: $n}) { genre { name } } }"
    async with _ws(db, settings) as ws:
        assert (await _init(ws, {"Authorization": f"Bearer {gql.token_for(staff)}"}))[
            "type"
        ] == "connection_ack"
        assert await _run(ws, "{ me { role } }") == [{"data": {"me": {"role": "MANAGER"}}}]
        await _update(db, "UPDATE users SET role = 'CUSTOMER' WHERE id = :id", staff.id)
        assert await _run(ws, "{ me { role } }") == [{"data": {"me": {"role": "CUSTOMER"}}}]
        await ws.send_json(
            {"id": "g", "type": "subscribe", "payload": {"query": genre, "variables": {"n": "X"}}}
        )
        answer = await ws.receive_json(timeout=5)
        assert answer["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN", answer
        await ws.receive_json(timeout=5)  # complete
        await _update(db, "UPDATE users SET is_active = false WHERE id = :id", staff.id)
        [event] = await _run(ws, "{ me { role } }")
        assert event["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", event


async def test_invalid_token_closes_with_4403(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    async with _ws(db, settings) as ws:
        await ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": "Bearer not-a-jwt"}}
        )
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive_json(timeout=5)
        assert closed.value.code == 4403


async def test_deactivated_users_token_closes_with_4403(
    db: SharedConnectionDatabase, gql: GraphQLClient, settings: Settings
) -> None:
    user = await create_user(db, is_active=False)
    async with _ws(db, settings) as ws:
        token = gql.token_for(user)
        await ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        )
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive_json(timeout=5)
        assert closed.value.code == 4403


async def test_no_token_is_anonymous(db: SharedConnectionDatabase, settings: Settings) -> None:
    async with _ws(db, settings) as ws:
        assert (await _init(ws, None))["type"] == "connection_ack"
        events = await _run(ws, "subscription { serverTime { tick viewer { username } } }")
        assert events == [{"data": {"serverTime": {"tick": 1, "viewer": None}}}]
        assert await _run(ws, ME) == [{"data": {"me": None}}]


async def test_ticks_out_of_range_are_refused(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    async with _ws(db, settings) as ws:
        assert (await _init(ws, None))["type"] == "connection_ack"
        for ticks in (0, -1, 61, 2**31 - 1):
            events = await _run(ws, f"subscription {{ serverTime(ticks: {ticks}) {{ tick }} }}")
            [event] = events
            assert event["data"] is None, event
            error = event["errors"][0]
            assert error["message"] == "`ticks` must be from 1 to 60.", event
            assert error["extensions"]["code"] == "BAD_USER_INPUT", event


async def test_legacy_graphql_ws_protocol(
    db: SharedConnectionDatabase, gql: GraphQLClient, settings: Settings
) -> None:
    user = await create_user(db, username="legacy_ws")
    async with _ws(db, settings, protocol="graphql-ws") as ws:
        ack = await _init(ws, {"Authorization": f"Bearer {gql.token_for(user)}"})
        assert ack["type"] == "connection_ack"
        query = "subscription { serverTime { viewer { username } } }"
        await ws.send_json({"id": "1", "type": "start", "payload": {"query": query}})
        data = await ws.receive_json(timeout=5)
        assert data["type"] == "data"
        assert data["payload"]["data"] == {"serverTime": {"viewer": {"username": "legacy_ws"}}}
        assert (await ws.receive_json(timeout=5))["type"] == "complete"
