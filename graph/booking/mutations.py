"""Booking mutations: thin shells around db.booking.actions (one transaction each; a hold's
transaction is its one statement)."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from db.booking import actions
from db.errors import DomainError
from graph.auth import IsAuthenticated
from graph.booking.enums import BookingErrorCode
from graph.booking.inputs import HoldSeatsInput, ReleaseHoldInput
from graph.booking.loaders import SeatHoldByIdLoader
from graph.booking.types import (
    BookingError,
    HoldSeatsPayload,
    ReleaseHoldPayload,
    SeatHold,
    seat_gid,
)
from graph.context import Info
from graph.errors import payload_errors
from graph.relay import InvalidId, decode_id, parse_global_id, register_node


def booking_errors(exc: DomainError) -> list[BookingError]:
    """Map a DomainError; seat ids (primary keys from actions) become global IDs (the ids
    of a malformed input stay as they were given)."""
    errors = payload_errors(exc, BookingError, BookingErrorCode)
    for error in errors:
        if error.seat_ids is not None:
            error.seat_ids = [
                seat_gid(s) if isinstance(s, int) else strawberry.ID(str(s)) for s in error.seat_ids
            ]
    return errors


def _decode_seats(ids: list[strawberry.ID]) -> list[int]:
    bad: list[str] = []
    pks: list[int] = []
    for gid in ids:
        try:
            type_name, pk = parse_global_id(gid)
        except InvalidId:
            bad.append(gid)
            continue
        if type_name != "Seat":
            bad.append(gid)
        else:
            pks.append(pk)
    if bad:
        raise DomainError(
            BookingErrorCode.VALIDATION_ERROR,
            "These are not seat IDs.",
            "seatIds",
            seat_ids=bad,
        )
    return pks


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Hold seats of a showtime for MARQUEE_HOLD_TTL_SECONDS (default 10 min): "
        "all or nothing. Replaces your current hold on that showtime: seats still listed stay "
        "held without a gap, the others are released, and the expiry restarts.",
        permission_classes=[IsAuthenticated],
    )
    async def hold_seats(
        self,
        info: Info,
        input: Annotated[
            HoldSeatsInput, strawberry.argument(description="The showtime and the seats to hold.")
        ],
    ) -> HoldSeatsPayload:
        ctx = info.context
        viewer = await ctx.require_viewer()
        s = ctx.settings
        try:
            if len(input.seat_ids) > s.max_seats_per_hold:
                raise DomainError(
                    BookingErrorCode.HOLD_LIMIT_EXCEEDED,
                    f"At most {s.max_seats_per_hold} seats can be held at once.",
                    "seatIds",
                )
            showtime_id = decode_id(input.showtime_id, "Showtime", "showtimeId")
            seat_ids = _decode_seats(input.seat_ids)

            async def run() -> actions.HoldResult:
                # One statement on a pooled autocommit connection: it is the transaction.
                return await actions.hold_seats(
                    ctx.db,
                    user_id=viewer.id,
                    showtime_id=showtime_id,
                    seat_ids=seat_ids,
                    ttl_seconds=s.hold_ttl_seconds,
                    max_seats=s.max_seats_per_hold,
                    sales_window_days=s.sales_window_days,
                    promo_code=(input.promo_code or "").strip() or None,
                )

            result = await actions.retrying(run)
        except DomainError as exc:
            return HoldSeatsPayload(hold=None, errors=booking_errors(exc))
        hold = SeatHold.build(
            result.id, result.showtime_id, result.seat_ids, result.expires_at, result.user_id
        )
        return HoldSeatsPayload(hold=hold, errors=[])

    @strawberry.mutation(
        description="Release your hold: its seats become available at once.",
        permission_classes=[IsAuthenticated],
    )
    async def release_hold(
        self,
        info: Info,
        input: Annotated[ReleaseHoldInput, strawberry.argument(description="The hold to release.")],
    ) -> ReleaseHoldPayload:
        ctx = info.context
        viewer = await ctx.require_viewer()
        try:
            hold_id = decode_id(input.hold_id, "SeatHold", "holdId")

            async def run(session: Any) -> actions.ReleaseResult:
                return await actions.release_hold(session, user_id=viewer.id, hold_id=hold_id)

            await actions.in_transaction(ctx.db, run)
        except DomainError as exc:
            return ReleaseHoldPayload(released_hold_id=None, errors=booking_errors(exc))
        return ReleaseHoldPayload(released_hold_id=input.hold_id, errors=[])


async def _resolve_holds(info: Info, pks: list[int]) -> list[SeatHold | None]:
    """node(id) for holds: only the owner sees a hold, and only while it is live."""
    viewer = await info.context.viewer()
    if viewer is None:
        return [None] * len(pks)
    found = await info.context.loader(SeatHoldByIdLoader).load_many(pks)
    return [h if h is not None and h.user_pk == viewer.id else None for h in found]


register_node("SeatHold", _resolve_holds)
