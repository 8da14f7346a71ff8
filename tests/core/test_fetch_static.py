"""Database.fetch_static: statements built once, run straight on the driver."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Float, Integer, bindparam, event, func, literal, select
from sqlalchemy.ext.asyncio import create_async_engine

from db.session import Database, capture_statements
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
BACKEND = select(func.pg_backend_pid().label("pid"))


async def test_pooled_connections_go_back_and_dead_ones_are_replaced(database_url: str) -> None:
    """On pooled connections (not the test's shared one): each statement hands its
    connection back, a connection killed under it is dropped and the read retried once, and
    a read cancelled mid-statement leaves the pool usable. A pool of its own: the killed
    connection must not be left to later tests on the session's engine."""
    engine = create_async_engine(database_url, pool_size=2, max_overflow=0)
    db = Database(engine)
    pool: Any = engine.sync_engine.pool
    dropped: list[object] = []
    event.listen(pool, "invalidate", lambda conn, record, exc: dropped.append(conn))
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
