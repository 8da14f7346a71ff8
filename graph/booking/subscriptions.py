"""subscription seatAvailability, and the start-up hook of this process's seat hub."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Annotated, Any

import strawberry

from db.booking.queries import seat_sequences, seat_snapshot, showtime_exists
from db.listen import listen_connector
from db.session import Database
from graph.booking.types import (
    SeatAvailabilityEvent,
    event_from_notification,
    event_from_snapshot,
)
from graph.context import Info
from graph.errors import INTERNAL_SERVER_ERROR, ApiError, bad_input
from graph.realtime import HUB_SERVICE, SeatHub, SubscriberClosed
from graph.relay import query_id


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Live seat statuses of a showtime: first a snapshot of every seat, then "
        "one event per committed change with only the seats that changed. `sequence` grows "
        "by exactly one per change; after a gap, subscribe again. Anonymous clients welcome."
    )
    async def seat_availability(
        self,
        info: Info,
        showtime_id: Annotated[strawberry.ID, strawberry.argument(description="The showtime.")],
    ) -> AsyncGenerator[SeatAvailabilityEvent, None]:
        ctx = info.context
        pk = query_id(showtime_id, "Showtime", "showtimeId")
        hub: SeatHub | None = ctx.services.get(HUB_SERVICE)
        if hub is None:
            raise ApiError("Realtime updates are not running.", INTERNAL_SERVER_ERROR)
        if not await showtime_exists(ctx.db, pk):
            raise bad_input("No such showtime.", "showtimeId")
        async with hub.subscribe(pk) as subscriber:
            try:
                async for event in subscriber:
                    yield event  # type: ignore[misc]
            except SubscriberClosed as exc:
                if exc.code is not None:
                    raise ApiError(str(exc), exc.code) from exc


def make_hub(db: Database, queue_size: int, audit_interval: float = 5.0) -> SeatHub:
    async def load_snapshot(showtime_id: int) -> SeatAvailabilityEvent | None:
        snap = await seat_snapshot(db, showtime_id)
        return None if snap is None else event_from_snapshot(snap)

    async def load_sequences(showtime_ids: list[int]) -> dict[int, int]:
        return await seat_sequences(db, showtime_ids)

    return SeatHub(
        connect=listen_connector(db),
        decode_delta=event_from_notification,
        load_snapshot=load_snapshot,
        load_sequences=load_sequences,
        queue_size=queue_size,
        audit_interval=audit_interval,
    )


async def start_seat_hub(state: Any) -> Callable[[], Awaitable[None]]:
    """Start-up hook (graph.app.STARTUP_HOOKS): this process's LISTEN connection."""
    settings = state.settings
    hub = make_hub(state.db, settings.subscriber_queue_size, settings.seat_audit_seconds)
    await hub.start()
    state.services[HUB_SERVICE] = hub

    async def stop() -> None:
        state.services.pop(HUB_SERVICE, None)
        await hub.stop()

    return stop
