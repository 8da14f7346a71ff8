"""The one loader base: a DataLoader bound to the request context.

Every relation a type exposes is loaded through a per-request loader named
`<Target>By<Key>Loader` (docs/architecture.md); each subclasses `ContextLoader` and reads
through `self.context.db`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

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
