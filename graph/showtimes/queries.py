"""Showtime queries: showtimes(filter), showtime(id); node registration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import strawberry

from db.showtimes import queries
from graph.context import Info
from graph.lookahead import selected_names
from graph.pagination import Connection, PageArgs, paginate
from graph.relay import query_id, register_node
from graph.showtimes.inputs import ShowtimeFilter
from graph.showtimes.loaders import (
    ShowtimeByIdLoader,
    ShowtimeWithSeatMapByIdLoader,
    ShowtimeWithSeatStatusesByIdLoader,
    spec_from_filter,
)
from graph.showtimes.types import Showtime


@strawberry.type
class Query:
    @strawberry.field(
        description=(
            "Showtimes by start time. Without startsAfter/startsBefore, only those that have "
            "not started; by default only SCHEDULED ones."
        )
    )
    async def showtimes(
        self,
        info: Info,
        filter: Annotated[
            ShowtimeFilter | None, strawberry.argument(description="Conditions.")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
        last: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        before: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
    ) -> Connection[Showtime]:
        args = PageArgs(first, after, last, before)
        spec = spec_from_filter(filter)
        db = info.context.db

        async def count() -> int:
            return await queries.count_showtimes(db, spec)

        async def fetch(offset: int, limit: int) -> Sequence[Showtime]:
            rows = await queries.list_showtimes(db, spec, offset, limit)
            items = [Showtime.from_row(r) for r in rows]
            loader = info.context.loader(ShowtimeByIdLoader)
            for item in items:
                loader.prime(item.pk, item)
            return items

        return await paginate(args, count, fetch)

    @strawberry.field(description="A showtime by ID (cancelled ones included).")
    async def showtime(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="ID.")]
    ) -> Showtime | None:
        pk = query_id(id, "Showtime")
        # A seat map selected: the showtime and what the map needs in one statement.
        selected = selected_names(info)
        if "seatMap" in selected:
            return await info.context.loader(ShowtimeWithSeatMapByIdLoader).load(pk)
        if "seatStatuses" in selected:
            return await info.context.loader(ShowtimeWithSeatStatusesByIdLoader).load(pk)
        return await info.context.loader(ShowtimeByIdLoader).load(pk)


async def _showtime_nodes(info: Info, pks: list[int]) -> list[Any]:
    return list(await info.context.loader(ShowtimeByIdLoader).load_many(pks))


register_node("Showtime", _showtime_nodes)
