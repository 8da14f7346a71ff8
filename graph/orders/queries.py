"""Order queries: `order(id)`, `node` for orders and tickets (the owner and staff only), and
the viewer's orders and tickets (`me { orders tickets }`)."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from db.errors import DomainError
from db.orders import queries as q
from db.orders.codes import OrderStatus
from graph.auth import IsAuthenticated
from graph.context import Info
from graph.orders.inputs import CheckoutInput, cart_of
from graph.orders.loaders import OrderByIdLoader, TicketByIdLoader, prime_seats
from graph.orders.services import Guess, settle_guess, take_guess
from graph.orders.types import CheckoutPreview, Order, OrderLine, Ticket, order_errors
from graph.pagination import Connection, PageArgs, paginate
from graph.relay import query_id, register_node
from graph.scalars import Money


async def _visible(info: Info, items: list[Order | None] | list[Ticket | None]) -> list[Any]:
    viewer = await info.context.viewer()
    if viewer is None:
        return [None] * len(items)
    return [
        item if item is not None and (viewer.is_staff or item.user_pk == viewer.id) else None
        for item in items
    ]


async def _resolve_orders(info: Info, pks: list[int]) -> list[Order | None]:
    return await _visible(info, await info.context.loader(OrderByIdLoader).load_many(pks))


async def _resolve_tickets(info: Info, pks: list[int]) -> list[Ticket | None]:
    return await _visible(info, await info.context.loader(TicketByIdLoader).load_many(pks))


register_node("Order", _resolve_orders)
register_node("Ticket", _resolve_tickets)


async def viewer_orders(
    info: Info, user_pk: int, status: OrderStatus | None, first: int | None, after: str | None
) -> Connection[Order]:
    """`me.orders`: newest first (two statements, whatever the page holds; relations
    through loaders)."""
    args = PageArgs(first=first, after=after)
    db = info.context.db

    async def count() -> int:
        return await q.count_user_orders(db, user_pk, status)

    async def fetch(offset: int, limit: int) -> list[Order]:
        rows = await q.user_orders(db, user_pk, status, offset, limit)
        orders = [Order.from_row(r) for r in rows]
        loader = info.context.loader(OrderByIdLoader)
        for order in orders:
            loader.prime(order.pk, order)
        return orders

    return await paginate(args, count, fetch)


async def viewer_tickets(
    info: Info, user_pk: int, upcoming: bool | None, first: int | None, after: str | None
) -> Connection[Ticket]:
    """`me.tickets`: newest first; `upcoming` true = showtimes not yet over."""
    args = PageArgs(first=first, after=after)
    db = info.context.db

    async def count() -> int:
        return await q.count_user_tickets(db, user_pk, upcoming)

    async def fetch(offset: int, limit: int) -> list[Ticket]:
        rows = await q.user_tickets(db, user_pk, upcoming, offset, limit)
        prime_seats(info.context, rows)
        return [Ticket.from_row(r) for r in rows]

    return await paginate(args, count, fetch)


@strawberry.type
class Query:
    @strawberry.field(description="An order: yours, or any for staff; null otherwise.")
    async def order(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The order's ID.")],
    ) -> Order | None:
        pk = query_id(id, "Order", "id")
        return (await _resolve_orders(info, [pk]))[0]

    @strawberry.field(
        description="Price a checkout of your hold without creating or reserving anything "
        "(the cart page): its lines, discount and total, and what checkout would refuse.",
        permission_classes=[IsAuthenticated],
    )
    async def preview_checkout(
        self,
        info: Info,
        input: Annotated[CheckoutInput, strawberry.argument(description="The cart.")],
    ) -> CheckoutPreview:
        viewer = await info.context.require_viewer()
        guess: Guess | None = None  # what the promo code took of the guesses
        try:
            cart = cart_of(input)
            guess = await take_guess(info.context, viewer.id, cart.promo_code)
            price = await q.price_cart(
                info.context.db,
                user_id=viewer.id,
                hold_id=cart.hold_id,
                products=cart.products,
                promo_code=cart.promo_code,
                guesses=guess.sql_limit(info.context.settings),
            )
        except DomainError as exc:
            await settle_guess(info.context, viewer.id, guess, exc.details)
            return CheckoutPreview(
                lines=[],
                subtotal=None,
                discount=None,
                total=None,
                promo_code=None,
                errors=order_errors(exc),
            )
        await settle_guess(info.context, viewer.id, guess, price.errors)
        currency = price.currency
        return CheckoutPreview(
            lines=[OrderLine.from_row(line, currency) for line in price.lines] if currency else [],
            subtotal=Money(amount=price.subtotal, currency=currency) if currency else None,
            discount=Money(amount=price.discount, currency=currency) if currency else None,
            total=Money(amount=price.total, currency=currency) if currency else None,
            promo_code=price.promo_code,
            errors=order_errors(DomainError(details=price.errors)) if price.errors else [],
        )
