"""GraphQL types of booking: holds, booking errors and seat availability events."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry

from db.booking.codes import LETTER_STATUSES
from db.booking.queries import SeatSnapshot
from db.cinemas.codes import SeatStatus
from db.cinemas.layout import MAX_SEATS
from graph.booking.enums import BookingErrorCode
from graph.cinemas.loaders import SeatByIdLoader
from graph.cinemas.types import Seat
from graph.context import Info
from graph.limits import list_size
from graph.relay import Node, to_global_id
from graph.showtimes.loaders import ShowtimeByIdLoader

if TYPE_CHECKING:
    from graph.showtimes.types import Showtime


# Global IDs come from the one cache, graph.relay.to_global_id; these only name the type.
def seat_gid(pk: int) -> strawberry.ID:
    return strawberry.ID(to_global_id("Seat", pk))


def showtime_gid(pk: int) -> strawberry.ID:
    return strawberry.ID(to_global_id("Showtime", pk))


@strawberry.type(description="An expected failure of a booking mutation.")
class BookingError:
    code: BookingErrorCode = strawberry.field(description="Machine-readable code.")
    message: str = strawberry.field(description="Human-readable explanation.")
    field: str | None = strawberry.field(description="The input field at fault, if any.")
    seat_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The seats at fault (taken, blocked, repeated or foreign)."
    )
    opens_at: datetime | None = strawberry.field(
        default=None,
        description="SHOWTIME_NOT_BOOKABLE before your sales opening: when sales open for you.",
    )


@strawberry.type(description="Seats a user holds for a while, until checkout or expiry.")
class SeatHold(Node):
    pk: strawberry.Private[int]
    showtime_pk: strawberry.Private[int]
    seat_pks: strawberry.Private[list[int]]
    user_pk: strawberry.Private[int]
    expires_at: datetime = strawberry.field(
        description="When the seats are released unless checked out."
    )

    @classmethod
    def build(
        cls, pk: int, showtime_pk: int, seat_pks: list[int], expires_at: datetime, user_pk: int
    ) -> SeatHold:
        return cls(
            id=strawberry.ID(to_global_id("SeatHold", pk)),
            pk=pk,
            showtime_pk=showtime_pk,
            seat_pks=seat_pks,
            user_pk=user_pk,
            expires_at=expires_at,
        )

    @strawberry.field(description="The showtime the seats are for.")
    async def showtime(
        self, info: Info
    ) -> Annotated[Showtime, strawberry.lazy("graph.showtimes.types")]:
        found = await info.context.loader(ShowtimeByIdLoader).load(self.showtime_pk)
        assert found is not None  # a hold is deleted with its showtime
        return found

    @strawberry.field(description="The held seats, ordered by id.")
    async def seats(self, info: Info) -> list[Seat]:
        found = await info.context.loader(SeatByIdLoader).load_many(self.seat_pks)
        return [s for s in found if s is not None]


@strawberry.type(description="Result of holdSeats.")
class HoldSeatsPayload:
    hold: SeatHold | None = strawberry.field(description="The hold, on success.")
    errors: list[BookingError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="Result of releaseHold.")
class ReleaseHoldPayload:
    released_hold_id: strawberry.ID | None = strawberry.field(
        description="The ID of the released hold, on success."
    )
    errors: list[BookingError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="A seat's status after a change.")
class SeatStatusChange:
    seat_id: strawberry.ID = strawberry.field(description="The seat.")
    status: SeatStatus = strawberry.field(description="Its status now.")


@strawberry.type(description="A change of a showtime's seats (or, first, all of them).")
class SeatAvailabilityEvent:
    # Nothing here depends on the viewer: one execution serves every subscriber
    # (graph.realtime.SharedEventExecution).
    shared_result: ClassVar[bool] = True

    showtime_id: strawberry.ID = strawberry.field(description="The showtime.")
    sequence: int = strawberry.field(
        description="Grows by one per committed change of this showtime's seats; a gap "
        "means an event was missed: subscribe again."
    )
    snapshot: bool = strawberry.field(
        description="True on the first event (and after a resync): `seats` lists every seat."
    )
    seats: list[SeatStatusChange] = strawberry.field(
        description="Every seat (snapshot) or the seats that changed.",
        metadata=list_size(MAX_SEATS),
    )
    available_seat_count: int = strawberry.field(description="Seats still available.")


_STATUS = {letter: SeatStatus(name) for letter, name in LETTER_STATUSES.items()}


def event_from_notification(data: dict[str, Any]) -> SeatAvailabilityEvent:
    """Built once per notification; the same object goes to every local subscriber."""
    showtime_id = int(data["s"])
    return SeatAvailabilityEvent(
        showtime_id=showtime_gid(showtime_id),
        sequence=int(data["q"]),
        snapshot=False,
        seats=[
            SeatStatusChange(seat_id=seat_gid(int(seat)), status=_STATUS[letter])
            for seat, letter in data.get("c", ())
        ],
        available_seat_count=int(data["a"]),
    )


def event_from_snapshot(snap: SeatSnapshot) -> SeatAvailabilityEvent:
    return SeatAvailabilityEvent(
        showtime_id=showtime_gid(snap.showtime_id),
        sequence=snap.sequence,
        snapshot=True,
        seats=[
            SeatStatusChange(seat_id=seat_gid(seat), status=SeatStatus(status))
            for seat, status in snap.seats
        ],
        available_seat_count=snap.available_count,
    )
