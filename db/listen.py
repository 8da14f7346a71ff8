"""LISTEN connections: one raw asyncpg connection per channel listener, outside the pool.

The realtime hubs (graph/realtime.py, graph/accounts/revocations.py) hold one each for as
long as the process runs; they open it through a `Connect` function, so tests can pass
their own, and talk to it only through `Listener`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from db.session import Database

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


def listen_connector(db: Database) -> Connect:
    """`asyncpg_connector` for the database `db` uses, or for its `listen_url`: behind
    PgBouncer in transaction mode LISTEN needs a direct connection to the primary, since
    a pooled server connection is handed to another client after every transaction."""
    return asyncpg_connector(db.listen_url or db.engine.url.render_as_string(hide_password=False))


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
