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


class ContextLoader(DataLoader[K, V]):
    """A loader bound to the request context (reads through `context.db`)."""

    def __init__(self, context: Context, cache_map: dict[Any, Any] | None = None) -> None:
        """`cache_map`: where `load` keeps its futures by key (default: a private dict)."""
        super().__init__(cache_map=cache_map)
        self.context = context


class RequestedLoader(ContextLoader[K, V]):
    """A loader whose keys asked for in this request other loaders may look at:
    `requested` maps each key to its future (what `load` caches)."""

    def __init__(self, context: Context) -> None:
        self.requested: dict[K, asyncio.Future[V]] = {}
        super().__init__(context, cache_map=self.requested)


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

    def __getattr__(self, name: str) -> Any:
        try:
            return self.row[self.prefix + name]
        except KeyError:
            raise AttributeError(name) from None
