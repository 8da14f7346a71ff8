"""Staff mutations on showtimes: thin shells around db.showtimes.actions."""

from __future__ import annotations

from typing import Annotated

import strawberry

from db.errors import DomainError
from db.orders import actions as order_actions
from db.showtimes import actions
from graph.auth import IsStaff
from graph.cinemas.mutations import cinema_errors
from graph.context import Info
from graph.orders.services import payments_of
from graph.relay import decode_id
from graph.showtimes.inputs import (
    CancelShowtimeInput,
    CreateShowtimeInput,
    PresaleWaveInput,
    PriceInput,
    UpdateShowtimeInput,
)
from graph.showtimes.loaders import ShowtimeByIdLoader
from graph.showtimes.types import ShowtimePayload


def _prices(prices: list[PriceInput]) -> list[actions.PriceSpec]:
    return [
        actions.PriceSpec(seat_type=p.seat_type.value, amount=p.amount, currency=p.currency)
        for p in prices
    ]


def _waves(waves: list[PresaleWaveInput]) -> list[actions.WaveSpec]:
    return [
        actions.WaveSpec(
            name=w.name,
            opens_at=w.opens_at,
            audience=w.audience.value,
            min_loyalty_points=w.min_loyalty_points,
            promo_code=w.promo_code,
        )
        for w in waves
    ]


async def _payload(info: Info, pk: int) -> ShowtimePayload:
    info.context.reset_loaders()
    showtime = await info.context.loader(ShowtimeByIdLoader).load(pk)
    return ShowtimePayload(showtime=showtime, errors=[])


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "Schedule a showtime (staff): ends_at = start + movie duration + cleaning time; "
            "a price for every seat type of the hall; never overlapping another showtime."
        ),
        permission_classes=[IsStaff],
    )
    async def create_showtime(
        self,
        info: Info,
        input: Annotated[
            CreateShowtimeInput,
            strawberry.argument(
                description="The movie, hall, start time, format, languages and seat prices."
            ),
        ],
    ) -> ShowtimePayload:
        try:
            movie_pk = decode_id(input.movie_id, "Movie", "movieId")
            hall_pk = decode_id(input.hall_id, "Hall", "hallId")
            async with info.context.db.transaction() as session:
                pk = await actions.create_showtime(
                    session,
                    movie_id=movie_pk,
                    hall_id=hall_pk,
                    starts_at=input.starts_at,
                    format=input.format,
                    language=input.language,
                    subtitles=input.subtitles,
                    prices=_prices(input.prices),
                    sales_open_at=input.sales_open_at,
                    presale_waves=_waves(input.presale_waves or []),
                )
        except DomainError as exc:
            return ShowtimePayload(showtime=None, errors=cinema_errors(exc))
        return await _payload(info, pk)

    @strawberry.mutation(
        description="Change a scheduled showtime (staff).", permission_classes=[IsStaff]
    )
    async def update_showtime(
        self,
        info: Info,
        input: Annotated[
            UpdateShowtimeInput,
            strawberry.argument(description="The showtime and the fields to change."),
        ],
    ) -> ShowtimePayload:
        try:
            pk = decode_id(input.id, "Showtime")
            async with info.context.db.transaction() as session:
                await actions.update_showtime(
                    session,
                    pk,
                    starts_at=input.starts_at if input.starts_at is not None else actions.UNSET,
                    format=input.format if input.format is not None else actions.UNSET,
                    language=input.language if input.language is not None else actions.UNSET,
                    subtitles=actions.UNSET
                    if input.subtitles is strawberry.UNSET
                    else input.subtitles,
                    prices=_prices(input.prices) if input.prices is not None else actions.UNSET,
                    sales_open_at=actions.UNSET
                    if input.sales_open_at is strawberry.UNSET
                    else input.sales_open_at,
                    presale_waves=_waves(input.presale_waves)
                    if input.presale_waves is not None
                    else actions.UNSET,
                )
        except DomainError as exc:
            return ShowtimePayload(showtime=None, errors=cinema_errors(exc))
        return await _payload(info, pk)

    @strawberry.mutation(
        description=(
            "Cancel a showtime (staff): no more bookings, held seats are released, pending "
            "orders cancelled; paid orders are refunded and their customers e-mailed by the "
            "payment background work within seconds (`refundsPending` says how many). "
            "Idempotent."
        ),
        permission_classes=[IsStaff],
    )
    async def cancel_showtime(
        self,
        info: Info,
        input: Annotated[
            CancelShowtimeInput, strawberry.argument(description="The showtime to cancel.")
        ],
    ) -> ShowtimePayload:
        # Two short transactions in the sale's lock order (docs/orders.md, "Lock order"):
        # the showtime alone (CANCELLED: no more holds, checkouts or tickets), then its
        # pending orders (id order), its HELD seats and the announcement. The refunds are
        # the payment background work's, kicked at once; none is made in this request, so
        # it answers in the same time whatever the number of paid orders.
        try:
            pk = decode_id(input.id, "Showtime")
            async with info.context.db.transaction() as session:
                await actions.cancel_showtime(session, pk)
        except DomainError as exc:
            return ShowtimePayload(showtime=None, errors=cinema_errors(exc))
        async with info.context.db.transaction() as session:
            released = await order_actions.release_cancelled_showtime(session, pk)
        if released.refunds_pending:
            ctx = info.context
            payments_of(ctx.services, ctx.db, ctx.settings).kick_cancelled_showtimes()
        payload = await _payload(info, pk)
        payload.refunds_pending = released.refunds_pending
        return payload
