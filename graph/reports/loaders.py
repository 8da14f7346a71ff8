"""Loaders of the reports domain: a showtime's occupancy (Showtime.occupancy), one
statement for any number of showtimes."""

from __future__ import annotations

from db.reports import queries
from graph.loaders import ContextLoader
from graph.reports.types import Occupancy


class OccupancyByShowtimeLoader(ContextLoader[int, Occupancy | None]):
    """None for anyone but staff. The viewer is checked here, once per batch, not in the
    field's resolver: awaiting it there would spread the loads over several batches."""

    async def batch_load_fn(self, keys: list[int]) -> list[Occupancy | None]:
        viewer = await self.context.viewer()
        if viewer is None or not viewer.is_staff:
            return [None] * len(keys)
        rows = await queries.occupancy_by_showtime_ids(self.context.db, keys)
        found = {row.showtime_id: Occupancy.from_row(row) for row in rows}
        empty = Occupancy(capacity=0, sold=0, held=0, available=0, ratio=0.0)
        return [found.get(k, empty) for k in keys]
