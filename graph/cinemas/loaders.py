"""Loaders of cinemas, halls, seats and layouts, batched per request.

`graph.cinemas.types` resolves its relations through these loaders and these loaders build
its types: each module imports the other as a module object (read at call time), so either
can be imported first."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from db.cinemas import queries
from db.cinemas.layout import group_rows, layout_text, layout_version
from graph.cinemas import types as cinema_types
from graph.loaders import ContextLoader, replica_rows_by_ids

if TYPE_CHECKING:
    from graph.cinemas.types import Cinema, Hall, HallLayout, Seat


class CinemaByIdLoader(ContextLoader[int, "Cinema | None"]):
    async def batch_load_fn(self, keys: list[int]) -> list[Cinema | None]:
        rows = await replica_rows_by_ids(self.context, queries.cinemas_by_ids, keys)
        found = {row.id: cinema_types.Cinema.from_row(row) for row in rows}
        return [found.get(k) for k in keys]


class HallByIdLoader(ContextLoader[int, "Hall | None"]):
    async def batch_load_fn(self, keys: list[int]) -> list[Hall | None]:
        rows = await replica_rows_by_ids(self.context, queries.halls_by_ids, keys)
        found = {row.id: cinema_types.Hall.from_row(row) for row in rows}
        return [found.get(k) for k in keys]


class HallsByCinemaLoader(ContextLoader[int, "list[Hall]"]):
    """A cinema's halls by name."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[Hall]]:
        found: dict[int, list[Hall]] = defaultdict(list)
        for row in await queries.halls_by_cinema_ids(self.context.read_db, keys):
            found[row.cinema_id].append(cinema_types.Hall.from_row(row))
        return [found.get(k, []) for k in keys]


class SeatByIdLoader(ContextLoader[int, "Seat | None"]):
    async def batch_load_fn(self, keys: list[int]) -> list[Seat | None]:
        rows = await queries.seats_by_ids(self.context.db, keys)
        found = {row.id: cinema_types.Seat.from_row(row) for row in rows}
        return [found.get(k) for k in keys]


def build_layout(seats: list[Seat]) -> HallLayout:
    return cinema_types.HallLayout(
        version=layout_version(
            layout_text(
                [(s.pk, s.row_label, s.number, s.type.value, s.x, s.y, s.is_blocked) for s in seats]
            )
        ),
        width=max((s.x for s in seats), default=0),
        height=max((s.y for s in seats), default=0),
        seat_count=len(seats),
        rows=[
            cinema_types.LayoutRow(label=label, seats=row)
            for label, row in group_rows(seats, lambda s: s.row_label)
        ],
    )


class HallLayoutByHallLoader(ContextLoader[int, "HallLayout"]):
    async def batch_load_fn(self, keys: list[int]) -> list[HallLayout]:
        found: dict[int, list[Seat]] = defaultdict(list)
        for row in await queries.seats_by_hall_ids(self.context.db, keys):
            found[row.hall_id].append(cinema_types.Seat.from_row(row))
        return [build_layout(found.get(k, [])) for k in keys]
