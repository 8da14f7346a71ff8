"""The one loader base: a DataLoader bound to the request context.

Every relation a type exposes is loaded through a per-request loader named
`<Target>By<Key>Loader` (docs/architecture.md); each subclasses `ContextLoader` and reads
through `self.context.db`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from aiodataloader import DataLoader

if TYPE_CHECKING:
    from graph.context import Context

K = TypeVar("K")
V = TypeVar("V")


class ContextLoader(DataLoader[K, V]):
    """A loader bound to the request context (reads through `context.db`)."""

    def __init__(self, context: Context) -> None:
        super().__init__()
        self.context = context


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
