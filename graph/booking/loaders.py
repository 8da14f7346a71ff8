"""Loaders of booking."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from db.booking.models import SeatHold as SeatHoldRow
from db.booking.models import SeatOccupancy
from graph.booking.types import SeatHold
from graph.loaders import ContextLoader


class SeatHoldByIdLoader(ContextLoader[int, SeatHold | None]):
    """Live holds by id with their seats (one statement); expired holds load as None."""

    async def batch_load_fn(self, keys: list[int]) -> list[SeatHold | None]:
        seats = (
            select(func.array_agg(aggregate_order_by(SeatOccupancy.seat_id, SeatOccupancy.seat_id)))
            .where(SeatOccupancy.hold_id == SeatHoldRow.id, SeatOccupancy.status == "HELD")
            .scalar_subquery()
        )
        rows = await self.context.db.fetch(
            select(
                SeatHoldRow.id,
                SeatHoldRow.user_id,
                SeatHoldRow.showtime_id,
                SeatHoldRow.expires_at,
                seats.label("seat_ids"),
            ).where(SeatHoldRow.id.in_(keys), SeatHoldRow.expires_at > func.now())
        )
        found = {
            r.id: SeatHold.build(
                r.id, r.showtime_id, list(r.seat_ids or []), r.expires_at, r.user_id
            )
            for r in rows
        }
        return [found.get(k) for k in keys]
