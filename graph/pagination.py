"""Cursor connections (Relay): arguments, windows and the generic Connection type.

Cursors are opaque offsets into a deterministic order (every sort ends with the primary
key), which lets nested connections be batched with one window-function query per page.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import strawberry

from graph.errors import bad_input

MAX_PAGE = 100
DEFAULT_PAGE = 20

T = TypeVar("T")


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items precede this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge.")


@strawberry.type(description="An item and its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque cursor of this item.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list, with cursors and the total count.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")
    total_count: int = strawberry.field(description="Number of items in the whole list.")


@functools.lru_cache(maxsize=4096)
def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


# The cursors `encode_cursor` writes: "o:" and the offset in ASCII digits, no sign, no
# leading zero, at most nine digits (below a billion rows: no list is near it, and an offset
# plus a page stays within PostgreSQL's `integer`; a forged "o:2147483647" was an internal
# error, and `int()` read "o: 1", "o:1_0" and Arabic-Indic digits).
_CURSOR = re.compile(r"o:(0|[1-9][0-9]{0,8})")


def decode_cursor(cursor: str, arg: str) -> int:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
    except ValueError:
        raw = ""
    found = _CURSOR.fullmatch(raw)
    if found is None:
        shown = cursor if len(cursor) <= 40 else f"{cursor[:40]}…"
        raise bad_input(f"'{shown}' is not a valid cursor.", arg)
    return int(found.group(1))


@dataclass(frozen=True, slots=True)
class PageArgs:
    """Validated `first/after/last/before`."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def __post_init__(self) -> None:
        for name in ("first", "last"):
            value = getattr(self, name)
            if value is not None and (value < 0 or value > MAX_PAGE):
                raise bad_input(f"`{name}` must be between 0 and {MAX_PAGE}.", name)
        if self.after is not None:
            decode_cursor(self.after, "after")
        if self.before is not None:
            decode_cursor(self.before, "before")

    @property
    def needs_total(self) -> bool:
        """`last` without `before` counts from the end, so the total must be known first."""
        return self.last is not None and self.before is None

    def window(self, total: int | None = None) -> tuple[int, int]:
        """(offset, limit) of the requested page."""
        start = decode_cursor(self.after, "after") + 1 if self.after is not None else 0
        end: int | None = decode_cursor(self.before, "before") if self.before is not None else None
        if end is None and total is not None:
            end = total
        if self.first is not None:
            stop = start + self.first
            end = stop if end is None else min(end, stop)
        if self.last is not None:
            if end is None:
                raise ValueError("total needed for `last` without `before`")
            start = max(start, end - self.last)
        if end is None:
            end = start + DEFAULT_PAGE
        return start, max(0, end - start)


def build_connection(items: Sequence[T], offset: int, total: int) -> Connection[T]:
    edges = [Edge(cursor=encode_cursor(offset + i), node=item) for i, item in enumerate(items)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=offset + len(items) < total,
            has_previous_page=offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total,
    )


async def paginate(
    args: PageArgs,
    count: Callable[[], Awaitable[int]],
    fetch: Callable[[int, int], Awaitable[Sequence[T]]],
) -> Connection[T]:
    """A root connection: count the list, then fetch the requested window."""
    total = await count()
    offset, limit = args.window(total)
    items = await fetch(offset, limit) if limit > 0 and offset < total else []
    return build_connection(items, offset, total)
