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

The same listener keeps `viewers`: what a token is judged by (the account is active, its
role and name, `sessions_valid_after`) for the users this process has seen. A trigger on
`users` (migration 0026_viewer_changes) sends `user:<id>` on the channel when one of those
changes, so a cached viewer is dropped on every instance when its change commits, and a
request with a known viewer costs no SQL at all. It is trusted under the same rule (only
while live; emptied when the connection is made again, since announcements may have been
missed meanwhile), and a row read while a change was being announced is not kept
(`ViewerCache.generation`).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from db.accounts.codes import SESSION_CHANNEL
from db.accounts.queries import sessions_ended_since
from db.listen import Connect, listen_connector
from db.session import Database
from graph.auth import Viewer
from graph.listening import KeptListener

log = logging.getLogger("marquee.accounts.revocations")

REVOCATIONS_SERVICE = "session_revocations"

# Revocation times come from the app's clock, the reload's cutoff from the database's:
# keep ids a little longer than a token lifetime to absorb clock skew.
SLACK_SECONDS = 60.0

LoadEnded = Callable[[], Awaitable[Iterable[str]]]

# The announcement of a changed user (migration 0026_viewer_changes): "user:<id>".
USER_PREFIX = "user:"


@dataclass(frozen=True, slots=True)
class KnownViewer:
    viewer: Viewer
    # `users.sessions_valid_after` in Unix seconds: tokens issued before are refused.
    sessions_valid_after: int | None
    forget_at: float  # monotonic


class ViewerCache:
    """Active users as their tokens are judged, by id: at most `max_entries` (the least
    recently used go first), each for at most `ttl_seconds` (a bound, not the rule: a change
    drops the entry when it is announced).

    A reader notes `generation` before it reads a row and passes it to `put`: if any user
    changed meanwhile, the row may predate the change and is not kept."""

    def __init__(self, *, max_entries: int = 10_000, ttl_seconds: float = 300.0) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self.generation = 0
        self._known: OrderedDict[int, KnownViewer] = OrderedDict()

    def get(self, user_id: int) -> KnownViewer | None:
        known = self._known.get(user_id)
        if known is None:
            return None
        if known.forget_at <= time.monotonic():
            del self._known[user_id]
            return None
        self._known.move_to_end(user_id)
        return known

    def put(self, generation: int, viewer: Viewer, sessions_valid_after: int | None) -> None:
        if generation != self.generation:
            return
        forget_at = time.monotonic() + self.ttl_seconds
        self._known[viewer.id] = KnownViewer(viewer, sessions_valid_after, forget_at)
        self._known.move_to_end(viewer.id)
        if len(self._known) > self.max_entries:
            self._known.popitem(last=False)

    def forget(self, user_id: int) -> None:
        self.generation += 1
        self._known.pop(user_id, None)

    def clear(self) -> None:
        self.generation += 1
        self._known.clear()

    def __len__(self) -> int:
        return len(self._known)


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
        self.viewers = ViewerCache()

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
        if payload.startswith(USER_PREFIX):
            try:
                self.viewers.forget(int(payload[len(USER_PREFIX) :]))
            except ValueError:  # "user:*": the table was truncated
                self.viewers.clear()
            return
        ids = [p for p in payload.split(",") if len(p) == 32]
        if ids:
            self.add(ids)

    async def _connected(self) -> None:
        # LISTEN first, then load: a revocation committed in between is in one of the two.
        # What was heard before the connection dropped stays (still true); the viewers
        # known then may have changed unheard.
        self.viewers.clear()
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
