"""Ended sessions, known to every app instance at once: this process's cache of recently
revoked refresh-token families, kept fresh by LISTEN on `SESSION_CHANNEL`.

An access token carries its session id (`sid`, the refresh-token family). Revoking a family
(logout, re-use of a rotated refresh token, password change, deactivation) announces it with
pg_notify in the revoking transaction (db/accounts/tokens.py). Each process holds one
LISTEN connection for the channel and keeps the ids it hears about for one access-token
lifetime (after that every access token of the family has expired anyway), so the
per-request check is a dictionary lookup and costs no SQL.

The cache is trusted only while it is *live*: LISTEN is running and the ids revoked within
the last access-token lifetime have been loaded after LISTEN started (so nothing falls
between the two). While it is not (starting, or the connection was lost and is being
re-established), `Context.viewer()` asks PostgreSQL instead, inside the statement that reads
the viewer's row anyway; a request never gains a statement either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from db.accounts.codes import SESSION_CHANNEL
from db.accounts.queries import sessions_ended_since
from db.listen import Connect, Listener, listen_connector
from db.session import Database

log = logging.getLogger("marquee.accounts.revocations")

REVOCATIONS_SERVICE = "session_revocations"

# Revocation times come from the app's clock, the reload's cutoff from the database's:
# keep ids a little longer than a token lifetime to absorb clock skew.
SLACK_SECONDS = 60.0

LoadEnded = Callable[[], Awaitable[Iterable[str]]]


class SessionRevocations:
    """Session ids (family UUIDs as hex) revoked within the last access-token lifetime."""

    def __init__(
        self,
        *,
        connect: Connect,
        load: LoadEnded,
        retention_seconds: float,
        ping_interval: float = 5.0,
        max_backoff: float = 5.0,
    ) -> None:
        self._connect = connect
        self._load = load
        self.retention_seconds = retention_seconds
        self.ping_interval = ping_interval
        self.max_backoff = max_backoff
        self._ended: dict[str, float] = {}  # session id -> monotonic time to forget it
        self.live = False
        self.ready = asyncio.Event()  # set while live (tests wait for it)
        self.connections = 0
        self._task: asyncio.Task[None] | None = None

    def is_ended(self, session_id: str) -> bool:
        return session_id in self._ended

    def add(self, session_ids: Iterable[str]) -> None:
        forget_at = time.monotonic() + self.retention_seconds
        for sid in session_ids:
            self._ended[sid] = forget_at

    def prune(self) -> None:
        now = time.monotonic()
        for sid in [sid for sid, at in self._ended.items() if at <= now]:
            del self._ended[sid]

    def __len__(self) -> int:
        return len(self._ended)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="session-revocations")

    async def stop(self) -> None:
        self._set_live(False)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _set_live(self, live: bool) -> None:
        self.live = live
        if live:
            self.ready.set()
        else:
            self.ready.clear()

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        ids = [p for p in payload.split(",") if len(p) == 32]
        if ids:
            self.add(ids)

    async def _listen_forever(self) -> None:
        delay = 0.1
        while True:
            listener: Listener | None = None
            try:
                listener = await Listener.open(self._connect, SESSION_CHANNEL, self._on_notify)
                # LISTEN first, then load: a revocation committed in between is in one of
                # the two. What was heard before the connection dropped stays (still true).
                self.add(await self._load())
                self.connections += 1
                self._set_live(True)
                delay = 0.1
                while not listener.lost.is_set():
                    try:
                        await asyncio.wait_for(listener.lost.wait(), self.ping_interval)
                    except TimeoutError:
                        await asyncio.wait_for(listener.ping(), self.ping_interval)
                        self.prune()
                log.warning("session LISTEN connection lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("session LISTEN failed (%s); retrying in %.1fs", exc, delay)
            finally:
                self._set_live(False)
                if listener is not None:
                    listener.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)


def make_revocations(db: Database, access_token_ttl_seconds: int) -> SessionRevocations:
    retention = access_token_ttl_seconds + SLACK_SECONDS

    async def load() -> list[str]:
        return await sessions_ended_since(db, retention)

    return SessionRevocations(
        connect=listen_connector(db),
        load=load,
        retention_seconds=retention,
    )


async def start_session_revocations(state: Any) -> Callable[[], Awaitable[None]]:
    """Start-up hook (graph.app.STARTUP_HOOKS): this process's revocation cache."""
    revocations = make_revocations(state.db, state.settings.access_token_ttl_seconds)
    await revocations.start()
    state.services[REVOCATIONS_SERVICE] = revocations

    async def stop() -> None:
        state.services.pop(REVOCATIONS_SERVICE, None)
        await revocations.stop()

    return stop
