"""Order mutations: checkout, payOrder, cancelOrder (customers) and checkInTicket (staff).
Thin shells: parse the input, call db actions, map `DomainError` into the payload."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import strawberry

from db.booking.actions import in_transaction, retrying
from db.errors import DomainError, ErrorDetail
from db.orders import actions
from db.orders.codes import (
    ORDER_NUMBER_LENGTH,
    ORDER_NUMBER_PREFIX,
    REFERENCE_LENGTH,
)
from db.orders.queries import PayloadOrder, PayloadTicket
from db.orders.signing import InvalidTicketPayload
from db.payments import actions as payment_actions
from graph.auth import IsAuthenticated, IsStaff
from graph.context import Info
from graph.orders.enums import OrderErrorCode
from graph.orders.inputs import (
    CancelOrderInput,
    CheckInTicketInput,
    CheckoutInput,
    MarkPickedUpInput,
    PayOrderInput,
    cart_of,
)
from graph.orders.loaders import (
    LinesByOrderLoader,
    OrderByIdLoader,
    TicketByIdLoader,
    prime_order_tickets,
)
from graph.orders.services import Guess, payments_of, settle_guess, take_guess
from graph.orders.types import (
    CancelOrderPayload,
    CheckInTicketPayload,
    CheckoutPayload,
    MarkPickedUpPayload,
    Order,
    OrderError,
    PayOrderPayload,
    order_errors,
)
from graph.relay import decode_id

MAX_KEY_LENGTH = 200
# An order has at most 20 product lines (docs/shop.md); a few more ids are refused early.
MAX_PICKUP_LINES = 50


def _errors(details: list[ErrorDetail]) -> list[OrderError]:
    return order_errors(DomainError(details=details)) if details else []


def _check_key(key: str | None) -> None:
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH):
        raise DomainError(
            OrderErrorCode.VALIDATION_ERROR,
            f"An idempotency key has 1 to {MAX_KEY_LENGTH} characters.",
            "idempotencyKey",
        )


async def _order(
    info: Info,
    order_id: int | None,
    row: PayloadOrder | None = None,
    tickets: list[PayloadTicket] | None = None,
) -> Order | None:
    """The order a payload shows: read again (what the mutation committed), unless the
    mutation's own statement returned it as committed (`row`: checkout and payOrder, read
    after every change of the statement; `tickets`: payOrder's, with their seats), and only
    when the viewer may see it (theirs, or staff), whatever id an action handed back."""
    if order_id is None:
        return None
    info.context.reset_loaders()
    loader = info.context.loader(OrderByIdLoader)
    if row is not None:
        loader.prime(order_id, Order.from_row(row))
        if tickets is not None:
            prime_order_tickets(info.context, order_id, tickets)
    order = await loader.load(order_id)
    viewer = await info.context.viewer()
    if order is None or viewer is None or not (viewer.is_staff or order.user_pk == viewer.id):
        return None
    return order


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Turn your live hold into an order awaiting payment; it expires with the "
        "hold. One order per hold: checking out the same hold again returns its order.",
        permission_classes=[IsAuthenticated],
    )
    async def checkout(
        self,
        info: Info,
        input: Annotated[CheckoutInput, strawberry.argument(description="The hold to buy.")],
    ) -> CheckoutPayload:
        ctx = info.context
        viewer = await ctx.require_viewer()
        guess: Guess | None = None  # what the promo code took of the guesses
        try:
            _check_key(input.idempotency_key)
            cart = cart_of(input)
            guess = await take_guess(ctx, viewer.id, cart.promo_code)

            async def run() -> actions.CheckedOut:
                # One statement on a pooled autocommit connection: it is the transaction.
                return await actions.checkout(
                    ctx.db,
                    user_id=viewer.id,
                    hold_id=cart.hold_id,
                    products=cart.products,
                    promo_code=cart.promo_code,
                    guesses=guess.sql_limit(ctx.settings),
                    idempotency_key=input.idempotency_key,
                )

            checked_out = await retrying(run)
        except DomainError as exc:
            await settle_guess(ctx, viewer.id, guess, exc.details)
            return CheckoutPayload(order=None, errors=order_errors(exc))
        await settle_guess(ctx, viewer.id, guess, [])
        return CheckoutPayload(
            order=await _order(info, checked_out.order_id, checked_out.order), errors=[]
        )

    @strawberry.mutation(
        description="Pay an order with a payment token. Declined: the order stays payable "
        "until it expires. tok_async: the order stays PENDING_PAYMENT with a PROCESSING "
        "payment until the provider's webhook confirms it.",
        permission_classes=[IsAuthenticated],
    )
    async def pay_order(
        self,
        info: Info,
        input: Annotated[PayOrderInput, strawberry.argument(description="Order and token.")],
    ) -> PayOrderPayload:
        ctx = info.context
        viewer = await ctx.require_viewer()
        try:
            _check_key(input.idempotency_key)
            order_id = decode_id(input.order_id, "Order", "orderId")
            if not (0 < len(input.payment_token) <= 200):
                raise DomainError(
                    OrderErrorCode.VALIDATION_ERROR, "Give a payment token.", "paymentToken"
                )
        except DomainError as exc:
            return PayOrderPayload(order=None, errors=order_errors(exc))
        payments = payments_of(ctx.services, ctx.db, ctx.settings)
        result = await payment_actions.pay_order(
            ctx.db,
            payments.provider,
            user_id=viewer.id,
            order_id=order_id,
            token=input.payment_token,
            idempotency_key=input.idempotency_key,
            fulfilment=payments.fulfilment,
        )
        return PayOrderPayload(
            order=await _order(info, result.order_id, result.order, result.tickets),
            errors=_errors(result.errors),
        )

    @strawberry.mutation(
        description="Cancel an order: a pending one is released; a paid one is refunded up "
        "to MARQUEE_CANCELLATION_CUTOFF_MINUTES (default 60) before the showtime, its "
        "tickets cancelled and its seats made available.",
        permission_classes=[IsAuthenticated],
    )
    async def cancel_order(
        self,
        info: Info,
        input: Annotated[CancelOrderInput, strawberry.argument(description="The order.")],
    ) -> CancelOrderPayload:
        ctx = info.context
        viewer = await ctx.require_viewer()
        payments = payments_of(ctx.services, ctx.db, ctx.settings)
        cutoff = timedelta(minutes=ctx.settings.cancellation_cutoff_minutes)
        try:
            _check_key(input.idempotency_key)
            order_id = decode_id(input.order_id, "Order", "orderId")

            async def run(session: Any) -> int:
                return await payment_actions.cancel_order(
                    session,
                    payments.provider,
                    order_id=order_id,
                    user_id=None if viewer.is_staff else viewer.id,
                    cutoff=cutoff,
                    viewer_id=viewer.id,
                    idempotency_key=input.idempotency_key,
                )

            await in_transaction(ctx.db, run)
        except DomainError as exc:
            return CancelOrderPayload(order=None, errors=order_errors(exc))
        return CancelOrderPayload(order=await _order(info, order_id), errors=[])

    @strawberry.mutation(
        description="Check a ticket in at the door (staff): by its QR payload (verified "
        "offline-style, by signature) or its booking reference. A second scan returns the "
        "ticket with ALREADY_CHECKED_IN.",
        permission_classes=[IsStaff],
    )
    async def check_in_ticket(
        self,
        info: Info,
        input: Annotated[CheckInTicketInput, strawberry.argument(description="The ticket.")],
    ) -> CheckInTicketPayload:
        ctx = info.context
        viewer = await ctx.require_viewer()
        opens = timedelta(minutes=ctx.settings.check_in_opens_minutes)
        ticket_id: int | None = None
        reference: str | None = None
        claims: tuple[int, int] | None = None
        try:
            if (input.qr_payload is None) == (input.booking_reference is None):
                raise DomainError(
                    OrderErrorCode.VALIDATION_ERROR,
                    "Give either qrPayload or bookingReference.",
                    "qrPayload",
                )
            if input.qr_payload is not None:
                try:
                    found = ctx.settings.ticket_signer().verify(input.qr_payload)
                except InvalidTicketPayload:
                    raise DomainError(
                        OrderErrorCode.INVALID_TICKET, "This QR code is not a valid ticket."
                    ) from None
                ticket_id = found.ticket_id
                claims = (found.showtime_id, found.seat_id)
            else:
                reference = (input.booking_reference or "").strip().upper()
                if len(reference) != REFERENCE_LENGTH:
                    raise DomainError(
                        OrderErrorCode.NOT_FOUND,
                        "No ticket has this booking reference.",
                        "bookingReference",
                    )

            async def run(session: Any) -> actions.CheckInResult:
                return await actions.check_in(
                    session,
                    staff_id=viewer.id,
                    ticket_id=ticket_id,
                    booking_reference=reference,
                    claims=claims,
                    opens_before=opens,
                )

            result = await in_transaction(ctx.db, run)
        except DomainError as exc:
            return CheckInTicketPayload(ticket=None, errors=order_errors(exc))
        ticket = None
        if result.ticket_id is not None:
            ctx.reset_loaders()
            ticket = await ctx.loader(TicketByIdLoader).load(result.ticket_id)
        errors = order_errors(result.error) if result.error is not None else []
        return CheckInTicketPayload(ticket=ticket, errors=errors)

    @strawberry.mutation(
        description="Hand over a paid order's products at the cinema (staff): the order by a "
        "ticket's booking reference or its number; all its product lines not yet picked up, "
        "or those of lineIds, become PICKED_UP. Errors: NOT_FOUND, ORDER_NOT_PAID, "
        "ORDER_CANCELLED (expired, cancelled or refunded), ALREADY_PICKED_UP.",
        permission_classes=[IsStaff],
    )
    async def mark_picked_up(
        self,
        info: Info,
        input: Annotated[MarkPickedUpInput, strawberry.argument(description="The order.")],
    ) -> MarkPickedUpPayload:
        ctx = info.context
        viewer = await ctx.require_viewer()
        reference: str | None = None
        number: str | None = None
        try:
            if (input.booking_reference is None) == (input.order_number is None):
                raise DomainError(
                    OrderErrorCode.VALIDATION_ERROR,
                    "Give either bookingReference or orderNumber.",
                    "bookingReference",
                )
            line_ids: list[int] | None = None
            if input.line_ids is not None:
                if not (0 < len(input.line_ids) <= MAX_PICKUP_LINES):
                    raise DomainError(
                        OrderErrorCode.VALIDATION_ERROR,
                        f"Give 1 to {MAX_PICKUP_LINES} line IDs, or leave lineIds out.",
                        "lineIds",
                    )
                line_ids = [decode_id(i, "OrderLine", "lineIds") for i in input.line_ids]
            if input.booking_reference is not None:
                reference = input.booking_reference.strip().upper()
                if len(reference) != REFERENCE_LENGTH:
                    raise DomainError(
                        OrderErrorCode.NOT_FOUND,
                        "No ticket has this booking reference.",
                        "bookingReference",
                    )
            else:
                number = (input.order_number or "").strip().upper()
                if len(number) != len(ORDER_NUMBER_PREFIX) + ORDER_NUMBER_LENGTH:
                    raise DomainError(
                        OrderErrorCode.NOT_FOUND, "No order has this number.", "orderNumber"
                    )

            async def run(session: Any) -> actions.PickupResult:
                return await actions.mark_picked_up(
                    session,
                    staff_id=viewer.id,
                    booking_reference=reference,
                    order_number=number,
                    line_ids=line_ids,
                )

            result = await in_transaction(ctx.db, run)
        except DomainError as exc:
            return MarkPickedUpPayload(order=None, picked_up=[], errors=order_errors(exc))
        order = await _order(info, result.order_id)
        picked_up = []
        if order is not None and result.line_ids:
            marked = set(result.line_ids)
            lines = await ctx.loader(LinesByOrderLoader).load(order.pk)
            picked_up = [line for line in lines if line.pk in marked]
        errors = order_errors(result.error) if result.error is not None else []
        return MarkPickedUpPayload(order=order, picked_up=picked_up, errors=errors)
