"""The one loader base: a DataLoader bound to the request context.

Every relation a type exposes is loaded through a per-request loader named
`<Target>By<Key>Loader` (docs/architecture.md); each subclasses `ContextLoader` and reads
through `self.context.db`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from aiodataloader import DataLoader

if TYPE_CHECKING:
    from db.session import Database
    from graph.context import Context

K = TypeVar("K")
V = TypeVar("V")


# What `ContextLoader.loaded` returns for a key the request has no value for yet.
NOT_LOADED: Any = object()


class ContextLoader(DataLoader[K, V]):
    """A loader bound to the request context (reads through `context.db`). `requested`
    maps each key asked for (or primed) in this request to its future: what `load` caches,
    which other code may look at (`loaded`; the seat-count loader reads the seat maps'
    futures, graph/showtimes/loaders.py)."""

    def __init__(self, context: Context) -> None:
        self.requested: dict[K, asyncio.Future[V]] = {}
        super().__init__(cache_map=self.requested)
        self.context = context

    def loaded(self, key: K) -> V:
        """The value of `key` when this request has it already (primed, or loaded without
        error), else NOT_LOADED: no future, no batch, nothing to await."""
        future = self.requested.get(key)
        if future is None or not future.done() or future.cancelled() or future.exception():
            return NOT_LOADED  # type: ignore[no-any-return]
        return future.result()


async def replica_rows_by_ids(
    context: Context,
    read: Callable[[Database, list[int]], Awaitable[Sequence[Any]]],
    keys: list[int],
) -> list[Any]:
    """Rows by id (`row.id`) from the replica (`context.read_db`); the ids it does not have
    are asked of the primary, since they may be rows written a moment ago that the replica
    has yet to replay (a new movie that a showtime already points at). Costs a statement
    only when an id is missing."""
    rows = list(await read(context.read_db, keys))
    if context.read_db is not context.db and len(rows) < len(set(keys)):
        found = {row.id for row in rows}
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        rows += await read(context.db, missing)
    return rows


class Prefixed:
    """A row's `<prefix><name>` columns seen as `<name>` attributes, so a read that joins a
    relation in can build (and prime) the related object with its own `from_row`."""

    __slots__ = ("prefix", "row")

    def __init__(self, row: Any, prefix: str) -> None:
        self.row = getattr(row, "_mapping", row)
        self.prefix = prefix

    @property
    def _mapping(self) -> Prefixed:
        """Read by name like a row's mapping (`m["name"]`): one call per column instead of a
        failed attribute lookup and `__getattr__` (~0.1 against ~0.6 µs)."""
        return self

    def __getitem__(self, name: str) -> Any:
        return self.row[self.prefix + name]

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None
