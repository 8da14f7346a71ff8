"""Booking queries: the viewer's current hold on a showtime (a seat map reloads it)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from db.booking import queries
from graph.auth import IsAuthenticated
from graph.booking.loaders import SeatHoldByIdLoader
from graph.booking.types import SeatHold
from graph.context import Info
from graph.relay import query_id


@strawberry.type
class Query:
    @strawberry.field(
        description="Your live hold on a showtime, or null (none, or expired).",
        permission_classes=[IsAuthenticated],
    )
    async def my_hold(
        self,
        info: Info,
        showtime_id: Annotated[strawberry.ID, strawberry.argument(description="The showtime.")],
    ) -> SeatHold | None:
        ctx = info.context
        viewer = await ctx.require_viewer()
        pk = query_id(showtime_id, "Showtime", "showtimeId")
        hold_id = await queries.hold_id_of(ctx.db, user_id=viewer.id, showtime_id=pk)
        if hold_id is None:
            return None
        return await ctx.loader(SeatHoldByIdLoader).load(hold_id)
