"""Staff mutations on cinemas and halls: thin shells around db.cinemas.actions."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

import strawberry

from db.cinemas import actions
from db.cinemas.codes import CinemaErrorCode
from db.cinemas.layout import RowSpec, SeatSpec, build_layout
from db.errors import DomainError, Validator
from graph.auth import IsStaff
from graph.cinemas.inputs import (
    CreateCinemaInput,
    CreateHallInput,
    HallRowInput,
    HallSeatInput,
    UpdateCinemaInput,
    UpdateHallInput,
    UpdateHallLayoutInput,
)
from graph.cinemas.loaders import CinemaByIdLoader, HallByIdLoader
from graph.cinemas.types import CinemaError, CinemaPayload, HallPayload
from graph.context import Info
from graph.errors import payload_errors
from graph.relay import decode_id, to_global_id


def cinema_errors(exc: DomainError) -> list[CinemaError]:
    """Payload errors; seat primary keys in `seat_ids` become global Seat IDs."""
    details = [
        replace(
            d,
            extra={**d.extra, "seat_ids": [to_global_id("Seat", pk) for pk in d.extra["seat_ids"]]},
        )
        if "seat_ids" in d.extra
        else d
        for d in exc.details
    ]
    return payload_errors(DomainError(details=details), CinemaError, CinemaErrorCode)


def _given(value: Any) -> Any:
    return actions.UNSET if value is strawberry.UNSET else value


def layout_specs(
    rows: list[HallRowInput] | None, seats: list[HallSeatInput] | None, v: Validator
) -> list[SeatSpec]:
    return build_layout(
        [
            RowSpec(
                label=r.label,
                seats=r.seats,
                seat_type=r.seat_type.value,
                gaps=tuple(r.gaps),
                blocked=tuple(r.blocked),
            )
            for r in rows
        ]
        if rows is not None
        else None,
        [
            SeatSpec(
                row_label=s.row_label,
                number=s.number,
                x=s.x,
                y=s.y,
                seat_type=s.seat_type.value,
                is_blocked=s.is_blocked,
            )
            for s in seats
        ]
        if seats is not None
        else None,
        v,
    )


async def _cinema_payload(info: Info, pk: int) -> CinemaPayload:
    info.context.reset_loaders()
    return CinemaPayload(cinema=await info.context.loader(CinemaByIdLoader).load(pk), errors=[])


async def _hall_payload(info: Info, pk: int) -> HallPayload:
    info.context.reset_loaders()
    return HallPayload(hall=await info.context.loader(HallByIdLoader).load(pk), errors=[])


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Open a cinema (staff).", permission_classes=[IsStaff])
    async def create_cinema(
        self,
        info: Info,
        input: Annotated[CreateCinemaInput, strawberry.argument(description="The new cinema.")],
    ) -> CinemaPayload:
        fields = actions.CinemaFields(
            name=input.name,
            address=input.address,
            city=input.city,
            phone=input.phone,
            email=input.email,
            latitude=input.latitude,
            longitude=input.longitude,
            time_zone=input.time_zone,
            opens_at=input.opens_at,
            closes_at=input.closes_at,
            description=input.description,
        )
        try:
            async with info.context.db.transaction() as session:
                pk = await actions.create_cinema(session, fields)
        except DomainError as exc:
            return CinemaPayload(cinema=None, errors=cinema_errors(exc))
        return await _cinema_payload(info, pk)

    @strawberry.mutation(description="Change a cinema (staff).", permission_classes=[IsStaff])
    async def update_cinema(
        self,
        info: Info,
        input: Annotated[
            UpdateCinemaInput,
            strawberry.argument(description="The cinema and the fields to change."),
        ],
    ) -> CinemaPayload:
        try:
            pk = decode_id(input.id, "Cinema")
            fields = actions.CinemaFields(
                **{
                    name: _given(getattr(input, name))
                    for name in (
                        "name",
                        "address",
                        "city",
                        "phone",
                        "email",
                        "latitude",
                        "longitude",
                        "time_zone",
                        "opens_at",
                        "closes_at",
                        "description",
                        "is_active",
                    )
                }
            )
            async with info.context.db.transaction() as session:
                await actions.update_cinema(session, pk, fields)
        except DomainError as exc:
            return CinemaPayload(cinema=None, errors=cinema_errors(exc))
        return await _cinema_payload(info, pk)

    @strawberry.mutation(
        description="Add a hall with its seat layout (staff).", permission_classes=[IsStaff]
    )
    async def create_hall(
        self,
        info: Info,
        input: Annotated[
            CreateHallInput,
            strawberry.argument(
                description="The cinema, the new hall's attributes and its seat layout."
            ),
        ],
    ) -> HallPayload:
        try:
            cinema_pk = decode_id(input.cinema_id, "Cinema", "cinemaId")
            v = Validator()
            seats = layout_specs(input.rows, input.seats, v)
            async with info.context.db.transaction() as session:
                pk = await actions.create_hall(
                    session,
                    cinema_id=cinema_pk,
                    name=input.name,
                    screen_type=input.screen_type,
                    sound_system=input.sound_system,
                    cleaning_minutes=input.cleaning_minutes,
                    seats=seats,
                    validator=v,
                )
        except DomainError as exc:
            return HallPayload(hall=None, errors=cinema_errors(exc))
        return await _hall_payload(info, pk)

    @strawberry.mutation(
        description="Change a hall's attributes (staff).", permission_classes=[IsStaff]
    )
    async def update_hall(
        self,
        info: Info,
        input: Annotated[
            UpdateHallInput, strawberry.argument(description="The hall and the fields to change.")
        ],
    ) -> HallPayload:
        try:
            pk = decode_id(input.id, "Hall")
            async with info.context.db.transaction() as session:
                await actions.update_hall(
                    session,
                    pk,
                    name=_given(input.name),
                    screen_type=_given(input.screen_type),
                    sound_system=_given(input.sound_system),
                    cleaning_minutes=_given(input.cleaning_minutes),
                    is_active=_given(input.is_active),
                )
        except DomainError as exc:
            return HallPayload(hall=None, errors=cinema_errors(exc))
        return await _hall_payload(info, pk)

    @strawberry.mutation(
        description=(
            "Replace a hall's seat layout (staff). Seats with tickets can't be removed, nor "
            "retyped before their showtime ends (SEAT_HAS_TICKETS with seatIds)."
        ),
        permission_classes=[IsStaff],
    )
    async def update_hall_layout(
        self,
        info: Info,
        input: Annotated[
            UpdateHallLayoutInput,
            strawberry.argument(description="The hall and its new seat layout."),
        ],
    ) -> HallPayload:
        try:
            pk = decode_id(input.hall_id, "Hall", "hallId")
            v = Validator()
            seats = layout_specs(input.rows, input.seats, v)
            async with info.context.db.transaction() as session:
                await actions.update_hall_layout(session, pk, seats, validator=v)
        except DomainError as exc:
            return HallPayload(hall=None, errors=cinema_errors(exc))
        return await _hall_payload(info, pk)
