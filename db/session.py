"""How the API reaches PostgreSQL: reads on short pooled connections, one session per mutation.

Decision (see docs/architecture.md): GraphQL resolves sibling fields concurrently, and an
`AsyncSession` must never be shared by two coroutines. So reads never use a session: every
loader batch checks a connection out of the pool (autocommit, no BEGIN/ROLLBACK round trips),
runs one statement and gives it back. Writes happen in `transaction()`, one session and one
transaction per mutation. Tests swap in `SharedConnectionDatabase`, which runs everything on
one connection inside an outer transaction that is rolled back after each test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, Executable, Row, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def create_engine(url: str, *, pool_size: int = 20, max_overflow: int = 10) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pool_pre_ping: on asyncpg it costs three round trips per checkout, and reads
        # check out a connection per statement. A connection found dead instead invalidates
        # the pool (SQLAlchemy does that on any disconnect error) and the read is retried once.
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": "marquee"}},
    )


def create_session_factory(
    bind: AsyncEngine | AsyncConnection, **kwargs: Any
) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(bind, expire_on_commit=False, autoflush=False, **kwargs)


class Database:
    """Pooled access used by the running server."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._sessions = create_session_factory(engine)

    async def fetch(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[Row[Any]]:
        """`params` fill the statement's bind parameters: a statement built once and run with
        new parameters keeps its memoized cache key, a `.params()` copy computes it again."""
        try:
            async with self._reader.connect() as conn:
                return (await conn.execute(stmt, params)).all()
        except DBAPIError as exc:
            # A pooled connection that died with the server (restart, failover): the pool is
            # now invalidated, and a read is safe to run again on a fresh connection.
            if not exc.connection_invalidated:
                raise
        async with self._reader.connect() as conn:
            return (await conn.execute(stmt, params)).all()

    async def fetch_one(self, stmt: Executable) -> Row[Any] | None:
        rows = await self.fetch(stmt)
        return rows[0] if rows else None

    async def scalar(self, stmt: Executable) -> Any:
        row = await self.fetch_one(stmt)
        return None if row is None else row[0]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One session, one transaction: committed on success, rolled back on any exception."""
        async with self._sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


class SharedConnectionDatabase(Database):
    """Everything on one connection (tests): reads and writes serialized by a lock,
    each mutation a savepoint inside the test's outer transaction."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.engine = connection.engine
        self.connection = connection
        self._lock = asyncio.Lock()
        self._sessions = create_session_factory(
            connection, join_transaction_mode="create_savepoint"
        )

    async def fetch(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[Row[Any]]:
        async with self._lock:
            return (await self.connection.execute(stmt, params)).all()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._lock, self._sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        return None


# --- SQL statement counting (query-count tests, the benchmark's statements per request) ---

_statement_log: ContextVar[list[str] | None] = ContextVar("statement_log", default=None)
statements_total = 0  # per process; exported at /metrics


def _count_statement(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    global statements_total
    statements_total += 1
    log = _statement_log.get()
    if log is not None:
        log.append(statement)


event.listen(Engine, "before_cursor_execute", _count_statement)


@contextmanager
def capture_statements() -> Iterator[list[str]]:
    """Collect every SQL statement run by this task and the tasks it starts."""
    log: list[str] = []
    token = _statement_log.set(log)
    try:
        yield log
    finally:
        _statement_log.reset(token)
