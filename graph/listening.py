"""A LISTEN kept open for the life of a process (on a view of the process's one LISTEN
connection, db/listen.py): the base of the in-memory views
that PostgreSQL's announcements keep true (ended sessions, graph/accounts/revocations.py;
the response cache, graph/response_cache.py).

It connects, LISTENs on its channel, and is *live* until the connection is lost; then it
is not live (its owner trusts nothing it holds) and reconnects with a growing backoff. It
pings the connection every `ping_interval` seconds, so a connection that died silently is
noticed within that time. Subclasses say what a notification means (`_on_notify`), what to
do once listening (`_connected`: load what may have been missed), and on each ping
(`_pinged`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from db.listen import Connect, Listener
from graph.periodic import stop_task


class KeptListener:
    channel: str
    # The task's name, and the owner's name in log lines.
    task_name: str = "listener"
    what: str = "LISTEN"

    def __init__(
        self,
        *,
        connect: Connect,
        log: logging.Logger,
        ping_interval: float = 5.0,
        max_backoff: float = 5.0,
    ) -> None:
        self._connect = connect
        self._log = log
        self.ping_interval = ping_interval
        self.max_backoff = max_backoff
        self.live = False
        self.ready = asyncio.Event()  # set while live (tests wait for it)
        self.connections = 0  # connections made so far (tests count reconnections)
        self._listener: Listener | None = None
        self._connection_lock = asyncio.Lock()  # one operation at a time on the connection
        self._task: asyncio.Task[None] | None = None

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        raise NotImplementedError

    async def _connected(self) -> None:
        """Once LISTEN runs, before going live (e.g. load what was announced meanwhile)."""

    def _pinged(self) -> None:
        """After each ping that succeeded."""

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name=self.task_name)

    async def stop(self) -> None:
        self._set_live(False)
        await stop_task(self._task)

    def _set_live(self, live: bool) -> None:
        self.live = live
        if live:
            self.ready.set()
        else:
            self.ready.clear()

    async def _listen_forever(self) -> None:
        delay = 0.1
        while True:
            listener: Listener | None = None
            try:
                listener = await Listener.open(self._connect, self.channel, self._on_notify)
                self._listener = listener
                await self._connected()
                self.connections += 1
                self._set_live(True)
                delay = 0.1
                while not listener.lost.is_set():
                    try:
                        await asyncio.wait_for(listener.lost.wait(), self.ping_interval)
                    except TimeoutError:
                        async with self._connection_lock:
                            await asyncio.wait_for(listener.ping(), self.ping_interval)
                        self._pinged()
                self._log.warning("%s LISTEN connection lost; reconnecting", self.what)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._log.warning("%s LISTEN failed (%s); retrying in %.1fs", self.what, exc, delay)
            finally:
                self._listener = None
                self._set_live(False)
                if listener is not None:
                    listener.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)
