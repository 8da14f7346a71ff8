"""Database.fetch_static: statements built once, run straight on the driver."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Float, Integer, bindparam, event, func, literal, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from db import session as session_module
from db.session import Database, capture_statements
from graph.app import open_database
from graph.settings import Settings
from tests.factories import create_user

STMT = select(
    literal(7).label("seven"),
    (bindparam("n", type_=Integer) + 1).label("next"),
    bindparam("fixed", 5, type_=Integer).label("fixed"),
)


async def test_rows_like_fetch_and_counted(db: Database) -> None:
    user = await create_user(db)
    from db.accounts.models import User as UserRow

    stmt = select(UserRow.id, UserRow.username, UserRow.created_at).where(
        UserRow.id == bindparam("pk", type_=UserRow.id.type)
    )
    with capture_statements() as log:
        static = await db.fetch_static(stmt, {"pk": user.id})
        normal = await db.fetch(stmt, {"pk": user.id})
    assert len(log) == 2, log
    assert [tuple(r) for r in static] == [tuple(r) for r in normal]
    row: Any = static[0]
    assert (row.id, row["username"], row[2]) == tuple(normal[0])
    with pytest.raises(AttributeError):
        _ = row.missing


async def test_defaults_and_required(db: Database) -> None:
    rows = await db.fetch_static(STMT, {"n": 1})
    assert [tuple(r) for r in rows] == [(7, 2, 5)]
    assert db.static_sql(STMT) is db.static_sql(STMT)  # compiled once
    with pytest.raises(KeyError):
        await db.fetch_static(STMT, {})


SLEEP = select(func.pg_sleep(bindparam("s", type_=Float)).label("slept"))


def _own_pool(
    database_url: str, *, size: int, kept: int
) -> tuple[Any, Database, Any, list[object]]:
    """An engine with a pool of its own (a killed connection must not be left to later
    tests on the session's engine), its Database, the pool, and the connections the pool
    drops as invalid."""
    engine = create_async_engine(database_url, pool_size=size, max_overflow=0)
    pool: Any = engine.sync_engine.pool
    dropped: list[object] = []
    event.listen(pool, "invalidate", lambda conn, record, exc: dropped.append(conn))
    return engine, Database(engine, kept=kept), pool, dropped


BACKEND = select(func.pg_backend_pid().label("pid"))


async def test_pooled_connections_go_back_and_dead_ones_are_replaced(database_url: str) -> None:
    """On pooled connections (not the test's shared one), none kept: each statement hands its
    connection back, a connection killed under it is dropped and the read retried once, and
    a read cancelled mid-statement leaves the pool usable. A pool of its own: the killed
    connection must not be left to later tests on the session's engine."""
    engine, db, pool, dropped = _own_pool(database_url, size=2, kept=0)
    try:
        async with engine.connect() as other:
            await other.execute(select(1))  # holds its own connection
            pid = (await db.fetch_static(BACKEND))[0].pid
            assert pool.checkedout() == 1
            await other.execute(select(func.pg_terminate_backend(pid)))
        # One of the pool's idle connections is the dead one; a read that gets it drops it
        # and reads again on another, so every read succeeds.
        for n in (2, 3):
            assert (await db.fetch_static(STMT, {"n": n}))[0].next == n + 1
        assert pool.checkedout() == 0
        before = len(dropped)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(db.fetch_static(SLEEP, {"s": 5.0}), 0.2)
        # The cancelled read's connection is dropped at once, not handed back still busy.
        assert len(dropped) == before + 1
        assert pool.checkedout() == 0
        assert (await db.fetch_static(STMT, {"n": 4}))[0].next == 5
    finally:
        await engine.dispose()


async def test_kept_connections_serve_the_next_statements(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `kept`, a statement's connection stays out of the pool for the next statement,
    up to `kept` of them: the next statements run on the same backend, concurrent ones beyond
    `kept` go back to the pool, and dispose hands the kept ones back."""
    _engine, db, pool, _dropped = _own_pool(database_url, size=3, kept=1)
    try:
        first = (await db.fetch_static(BACKEND))[0].pid
        assert pool.checkedout() == 1  # kept, not handed back
        for _ in range(3):
            assert (await db.fetch_static(BACKEND))[0].pid == first
        # Three at once: one on the kept connection, two checked out; one stays kept.
        slept = await asyncio.gather(*(db.fetch_static(SLEEP, {"s": 0.05}) for _ in range(3)))
        assert len(slept) == 3
        assert pool.checkedout() == 1
        # The one kept is whichever of the three came back first.
        kept = (await db.fetch_static(BACKEND))[0].pid
        assert (await db.fetch_static(BACKEND))[0].pid == kept
        # A statement that fails in PostgreSQL leaves its connection as good as before.
        with pytest.raises(asyncpg.DivisionByZeroError):
            await db.fetch_static(select((bindparam("n", type_=Integer) / 0).label("x")), {"n": 1})
        assert pool.checkedout() == 1
        # KEEP_SECONDS after its checkout, a connection goes back to the pool after its
        # statement, and the next statement checks out a fresh one.
        later = time.monotonic() + session_module.KEEP_SECONDS + 1
        monkeypatch.setattr(session_module, "_clock", lambda: later)
        assert (await db.fetch_static(BACKEND))[0].pid == kept
        assert pool.checkedout() == 0
        await db.fetch_static(BACKEND)
        assert pool.checkedout() == 1
    finally:
        await db.dispose()
    assert pool.checkedout() == 0  # dispose handed the kept one back first


SLEEPER = select(func.pg_backend_pid().label("pid"), func.pg_sleep(0.05).label("slept"))


async def test_a_kept_connection_that_died_is_replaced(database_url: str) -> None:
    """Connections whose backends were killed (as by a restarted server): the kept ones are
    dropped, and so is each idle one of the pool the retries meet, until a new connection
    reads; a statement cancelled midway drops its connection rather than keep it busy."""
    _engine, db, pool, dropped = _own_pool(database_url, size=4, kept=2)
    try:
        three = await asyncio.gather(*(db.fetch_static(SLEEPER) for _ in range(3)))
        victims = {rows[0].pid for rows in three}
        assert len(victims) == 3
        assert (pool.checkedout(), pool.checkedin()) == (2, 1)  # two kept, one idle
        killer = create_async_engine(database_url, poolclass=NullPool)
        async with killer.connect() as conn:
            for pid in victims:
                await conn.execute(select(func.pg_terminate_backend(pid)))
        await killer.dispose()
        assert (await db.fetch_static(STMT, {"n": 2}))[0].next == 3
        assert len(dropped) == 3  # the two kept, then the idle one; then a new connection
        assert (await db.fetch_static(BACKEND))[0].pid not in victims
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(db.fetch_static(SLEEP, {"s": 5.0}), 0.2)
        before = len(dropped)
        assert (await db.fetch_static(STMT, {"n": 4}))[0].next == 5
        assert len(dropped) == before
        assert pool.checkedout() == 1
    finally:
        await db.dispose()


async def test_the_servers_database_keeps_half_its_pool(database_url: str, tmp_path: Path) -> None:
    """The server's Database (graph/app.py, `open_database`) keeps up to half its pool for
    statements built once, and hands them back when disposed of."""
    settings = Settings(
        env="test",
        jwt_secret="test-secret-not-for-production-0123456789",
        data_dir=tmp_path,
        database_url=database_url,
        db_pool_size=4,
        db_max_overflow=0,
    )
    db = open_database(settings)
    pool: Any = db.engine.sync_engine.pool
    try:
        four = await asyncio.gather(*(db.fetch_static(SLEEPER) for _ in range(4)))
        assert len({rows[0].pid for rows in four}) == 4
        assert (pool.checkedout(), pool.checkedin()) == (2, 2)
    finally:
        await db.dispose()
    assert pool.checkedout() == 0
