"""How the API reaches PostgreSQL: reads on short pooled connections, one session per mutation.

Decision (see docs/architecture.md): GraphQL resolves sibling fields concurrently, and an
`AsyncSession` must never be shared by two coroutines. So reads never use a session: every
loader batch checks a connection out of the pool (autocommit, no BEGIN/ROLLBACK round trips),
runs one statement and gives it back (statements built once, `fetch_static`, keep up to
half the pool's connections between statements instead: a checkout costs more CPU than
their statement). Writes happen in `transaction()`, one session and one
transaction per mutation. Tests swap in `SharedConnectionDatabase`, which runs everything on
one connection inside an outer transaction that is rolled back after each test.

A streaming replica (DATABASE_READ_URL) gets an engine of its own, reached only through
`Database.replica`: the reads that tolerate replica lag ask for it by name (docs/scaling.md
says which), everything else stays on the primary, and a replica that cannot be reached
sends those reads back to the primary.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, Engine, Executable, Row, any_, bindparam, event, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import greenlet_spawn

log = logging.getLogger(__name__)


def create_engine(
    url: str,
    *,
    pool_size: int = 20,
    max_overflow: int = 10,
    application_name: str = "marquee",
    connect_timeout: float | None = None,
) -> AsyncEngine:
    connect_args: dict[str, Any] = {"server_settings": {"application_name": application_name}}
    if connect_timeout is not None:
        connect_args["timeout"] = connect_timeout
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pool_pre_ping: on asyncpg it costs three round trips per checkout, and reads
        # check out a connection per statement. A connection found dead instead invalidates
        # the pool (SQLAlchemy does that on any disconnect error) and the read is retried once.
        pool_recycle=1800,
        # Statement parameters stay out of exception texts (and so out of logs and errors).
        hide_parameters=True,
        connect_args=connect_args,
    )


def create_session_factory(
    bind: AsyncEngine | AsyncConnection, **kwargs: Any
) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(bind, expire_on_commit=False, autoflush=False, **kwargs)


# What `Database.transaction()` yields, for the layers above that pass it on to db/ functions
# without touching SQLAlchemy themselves.
Session = AsyncSession


class ByName:
    """A row read by name (`row._mapping["name"]`, as a SQLAlchemy Row reads) and as
    attributes, for a class whose items are its columns by name."""

    __slots__ = ()

    @property
    def _mapping(self) -> Any:
        """Like `Row._mapping`: `row._mapping["name"]` reads a column by name (~10 times faster
        than an attribute for both kinds of row)."""
        return self

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]  # type: ignore[index]
        except KeyError:
            raise AttributeError(name) from None


class Record(ByName, asyncpg.Record):  # type: ignore[misc]
    """A row of `Database.fetch_static`: by index, by name and as attributes (like a Row)."""

    __slots__ = ()


_NO_DEFAULT: Any = object()


def any_id(column: Any) -> ColumnElement[bool]:
    """`column = ANY(:ids)`, the `ids` parameter an array of the column's type: how a
    statement built once for `fetch_static` reads rows by a list of ids (one statement text
    whatever the list's length, unlike an expanding IN)."""
    return column == any_(bindparam("ids", type_=ARRAY(column.type)))  # type: ignore[no-any-return]


class StaticSQL:
    """A statement built once, compiled once for the driver: its SQL text with positional
    parameters, and per position the parameter's name, default value and bind processor."""

    __slots__ = ("slots", "statement", "text")

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        if not compiled.positional or compiled.positiontup is None:
            raise ValueError("fetch_static needs a positional dialect (asyncpg)")
        processors = compiled._bind_processors
        slots: list[tuple[str, Any, Any]] = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            if bind.expanding:
                raise ValueError(f"fetch_static: expanding parameter {name!r} (use an array)")
            default = _NO_DEFAULT if bind.required or bind.callable else bind.value
            slots.append((name, default, processors.get(name)))
        self.statement = statement  # kept alive: the cache is keyed by its id
        self.text: str = compiled.string
        self.slots = tuple(slots)

    def arguments(self, params: Mapping[str, Any] | None) -> list[Any]:
        args: list[Any] = []
        for name, default, process in self.slots:
            value = params[name] if params is not None and name in params else default
            if value is _NO_DEFAULT:
                raise KeyError(f"a value is required for bind parameter {name!r}")
            args.append(value if process is None or value is None else process(value))
        return args


_STATIC_LIMIT = 512
# How long `fetch_static` may keep a connection it checked out (Database._take_back).
KEEP_SECONDS = 60.0
_clock = time.monotonic  # (tests move it on)


class _Kept:
    """A pool connection `fetch_static` keeps between statements, and until when."""

    __slots__ = ("raw", "until")

    def __init__(self, raw: Any, until: float) -> None:
        self.raw = raw
        self.until = until


class Database:
    """Pooled access used by the running server."""

    def __init__(self, engine: AsyncEngine, *, kept: int = 0) -> None:
        """`kept`: how many of the pool's connections `fetch_static` may keep between its
        statements (`_lend`); the server keeps half its pool (graph/app.py,
        `open_database`, which disposes of it at shutdown). 0, the default for a Database
        made elsewhere (tests, tools, often disposed of through its engine), hands each
        connection back to the pool after its statement."""
        self.engine = engine
        self._reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._sessions = create_session_factory(engine)
        self._static: dict[int, StaticSQL] = {}
        self._kept: list[_Kept] = []
        self._keep = kept
        self._replica: Database = self
        # Where LISTEN connections go when not to `engine`'s URL (db/listen.py).
        self.listen_url: str | None = None

    @property
    def replica(self) -> Database:
        """Where reads that tolerate replica lag go: the streaming replica when one is
        configured (`with_replica`), else this same primary. Only for data that may be a
        moment old (the catalog, review listings, cinemas and halls); never seat status,
        holds, orders, payments, the viewer's own data, nor any read of a mutation's request
        (its payload must see its own write)."""
        return self._replica

    def with_replica(
        self, engine: AsyncEngine, *, retry_seconds: float = 5.0, kept: int = 0
    ) -> Database:
        """Send `replica` reads to a streaming replica on `engine` (returns self)."""
        self._replica = ReplicaDatabase(
            engine, primary=self, retry_seconds=retry_seconds, kept=kept
        )
        return self

    def static_sql(self, stmt: Executable) -> StaticSQL:
        """The compiled form of a statement built once (module level or cached)."""
        compiled = self._static.get(id(stmt))
        if compiled is None or compiled.statement is not stmt:
            compiled = StaticSQL(stmt, self.engine.dialect)
            if len(self._static) >= _STATIC_LIMIT:
                self._static.clear()
            self._static[id(stmt)] = compiled
        return compiled

    async def fetch_static(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[Record]:
        """Like `fetch` for a statement built ONCE and run with new parameters, straight on
        the driver: compiled on first use, then no SQLAlchemy execution, cache key or result
        processing per call (~0.3 ms of CPU less per statement). Rows are `Record`s (index,
        name, attribute). Only for types the driver returns as SQLAlchemy would (no result
        processors: plain numbers, text, dates, arrays of those); counted like any statement.

        It runs on the pool's connection itself, not a SQLAlchemy Connection around it (no
        isolation level set and reset per statement): the driver runs the one statement
        outside any transaction, which is what the reader's AUTOCOMMIT gave. The connection
        is one kept from an earlier statement when there is one (`_lend`)."""
        sql = self.static_sql(stmt)
        args = sql.arguments(params)
        tries: int | None = None  # set by the first connection that failed
        while True:
            kept = await self._lend()
            try:
                driver: asyncpg.Connection = kept.raw.driver_connection  # type: ignore[assignment]
                note_statement(sql.text)
                rows: list[Record] = await driver.fetch(sql.text, *args, record_class=Record)
            except (
                asyncpg.InterfaceError,
                asyncpg.PostgresConnectionError,
                asyncpg.InternalClientError,
                OSError,
            ):
                # A connection that died with the server: drop it and those kept with it,
                # and read again. A restarted server killed the pool's idle connections too
                # (SQLAlchemy's own path invalidates the whole pool then; this one cannot):
                # each of them is tried and dropped in turn, failing at once, then a new
                # connection is made. (A backend terminated while the connection sat idle
                # leaves the driver waiting for a ReadyForQuery that never comes: it refuses
                # the next statement with InternalClientError, "another operation is in
                # progress".)
                await self._drop(kept)
                await self._drop_kept()
                if tries is None:
                    tries = self._reader.sync_engine.pool.checkedin()  # type: ignore[attr-defined]
                elif tries == 0:
                    raise
                else:
                    tries -= 1
                continue
            except asyncpg.PostgresError:
                # The statement failed (a constraint, an error a function raised): the
                # connection is as good as before.
                await self._take_back(kept)
                raise
            except BaseException:
                # Cancelled mid-statement (a deadline, a client gone): the driver is still
                # busy with it, and the next borrower would get "another operation is in
                # progress". Dropped, not handed back.
                await self._drop(kept)
                raise
            await self._take_back(kept)
            return rows

    async def _lend(self) -> _Kept:
        """A connection for one `fetch_static` statement: one kept from an earlier statement,
        else one checked out of the pool. A checkout and its checkin run SQLAlchemy's pool in
        greenlets: ~85 µs of CPU around a statement that costs ~35 µs on the driver alone
        (`SELECT $1`, measured in one process). The sale's functions, the hold and the
        seat maps are such statements, most requests' only one. Under the `checkout_pay`
        bench 99% of them found a kept connection (bench/README.md)."""
        if self._kept:
            return self._kept.pop()
        raw = await self._reader.raw_connection()
        return _Kept(raw, _clock() + KEEP_SECONDS)

    async def _take_back(self, kept: _Kept) -> None:
        """Keep the connection for the next statement, up to `kept` of them and for
        KEEP_SECONDS after its checkout (so the pool's recycling still reaches it); else
        hand it back to the pool (its reset runs in SQLAlchemy's greenlet, as on the
        Connection path)."""
        if len(self._kept) < self._keep and _clock() < kept.until:
            self._kept.append(kept)
        else:
            await greenlet_spawn(kept.raw.close)

    async def _drop(self, kept: _Kept) -> None:
        """Close a connection that cannot be trusted and hand its place back to the pool."""
        kept.raw.invalidate()
        await greenlet_spawn(kept.raw.close)

    async def _drop_kept(self) -> None:
        kept, self._kept = self._kept, []
        for k in kept:
            await self._drop(k)

    async def _release_kept(self) -> None:
        """Hand the kept connections back (at dispose); a statement still running gives
        its connection straight back to the pool."""
        self._keep = 0
        kept, self._kept = self._kept, []
        for k in kept:
            await self._take_back(k)  # keeping none now: back to the pool

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

    async def ping(self) -> None:
        """Raises unless the database answers a trivial statement (readiness checks)."""
        await self.scalar(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._replica is not self:
            await self._replica.dispose()
        await self._release_kept()
        await self.engine.dispose()


# The errors that say "the replica cannot be reached or cannot answer this now", after which
# a lag-tolerant read is run on the primary instead: no connection (refused, reset, timed
# out, too many clients, the server starting or stopping) or a query cancelled because of a
# conflict with WAL replay (40001 on a hot standby).
_REPLICA_DOWN = (
    OSError,  # TimeoutError included
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.SerializationError,
)

replica_statements_total = 0  # per process, statements the replica answered (/metrics)
replica_fallbacks_total = 0  # reads sent back to the primary because the replica failed


def _replica_down(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        cause = exc.orig.__cause__ if exc.orig is not None else None
        return isinstance(cause, _REPLICA_DOWN) or isinstance(exc.orig, _REPLICA_DOWN)
    return isinstance(exc, _REPLICA_DOWN)


class ReplicaDatabase(Database):
    """Reads on a streaming replica, falling back to the primary.

    A read the replica fails to answer for want of a connection is run on the primary, and
    for `retry_seconds` after that every replica read goes straight to the primary (a dead
    replica would otherwise cost a connect timeout per read); then the replica is tried
    again. Falling back is what a customer expects: the catalog stays up while the replica
    is rebuilt, at the price of load on the primary (which a warning in the log names)."""

    def __init__(
        self, engine: AsyncEngine, *, primary: Database, retry_seconds: float, kept: int = 0
    ) -> None:
        super().__init__(engine, kept=kept)
        self.primary = primary
        self.retry_seconds = retry_seconds
        self._down_until = 0.0
        self._replica = self

    def _usable(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, exc: BaseException) -> None:
        global replica_fallbacks_total
        replica_fallbacks_total += 1
        if self._usable():
            log.warning(
                "replica unavailable (%s); reads go to the primary for %.0f s",
                type(exc).__name__,
                self.retry_seconds,
            )
        self._down_until = time.monotonic() + self.retry_seconds

    async def fetch(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[Row[Any]]:
        global replica_fallbacks_total, replica_statements_total
        if not self._usable():
            replica_fallbacks_total += 1
            return await self.primary.fetch(stmt, params)
        try:
            rows = await super().fetch(stmt, params)
        except Exception as exc:
            if not _replica_down(exc):
                raise
            self._failed(exc)
            return await self.primary.fetch(stmt, params)
        replica_statements_total += 1
        return rows

    async def fetch_static(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[Record]:
        global replica_fallbacks_total, replica_statements_total
        if not self._usable():
            replica_fallbacks_total += 1
            return await self.primary.fetch_static(stmt, params)
        try:
            rows = await super().fetch_static(stmt, params)
        except Exception as exc:
            if not _replica_down(exc):
                raise
            self._failed(exc)
            return await self.primary.fetch_static(stmt, params)
        replica_statements_total += 1
        return rows

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A replica is read-only: a write asked of it is a bug in the caller."""
        raise RuntimeError("writes go to the primary (Database.transaction), not the replica")
        yield  # pragma: no cover

    async def dispose(self) -> None:
        await self._release_kept()
        await self.engine.dispose()


class SharedConnectionDatabase(Database):
    """Everything on one connection (tests): reads and writes serialized by a lock,
    each mutation a savepoint inside the test's outer transaction."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.engine = connection.engine
        self.connection = connection
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._sessions = create_session_factory(
            connection, join_transaction_mode="create_savepoint"
        )
        self._static = {}
        self._replica = self
        self.listen_url = None

    async def fetch(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[Row[Any]]:
        async with self._locked():
            return (await self.connection.execute(stmt, params)).all()

    async def fetch_static(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[Record]:
        sql = self.static_sql(stmt)
        args = sql.arguments(params)
        async with self._locked():
            raw = await self.connection.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
            note_statement(sql.text)
            rows: list[Record] = await driver.fetch(sql.text, *args, record_class=Record)
            return rows

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        """The connection, for this task: re-entrant, so a transaction opened inside another
        one by the same task (a payment provider's own ledger, written while our order is
        locked) nests as a savepoint instead of waiting for itself."""
        task = asyncio.current_task()
        if self._owner is not None and self._owner is task:
            yield
            return
        async with self._lock:
            self._owner = task
            try:
                yield
            finally:
                self._owner = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._locked(), self._sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        return None


# --- SQL statement counting (query-count tests, the benchmark's statements per request) ---

_statement_log: ContextVar[list[str] | None] = ContextVar("statement_log", default=None)
statements_total = 0  # per process; exported at /metrics


def note_statement(statement: str) -> None:
    """Count a statement run on the driver directly (`fetch_static`)."""
    global statements_total
    statements_total += 1
    log = _statement_log.get()
    if log is not None:
        log.append(statement)


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
