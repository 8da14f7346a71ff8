"""Loaders of the reports domain: a showtime's occupancy (Showtime.occupancy), one
statement for any number of showtimes."""

from __future__ import annotations

from db.reports import queries
from graph.loaders import ContextLoader
from graph.reports.types import Occupancy


class OccupancyByShowtimeLoader(ContextLoader[int, Occupancy]):
    async def batch_load_fn(self, keys: list[int]) -> list[Occupancy]:
        rows = await queries.occupancy_by_showtime_ids(self.context.db, keys)
        found = {row.showtime_id: Occupancy.from_row(row) for row in rows}
        empty = Occupancy(capacity=0, sold=0, held=0, available=0, ratio=0.0)
        return [found.get(k, empty) for k in keys]
