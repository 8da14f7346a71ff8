"""Loaders of booking."""

from __future__ import annotations

from db.booking import queries
from graph.booking.types import SeatHold
from graph.loaders import ContextLoader


class SeatHoldByIdLoader(ContextLoader[int, SeatHold | None]):
    """Live holds by id with their seats (one statement); expired holds load as None."""

    async def batch_load_fn(self, keys: list[int]) -> list[SeatHold | None]:
        rows = await queries.live_holds_by_ids(self.context.db, keys)
        found = {
            r.id: SeatHold.build(
                r.id, r.showtime_id, list(r.seat_ids or []), r.expires_at, r.user_id
            )
            for r in rows
        }
        return [found.get(k) for k in keys]
