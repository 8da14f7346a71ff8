"""One LISTEN connection a process (db/listen.py, `SharedListenConnection`): the seat hub,
the ended sessions and the response cache each hold a view of it, which behaves as a
connection of their own; against the test database's real server."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from db.listen import SharedListenConnection, direct_connector
from db.session import Database
from graph.accounts.revocations import REVOCATIONS_SERVICE
from graph.app import create_app
from graph.realtime import HUB_SERVICE
from graph.response_cache import RESPONSE_CACHE_SERVICE
from graph.settings import Settings

WAIT = 5.0


async def _until(condition: Any, seconds: float = WAIT) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def _listen_backends(db: Database) -> list[int]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'marquee-listen'"
            )
        )
        return [row[0] for row in rows]


async def _notify(db: Database, channel: str, payload: str) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": payload})


async def test_the_app_listens_on_one_connection(
    committed_db: Database, settings: Settings
) -> None:
    """Three views of one connection: when PostgreSQL ends it, all three hear it, LISTEN
    again on one new connection, and hear their channels there."""
    assert settings.response_cache
    app = create_app(settings, database=committed_db)
    async with app.router.lifespan_context(app):
        services = app.state.marquee.services
        hub = services[HUB_SERVICE]
        revocations = services[REVOCATIONS_SERVICE]
        cache = services[RESPONSE_CACHE_SERVICE]
        await asyncio.wait_for(hub.connected.wait(), WAIT)
        await asyncio.wait_for(revocations.ready.wait(), WAIT)
        await asyncio.wait_for(cache.ready.wait(), WAIT)
        first = await _listen_backends(committed_db)
        assert len(first) == 1

        async with committed_db.engine.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first[0]})
        await _until(
            lambda: (
                hub.connections == revocations.connections == cache.connections == 2
                and hub.connected.is_set()
                and revocations.live
                and cache.live
            )
        )
        second = await _listen_backends(committed_db)
        assert len(second) == 1
        assert second != first

        session = "ab" * 16
        await _notify(committed_db, "session_revocations", session)
        await _until(lambda: revocations.is_ended(session))
    # The last view gone, the connection goes too.
    deadline = asyncio.get_running_loop().time() + WAIT
    while await _listen_backends(committed_db):
        assert asyncio.get_running_loop().time() < deadline, "the LISTEN connection stayed"
        await asyncio.sleep(0.02)


async def test_views_hear_their_own_channels_and_leave_alone(committed_db: Database) -> None:
    shared = SharedListenConnection(direct_connector(committed_db))
    heard: dict[str, list[str]] = {"one": [], "two": []}
    one, two = await asyncio.gather(shared.connect(), shared.connect())
    assert shared.opened == 1
    await one.add_listener("shared_test_one", lambda *args: heard["one"].append(args[3]))
    await two.add_listener("shared_test_two", lambda *args: heard["two"].append(args[3]))
    pid = await one.fetchval("SELECT pg_backend_pid()")
    assert await two.fetchval("SELECT pg_backend_pid()") == pid

    await _notify(committed_db, "shared_test_one", "a")
    await _notify(committed_db, "shared_test_two", "b")
    await _until(lambda: heard == {"one": ["a"], "two": ["b"]})

    # An error PostgreSQL reports is the statement's, not the connection's.
    with pytest.raises(asyncpg.DivisionByZeroError):
        await one.fetchval("SELECT 1 / 0")
    assert await two.fetchval("SELECT pg_backend_pid()") == pid

    # One view goes: the other keeps the connection and its channel.
    one.terminate()
    await _notify(committed_db, "shared_test_one", "c")
    await _notify(committed_db, "shared_test_two", "d")
    await _until(lambda: heard["two"] == ["b", "d"])
    assert heard["one"] == ["a"]
    assert await _listen_backends(committed_db) == [pid]
    with pytest.raises(asyncpg.ConnectionDoesNotExistError):
        await one.fetchval("SELECT 1")

    two.terminate()
    deadline = asyncio.get_running_loop().time() + WAIT
    while await _listen_backends(committed_db):
        assert asyncio.get_running_loop().time() < deadline, "the LISTEN connection stayed"
        await asyncio.sleep(0.02)


async def test_a_statement_cut_short_ends_the_connection_for_every_view(
    committed_db: Database,
) -> None:
    """A ping that times out means a connection that may hear nothing: every view is told
    it ended (as its own connection's end), and the next view is on a new connection."""
    shared = SharedListenConnection(direct_connector(committed_db))
    one = await shared.connect()
    two = await shared.connect()
    ended: list[Any] = []
    one.add_termination_listener(ended.append)
    two.add_termination_listener(ended.append)
    pid = await one.fetchval("SELECT pg_backend_pid()")

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(one.fetchval("SELECT pg_sleep(10)"), 0.2)
    assert ended == [one, two] or ended == [two, one]
    with pytest.raises(asyncpg.ConnectionDoesNotExistError):
        await two.fetchval("SELECT 1")

    three = await shared.connect()
    assert shared.opened == 2
    assert await three.fetchval("SELECT pg_backend_pid()") != pid
    three.terminate()


async def test_a_statement_waiting_its_turn_ends_nothing(committed_db: Database) -> None:
    """Statements take turns on the connection; one cancelled before its turn came never
    reached the server and leaves the connection alone."""
    shared = SharedListenConnection(direct_connector(committed_db))
    one = await shared.connect()
    two = await shared.connect()
    ended: list[Any] = []
    two.add_termination_listener(ended.append)
    slow = asyncio.ensure_future(one.fetchval("SELECT pg_sleep(0.5)"))
    await asyncio.sleep(0.1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(two.fetchval("SELECT 1"), 0.1)
    await slow
    assert ended == []
    assert await two.fetchval("SELECT 2") == 2
    one.terminate()
    two.terminate()
