"""The typed per-request context: settings, database access, the viewer and loaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import strawberry
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension

from db.accounts import queries as account_queries
from db.session import Database
from graph.accounts.revocations import REVOCATIONS_SERVICE, SessionRevocations
from graph.auth import InvalidToken, Viewer, decode_access_token, session_id_of
from graph.errors import unauthenticated
from graph.settings import Settings

L = TypeVar("L")

_UNSET: Any = object()


class Context:
    """Created once per HTTP request or WebSocket connection.

    Loaders are created on first use (aiodataloader binds the running loop when built) and
    live as long as the context; each takes the context and reads through `db.fetch`.
    """

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        request: Request | WebSocket | None = None,
        token: str | None = None,
        services: dict[str, Any] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.request = request
        self.token = token
        self.services = services or {}
        self.connection_params: dict[str, Any] | None = None
        self._loaders: dict[type[Any], Any] = {}
        self._viewer: Viewer | None = _UNSET
        # Sibling fields ask for the viewer at once: the first reads it, the others wait.
        self._viewer_lock: asyncio.Lock | None = None
        # The viewer's full users row, as read when the token was checked.
        self.viewer_row: Any = None
        # Set when this context runs a mutation: from then on even lag-tolerant reads use
        # the primary, so a payload (and, on a WebSocket, every later operation) sees the
        # write. Never cleared.
        self.wrote = False
        # Set when the answer may be kept by the response cache: it must be read from the
        # primary, which the change announcements describe; a lagging replica could give
        # data older than the last announcement, and the cache would keep it
        # (docs/caching.md, "Replicas").
        self.for_cache = False
        # On a WebSocket: awaited after each mutation the connection runs, before its answer
        # goes out (the response cache's barrier: the client's next read, over HTTP too,
        # sees the write). HTTP mutations wait for it in the view.
        self.after_write: Callable[[], Awaitable[None]] | None = None

    @property
    def read_db(self) -> Database:
        """Where reads that tolerate replica lag go (the catalog, review listings, cinemas
        and halls): the replica, unless this context ran a mutation. Everything else reads
        through `db`, the primary (docs/scaling.md, "What never goes to the replica")."""
        return self.db if self.wrote or self.for_cache else self.db.replica

    def loader(self, cls: type[L]) -> L:
        """The request's instance of a `<Target>By<Key>Loader`."""
        found = self._loaders.get(cls)
        if found is None:
            found = self._loaders[cls] = cls(self)  # type: ignore[call-arg]
        return found  # type: ignore[no-any-return]

    def loader_if_used(self, cls: type[L]) -> L | None:
        """The request's instance of a loader if something already asked for it."""
        return self._loaders.get(cls)  # type: ignore[return-value]

    def reset_loaders(self) -> None:
        """Forget cached loads (after a mutation changed what they hold)."""
        self._loaders.clear()

    async def viewer(self) -> Viewer | None:
        """The signed-in user, or None. An invalid, expired or revoked token is an error,
        not an anonymous request: the client must know to refresh."""
        if self._viewer is not _UNSET:
            return self._viewer
        if self._viewer_lock is None:
            self._viewer_lock = asyncio.Lock()
        async with self._viewer_lock:
            cached: Viewer | None = self._viewer
            if cached is not _UNSET:  # read by the caller we waited for
                return cached
            return await self._read_viewer()

    async def _read_viewer(self) -> Viewer | None:
        viewer: Viewer | None = None
        if self.token:
            try:
                claims = decode_access_token(self.token, self.settings)
                user_id = int(claims["sub"])
                session_id = session_id_of(claims)
            except (InvalidToken, ValueError) as exc:
                raise unauthenticated(str(exc)) from exc
            # Ended sessions (logout, refresh-token re-use): the process's cache answers
            # while it is live; otherwise the row's statement asks PostgreSQL too.
            found: SessionRevocations | None = self.services.get(REVOCATIONS_SERVICE)
            live = found if found is not None and found.live else None
            check_session = None
            if session_id is not None:
                if live is None:
                    check_session = session_id
                elif live.is_ended(session_id.hex):
                    raise unauthenticated("This session has ended; sign in again.")
            # A viewer this process knows (kept while changes to it are heard) costs no SQL.
            viewers = live.viewers if live is not None else None
            known = viewers.get(user_id) if viewers is not None else None
            if known is not None:
                _check_cutoff(claims, known.sessions_valid_after)
                self._viewer = known.viewer
                return known.viewer
            generation = viewers.generation if viewers is not None else 0
            # The whole row: `me` reuses it, so a signed-in `me` costs one statement.
            row = await account_queries.viewer_row(self.db, user_id, check_session=check_session)
            if row is None:
                raise unauthenticated("This account is not active.")
            if session_id is not None and row._mapping.get("session_ended"):
                raise unauthenticated("This session has ended; sign in again.")
            stored = row.sessions_valid_after
            cutoff = None if stored is None else int(stored.timestamp())
            _check_cutoff(claims, cutoff)
            viewer = Viewer(id=row.id, username=row.username, role=row.role)
            self.viewer_row = row
            if viewers is not None:
                viewers.put(generation, viewer, cutoff)
        self._viewer = viewer
        return viewer

    def set_viewer(self, viewer: Viewer | None) -> None:
        self._viewer = viewer
        self.viewer_row = None

    def reset_viewer(self) -> None:
        self._viewer = _UNSET
        self.viewer_row = None

    async def require_viewer(self) -> Viewer:
        viewer = await self.viewer()
        if viewer is None:
            raise unauthenticated()
        return viewer


Info = strawberry.Info[Context, None]


def _check_cutoff(claims: dict[str, Any], sessions_valid_after: int | None) -> None:
    """Refuse a token issued before the user's `sessions_valid_after` (set by signing out
    everywhere and by password changes)."""
    if sessions_valid_after is not None and int(claims["iat"]) < sessions_valid_after:
        raise unauthenticated("This session has ended; sign in again.")


class ViewerEachOperation(SchemaExtension):
    """On a WebSocket the context lives as long as the connection, and its viewer was read
    once, at `connection_init`: a user demoted, deactivated or signed out everywhere kept
    what the connection had, mutations included, and an expired token kept working. Each
    operation on a connection now checks its token again, as each HTTP request does (the
    expiry, ended sessions, the account's state and role; a dictionary lookup while this
    process hears account changes, docs/accounts.md). An operation already running keeps
    the viewer it started with."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and isinstance(context.request, WebSocket):
            context.reset_viewer()
        yield
