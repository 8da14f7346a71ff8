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

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from db.accounts.codes import SESSION_CHANNEL
from db.accounts.queries import sessions_ended_since
from db.listen import Connect, listen_connector
from db.session import Database
from graph.listening import KeptListener

log = logging.getLogger("marquee.accounts.revocations")

REVOCATIONS_SERVICE = "session_revocations"

# Revocation times come from the app's clock, the reload's cutoff from the database's:
# keep ids a little longer than a token lifetime to absorb clock skew.
SLACK_SECONDS = 60.0

LoadEnded = Callable[[], Awaitable[Iterable[str]]]


class SessionRevocations(KeptListener):
    """Session ids (family UUIDs as hex) revoked within the last access-token lifetime."""

    channel = SESSION_CHANNEL
    task_name = "session-revocations"
    what = "session"

    def __init__(
        self,
        *,
        connect: Connect,
        load: LoadEnded,
        retention_seconds: float,
        ping_interval: float = 5.0,
        max_backoff: float = 5.0,
    ) -> None:
        super().__init__(
            connect=connect, log=log, ping_interval=ping_interval, max_backoff=max_backoff
        )
        self._load = load
        self.retention_seconds = retention_seconds
        self._ended: dict[str, float] = {}  # session id -> monotonic time to forget it

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

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        ids = [p for p in payload.split(",") if len(p) == 32]
        if ids:
            self.add(ids)

    async def _connected(self) -> None:
        # LISTEN first, then load: a revocation committed in between is in one of the two.
        # What was heard before the connection dropped stays (still true).
        self.add(await self._load())

    def _pinged(self) -> None:
        self.prune()


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
