"""GraphQL types of orders: orders, their lines and payments, tickets, payloads.

Relations resolve through `graph.orders.loaders` (imported as a module object, read at call
time: that module builds these types); types of other domains are lazy."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from db.errors import DomainError
from db.qr import qr_svg
from graph.accounts import loaders as account_loaders
from graph.cinemas import loaders as cinema_loaders
from graph.context import Info
from graph.errors import payload_errors
from graph.orders import loaders as order_loaders
from graph.orders.enums import (
    FulfilmentStatus,
    OrderErrorCode,
    OrderLineKind,
    OrderStatus,
    PaymentStatus,
    TicketStatus,
)
from graph.relay import Node, to_global_id
from graph.scalars import Money
from graph.shop import loaders as shop_loaders
from graph.showtimes import loaders as showtime_loaders

if TYPE_CHECKING:
    from graph.accounts.types import User
    from graph.cinemas.types import Seat
    from graph.shop.types import Product, ProductVariant
    from graph.showtimes.types import Showtime


def _money(amount: Decimal, currency: str) -> Money:
    return Money(amount=amount, currency=currency)


@strawberry.type(description="An expected failure of an order, payment or check-in mutation.")
class OrderError:
    code: OrderErrorCode = strawberry.field(description="Machine-readable code.")
    message: str = strawberry.field(description="Human-readable explanation.")
    field: str | None = strawberry.field(description="The input field at fault, if any.")
    checked_in_at: datetime | None = strawberry.field(
        default=None, description="ALREADY_CHECKED_IN: when the ticket was checked in."
    )
    variant_id: strawberry.ID | None = strawberry.field(
        default=None, description="OUT_OF_STOCK: the product variant short of stock."
    )
    available: int | None = strawberry.field(
        default=None, description="OUT_OF_STOCK: how many of it are left (0: sold out)."
    )


def order_errors(exc: DomainError) -> list[OrderError]:
    """A DomainError's details as OrderErrors (OUT_OF_STOCK names its variant by global ID)."""
    errors = payload_errors(exc, OrderError, OrderErrorCode)
    for error, detail in zip(errors, exc.details, strict=True):
        if "variant_pk" in detail.extra:
            error.variant_id = strawberry.ID(
                to_global_id("ProductVariant", detail.extra["variant_pk"])
            )
    return errors


@strawberry.type(description="One line of an order: a ticket for a seat, or a product.")
class OrderLine:
    showtime_pk: strawberry.Private[int | None]
    seat_pk: strawberry.Private[int | None]
    product_pk: strawberry.Private[int | None]
    variant_pk: strawberry.Private[int | None]
    kind: OrderLineKind = strawberry.field(description="TICKET or PRODUCT.")
    description: str = strawberry.field(description="What was sold, as priced at checkout.")
    quantity: int = strawberry.field(description="How many.")
    unit_price: Money = strawberry.field(description="Price of one, at checkout.")
    discount: Money = strawberry.field(
        description="This line's share of the order's discount (a promo code)."
    )
    total: Money = strawberry.field(description="quantity x unitPrice, less this line's discount.")
    id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The line's ID (for markPickedUp's lineIds); null in previewCheckout.",
    )
    fulfilment_status: FulfilmentStatus | None = strawberry.field(
        default=None,
        description="Product lines: PENDING until the order is paid, READY to pick up at the "
        "cinema, PICKED_UP once handed over. Null for ticket lines and in previewCheckout.",
    )
    picked_up_at: datetime | None = strawberry.field(
        default=None, description="When staff handed this product line over."
    )
    pk: strawberry.Private[int | None] = None

    @classmethod
    def from_row(cls, row: Any, currency: str) -> OrderLine:
        """From a line row (`lines_by_order_ids`) or a priced cart line (no id, status)."""
        pk = getattr(row, "id", None)
        status = getattr(row, "fulfilment_status", None)
        return cls(
            pk=pk,
            id=None if pk is None else strawberry.ID(to_global_id("OrderLine", pk)),
            fulfilment_status=None if status is None else FulfilmentStatus(status),
            picked_up_at=getattr(row, "picked_up_at", None),
            showtime_pk=row.showtime_id,
            seat_pk=row.seat_id,
            product_pk=row.product_id,
            variant_pk=row.variant_id,
            kind=OrderLineKind(row.kind),
            description=row.description,
            quantity=row.quantity,
            unit_price=_money(row.unit_price, currency),
            discount=_money(row.discount, currency),
            total=_money(row.unit_price * row.quantity - row.discount, currency),
        )

    @strawberry.field(description="The seat, for a ticket line.")
    async def seat(
        self, info: Info
    ) -> Annotated[Seat, strawberry.lazy("graph.cinemas.types")] | None:
        if self.seat_pk is None:
            return None
        return await info.context.loader(cinema_loaders.SeatByIdLoader).load(self.seat_pk)

    @strawberry.field(description="The product, for a product line (also when no longer on sale).")
    async def product(
        self, info: Info
    ) -> Annotated[Product, strawberry.lazy("graph.shop.types")] | None:
        if self.product_pk is None:
            return None
        return await info.context.loader(shop_loaders.ProductByIdLoader).load(self.product_pk)

    @strawberry.field(description="The variant (size), for a product line.")
    async def variant(
        self, info: Info
    ) -> Annotated[ProductVariant, strawberry.lazy("graph.shop.types")] | None:
        if self.variant_pk is None:
            return None
        return await info.context.loader(shop_loaders.VariantByIdLoader).load(self.variant_pk)

    @strawberry.field(description="The showtime, for a ticket line.")
    async def showtime(
        self, info: Info
    ) -> Annotated[Showtime, strawberry.lazy("graph.showtimes.types")] | None:
        if self.showtime_pk is None:
            return None
        return await info.context.loader(showtime_loaders.ShowtimeByIdLoader).load(self.showtime_pk)


@strawberry.type(description="An attempt to pay an order.")
class Payment:
    status: PaymentStatus = strawberry.field(description="Where the attempt is.")
    amount: Money = strawberry.field(description="The amount charged (or to be).")
    provider: str = strawberry.field(description="The payment provider, e.g. sandbox.")
    created_at: datetime = strawberry.field(description="When the attempt started.")

    @classmethod
    def from_row(cls, row: Any) -> Payment:
        return cls(
            status=PaymentStatus(row.status),
            amount=_money(row.amount, row.currency),
            provider=row.provider,
            created_at=row.created_at,
        )


@strawberry.type(description="An order: seats and products bought together.")
class Order(Node):
    pk: strawberry.Private[int]
    user_pk: strawberry.Private[int]
    number: str = strawberry.field(description="Human-readable and unique, e.g. MQ-7K3F9A.")
    status: OrderStatus = strawberry.field(description="Where the order is in its life.")
    currency: str = strawberry.field(description="ISO 4217 currency of every amount.")
    subtotal: Money = strawberry.field(description="Sum of the lines before discount.")
    discount: Money = strawberry.field(description="Discount (promo codes).")
    total: Money = strawberry.field(description="What is charged: subtotal - discount.")
    promo_code: str | None = strawberry.field(
        description="The promo code applied at checkout (its discount is `discount`)."
    )
    created_at: datetime = strawberry.field(description="When the order was checked out.")
    expires_at: datetime = strawberry.field(
        description="Unpaid by then, the order expires and its seats are released."
    )
    paid_at: datetime | None = strawberry.field(description="When payment was confirmed.")
    cancelled_at: datetime | None = strawberry.field(
        description="When it was cancelled or refunded."
    )

    @classmethod
    def from_row(cls, row: Any) -> Order:
        currency = row.currency
        return cls(
            id=strawberry.ID(to_global_id("Order", row.id)),
            pk=row.id,
            user_pk=row.user_id,
            number=row.number,
            status=OrderStatus(row.status),
            currency=currency,
            subtotal=_money(row.subtotal, currency),
            discount=_money(row.discount, currency),
            total=_money(row.total, currency),
            promo_code=row.promo_code,
            created_at=row.created_at,
            expires_at=row.expires_at,
            paid_at=row.paid_at,
            cancelled_at=row.cancelled_at,
        )

    @strawberry.field(description="The lines, in checkout order.")
    async def lines(self, info: Info) -> list[OrderLine]:
        return await info.context.loader(order_loaders.LinesByOrderLoader).load(self.pk)

    @strawberry.field(description="The tickets (once paid), one per seat.")
    async def tickets(self, info: Info) -> list[Ticket]:
        return await info.context.loader(order_loaders.TicketsByOrderLoader).load(self.pk)

    @strawberry.field(description="Payment attempts, oldest first.")
    async def payments(self, info: Info) -> list[Payment]:
        return await info.context.loader(order_loaders.PaymentsByOrderLoader).load(self.pk)

    @strawberry.field(description="The customer.")
    async def user(self, info: Info) -> Annotated[User, strawberry.lazy("graph.accounts.types")]:
        found = await info.context.loader(account_loaders.UserByIdLoader).load(self.user_pk)
        assert found is not None  # users are never deleted while they have orders
        return found


@strawberry.type(description="A ticket for one seat of one showtime.")
class Ticket(Node):
    pk: strawberry.Private[int]
    order_pk: strawberry.Private[int]
    user_pk: strawberry.Private[int]
    showtime_pk: strawberry.Private[int]
    seat_pk: strawberry.Private[int]
    booking_reference: str = strawberry.field(
        description="8 characters without look-alikes (no 0/O, 1/I/L ...), for the door."
    )
    status: TicketStatus = strawberry.field(description="VALID, USED or CANCELLED.")
    price: Money = strawberry.field(description="What this seat cost.")
    checked_in_at: datetime | None = strawberry.field(description="When it was scanned in.")

    @classmethod
    def from_row(cls, row: Any) -> Ticket:
        return cls(
            id=strawberry.ID(to_global_id("Ticket", row.id)),
            pk=row.id,
            order_pk=row.order_id,
            user_pk=row.user_id,
            showtime_pk=row.showtime_id,
            seat_pk=row.seat_id,
            booking_reference=row.booking_reference,
            status=TicketStatus(row.status),
            price=_money(row.price, row.currency),
            checked_in_at=row.checked_in_at,
        )

    @strawberry.field(description="The showtime.")
    async def showtime(
        self, info: Info
    ) -> Annotated[Showtime, strawberry.lazy("graph.showtimes.types")]:
        found = await info.context.loader(showtime_loaders.ShowtimeByIdLoader).load(
            self.showtime_pk
        )
        assert found is not None
        return found

    @strawberry.field(description="The seat.")
    async def seat(self, info: Info) -> Annotated[Seat, strawberry.lazy("graph.cinemas.types")]:
        found = await info.context.loader(cinema_loaders.SeatByIdLoader).load(self.seat_pk)
        assert found is not None
        return found

    @strawberry.field(description="The order the ticket was bought with.")
    async def order(self, info: Info) -> Order:
        found = await info.context.loader(order_loaders.OrderByIdLoader).load(self.order_pk)
        assert found is not None
        return found

    @strawberry.field(
        description="The signed text of the ticket's QR code (Ed25519; verify offline with "
        "the keys of ticketSigningKeys or /.well-known/marquee/ticket-keys.json)."
    )
    def qr_payload(self, info: Info) -> str:
        return info.context.settings.ticket_signer().sign(self.pk, self.showtime_pk, self.seat_pk)

    @strawberry.field(description="The QR code as an SVG image.")
    def qr_svg(self, info: Info) -> str:
        return qr_svg(self.qr_payload(info))


@strawberry.type(description="Result of checkout.")
class CheckoutPayload:
    order: Order | None = strawberry.field(description="The order, on success.")
    errors: list[OrderError] = strawberry.field(description="Empty on success.")


@strawberry.type(
    description="What checking out would cost now (previewCheckout): nothing is created or "
    "reserved, and stock and promo code limits are judged again at checkout."
)
class CheckoutPreview:
    lines: list[OrderLine] = strawberry.field(
        description="The lines that can be priced: tickets, then products as given."
    )
    subtotal: Money | None = strawberry.field(
        description="Sum of the lines (null when the hold cannot be priced)."
    )
    discount: Money | None = strawberry.field(description="The promo code's discount.")
    total: Money | None = strawberry.field(description="subtotal - discount.")
    promo_code: str | None = strawberry.field(
        description="The promo code, when it applies to this cart."
    )
    errors: list[OrderError] = strawberry.field(
        description="What checkout would refuse now; empty when it would go through."
    )


@strawberry.type(description="Result of payOrder.")
class PayOrderPayload:
    order: Order | None = strawberry.field(
        description="The order as it is now (PAID on success; still PENDING_PAYMENT after a "
        "decline or while an asynchronous payment is processing)."
    )
    errors: list[OrderError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="Result of cancelOrder.")
class CancelOrderPayload:
    order: Order | None = strawberry.field(description="The order, CANCELLED or REFUNDED.")
    errors: list[OrderError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="Result of markPickedUp.")
class MarkPickedUpPayload:
    order: Order | None = strawberry.field(
        description="The order (also with ALREADY_PICKED_UP, ORDER_NOT_PAID, ORDER_CANCELLED)."
    )
    picked_up: list[OrderLine] = strawberry.field(
        description="The lines this call marked PICKED_UP (empty on an error)."
    )
    errors: list[OrderError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="Result of checkInTicket.")
class CheckInTicketPayload:
    ticket: Ticket | None = strawberry.field(
        description="The ticket (also when it was checked in already)."
    )
    errors: list[OrderError] = strawberry.field(description="Empty on success.")
