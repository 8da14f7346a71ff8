"""LISTEN connections: raw asyncpg connections outside the pool, one a process per database.

The in-memory views that PostgreSQL's announcements keep true (the seat hub,
graph/realtime.py; ended sessions, graph/accounts/revocations.py; the response cache,
graph/response_cache.py) each LISTEN on a channel of their own for as long as the process
runs. They open their connection through a `Connect` function, so tests can pass their own,
and talk to it only through `Listener`.

`listen_connector(db)` hands them all one connection (`SharedListenConnection`): PostgreSQL
wakes every backend that LISTENs in a database on every NOTIFY committed in it, whatever
the channel (PostgreSQL 18, src/backend/commands/async.c), and a LISTEN connection cannot go
through PgBouncer, so it counts against the server's `max_connections` directly. One a
process instead of one a view halves the wake-ups of a sale's announcements and the direct
connections (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from db.session import Database

log = logging.getLogger("marquee.listen")

# Opens one raw connection (asyncpg.Connection, or a test's stand-in).
Connect = Callable[[], Awaitable[Any]]
# asyncpg's listener signature: (connection, server pid, channel, payload).
OnNotify = Callable[[Any, int, str, str], None]


def asyncpg_connector(sqlalchemy_url: str) -> Connect:
    """A function that opens a raw asyncpg connection to the database of a SQLAlchemy URL
    (the unix socket of the embedded server arrives as a `host` query parameter)."""
    url = make_url(sqlalchemy_url)
    host = url.host or url.query.get("host")
    if isinstance(host, tuple):
        host = host[0]

    async def connect() -> Any:
        return await asyncpg.connect(
            user=url.username,
            password=url.password,
            host=host,
            port=url.port,
            database=url.database,
            timeout=5,
            server_settings={"application_name": "marquee-listen"},
        )

    return connect


def direct_connector(db: Database) -> Connect:
    """`asyncpg_connector` for the database `db` uses, or for its `listen_url`: behind
    PgBouncer in transaction mode LISTEN needs a direct connection to the primary, since
    a pooled server connection is handed to another client after every transaction."""
    return asyncpg_connector(db.listen_url or db.engine.url.render_as_string(hide_password=False))


_shared: weakref.WeakKeyDictionary[Database, SharedListenConnection] = weakref.WeakKeyDictionary()


def listen_connector(db: Database) -> Connect:
    """The `Connect` of `db`'s shared LISTEN connection (`SharedListenConnection`): every
    caller in this process gets a view of the same connection."""
    shared = _shared.get(db)
    if shared is None:
        ref = weakref.ref(db)

        async def connect() -> Any:
            target = ref()
            if target is None:
                raise RuntimeError("the database of this LISTEN connection is gone")
            return await direct_connector(target)()

        shared = _shared[db] = SharedListenConnection(connect)
    return shared.connect


class SharedListenConnection:
    """One LISTEN connection shared by several listeners, each holding a view of it
    (`ListenView`, what `connect` returns) that behaves as a connection of its own: its
    channels' notifications, its termination listeners, its own `terminate`.

    - The connection is opened by the first `connect` and closed when its last view is.
    - When it ends (PostgreSQL ended it, the network failed), every view's termination
      listeners run, as each listener's own connection's would; the next `connect` opens a
      new one.
    - A view's statement (a ping, a NOTIFY) that fails midway for any reason other than an
      error PostgreSQL reported (a timeout, a lost connection) ends the connection for
      every view: a connection that stopped answering hears nothing either.
    - Statements take turns (asyncpg runs one at a time on a connection); a channel is
      LISTENed once, by the first view that asks, and stays LISTENed while the connection
      lasts (a view that goes drops its callbacks, not the LISTEN).
    """

    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: Any = None
        self._opening = asyncio.Lock()
        self._turn = asyncio.Lock()
        self._listening: set[str] = set()
        self._callbacks: dict[str, list[tuple[ListenView, OnNotify]]] = {}
        self._views: set[ListenView] = set()
        self.opened = 0  # connections opened so far (tests)

    async def connect(self) -> ListenView:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new event loop (tests run one per test): nothing of the old one is usable.
            self._forget()
            self._loop = loop
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._conn is not None and self._conn.is_closed():
                # Ended, and asyncpg has not told the views yet: they hear it now.
                self._terminated(self._conn)
            if self._conn is None:
                conn = await self._connect()
                self._turn = asyncio.Lock()
                self._conn = conn
                self.opened += 1
                conn.add_termination_listener(self._terminated)
            view = ListenView(self, self._conn)
            self._views.add(view)
            return view

    def _detach(self) -> tuple[Any, list[ListenView]]:
        """Let go of the connection and close every view of it: (the connection, the views)."""
        conn, views = self._conn, list(self._views)
        self._conn = None
        self._views = set()
        self._listening = set()
        self._callbacks = {}
        for view in views:
            view.closed = True
        return conn, views

    def _forget(self) -> None:
        """Drop the connection and every view's hold on it (their listeners are not called:
        the connection is merely no longer this object's)."""
        conn, _views = self._detach()
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.remove_termination_listener(self._terminated)
            with contextlib.suppress(Exception):
                conn.terminate()

    def _terminated(self, conn: Any) -> None:
        if conn is not self._conn:
            return
        _conn, views = self._detach()
        for view in views:
            for callback in view.on_terminated:
                try:
                    callback(view)
                except Exception:
                    log.exception("a LISTEN termination listener failed")

    def _dispatch(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        if conn is not self._conn:
            return
        for view, callback in list(self._callbacks.get(channel, ())):
            try:
                callback(view, pid, channel, payload)
            except Exception:
                log.exception("a LISTEN callback of channel %s failed", channel)

    def _kill(self, conn: Any) -> None:
        """End `conn` (if it is still the shared one): every view hears it ended."""
        if conn is self._conn:
            with contextlib.suppress(Exception):
                conn.terminate()
            self._terminated(conn)  # asyncpg calls it later, if at all, for a dead socket

    async def _run(self, view: ListenView, statement: Callable[[Any], Awaitable[Any]]) -> Any:
        conn = view.conn
        if view.closed or conn is not self._conn:
            raise asyncpg.ConnectionDoesNotExistError("this LISTEN connection has ended")
        started = False
        try:
            async with self._turn:
                if view.closed or conn is not self._conn:
                    raise asyncpg.ConnectionDoesNotExistError("this LISTEN connection has ended")
                started = True
                return await statement(conn)
        except asyncpg.PostgresError:
            raise
        except BaseException:
            if started:
                self._kill(conn)
            raise

    async def _listen(self, view: ListenView, channel: str, callback: OnNotify) -> None:
        async def listen(conn: Any) -> None:
            if channel not in self._listening:
                await conn.add_listener(channel, self._dispatch)
                self._listening.add(channel)

        await self._run(view, listen)
        if view.closed:
            raise asyncpg.ConnectionDoesNotExistError("this LISTEN connection has ended")
        self._callbacks.setdefault(channel, []).append((view, callback))

    def _close(self, view: ListenView) -> None:
        if view.closed:
            return
        view.closed = True
        self._views.discard(view)
        for channel, callbacks in self._callbacks.items():
            self._callbacks[channel] = [(v, c) for v, c in callbacks if v is not view]
        if not self._views and view.conn is self._conn:
            self._forget()


class ListenView:
    """One listener's hold on a `SharedListenConnection`: the part of asyncpg's Connection
    that `Listener` uses."""

    def __init__(self, shared: SharedListenConnection, conn: Any) -> None:
        self._shared = shared
        self.conn = conn
        self.closed = False
        self.on_terminated: list[Callable[[Any], None]] = []

    def add_termination_listener(self, callback: Callable[[Any], None]) -> None:
        self.on_terminated.append(callback)

    async def add_listener(self, channel: str, callback: OnNotify) -> None:
        await self._shared._listen(self, channel, callback)

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._shared._run(self, lambda conn: conn.fetchval(query, *args))

    async def execute(self, query: str, *args: Any) -> Any:
        return await self._shared._run(self, lambda conn: conn.execute(query, *args))

    def terminate(self) -> None:
        self._shared._close(self)


class Listener:
    """A connection LISTENing on one channel; `lost` is set when the connection ends."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.lost = asyncio.Event()
        conn.add_termination_listener(self._terminated)

    def _terminated(self, _conn: Any) -> None:
        self.lost.set()

    @classmethod
    async def open(cls, connect: Connect, channel: str, on_notify: OnNotify) -> Listener:
        """Connect and LISTEN; on failure the connection is closed and the error raised."""
        conn = await connect()
        try:
            listener = cls(conn)
            await conn.add_listener(channel, on_notify)
        except BaseException:
            with contextlib.suppress(Exception):
                conn.terminate()
            raise
        return listener

    async def ping(self) -> None:
        """A trivial round trip: run under a timeout, it tells a half-open TCP connection
        (which would look alive and hear nothing) from a live one."""
        await self._conn.fetchval("SELECT 1")

    async def notify(self, channel: str, payload: str) -> None:
        """NOTIFY on this connection (which hears its own notifications too, after every
        one committed before it: the response cache's barrier, graph/response_cache.py)."""
        await self._conn.execute("SELECT pg_notify($1, $2)", channel, payload)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.terminate()
