"""Inputs of the order mutations."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry

from db.errors import DomainError, ErrorDetail
from db.orders.pricing import ProductLine
from graph.relay import decode_id


@strawberry.input(description="A product to add to an order.")
class ProductLineInput:
    product_id: strawberry.ID = strawberry.field(description="The product.")
    variant_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The variant (size); may be left out when the product has only one.",
    )
    quantity: int = strawberry.field(default=1, description="How many, 1 to 20.")


@strawberry.input(description="Turn your live hold into an order awaiting payment.")
class CheckoutInput:
    hold_id: strawberry.ID = strawberry.field(description="Your live seat hold.")
    products: list[ProductLineInput] = strawberry.field(
        default_factory=list,
        description="Products to add, at most 20 lines (lines of the same product and "
        "variant are added up). Their stock is reserved with the order.",
    )
    promo_code: str | None = strawberry.field(
        default=None,
        description="A promo code (case-insensitive); its discount goes to the lines it "
        "applies to.",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Any string up to 200 characters: the same key with the same input "
        "returns the first result and creates nothing more (kept 24 hours).",
    )


@strawberry.input(description="Pay an order awaiting payment.")
class PayOrderInput:
    order_id: strawberry.ID = strawberry.field(description="Your order.")
    payment_token: str = strawberry.field(
        description="A token from the payment provider's client library. The sandbox "
        "takes tok_visa (paid), tok_chargeDeclined, tok_chargeDeclinedInsufficientFunds "
        "and tok_async (confirmed by webhook about a second later)."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="The same key with the same input returns the first result and "
        "charges nothing more (kept 24 hours).",
    )


@strawberry.input(description="Cancel an order: a pending one is released, a paid one refunded.")
class CancelOrderInput:
    order_id: strawberry.ID = strawberry.field(description="The order (yours, or any for staff).")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="The same key with the same order returns the first result (the "
        "cancelled or refunded order) and does nothing more (kept 24 hours).",
    )


@strawberry.input(description="A ticket to check in at the door: its QR payload or its reference.")
class CheckInTicketInput:
    qr_payload: str | None = strawberry.field(
        default=None, description="The text of the ticket's QR code."
    )
    booking_reference: str | None = strawberry.field(
        default=None, description="The 8-character booking reference."
    )


@strawberry.input(
    description="An order whose products are handed over at the cinema: a ticket's booking "
    "reference or the order number, and optionally which product lines."
)
class MarkPickedUpInput:
    booking_reference: str | None = strawberry.field(
        default=None, description="The booking reference of any ticket of the order."
    )
    order_number: str | None = strawberry.field(
        default=None, description="The order number, e.g. MQ-7K3F9A."
    )
    line_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="The product lines to hand over (OrderLine.id); all of the order's "
        "product lines not yet picked up when left out.",
    )


@dataclass(frozen=True, slots=True)
class Cart:
    hold_id: int
    products: list[ProductLine]
    promo_code: str | None


def cart_of(input: CheckoutInput) -> Cart:
    """The hold, products and promo code of a CheckoutInput with their IDs decoded; a
    DomainError naming every malformed ID."""
    details: list[ErrorDetail] = []
    hold_id = 0
    try:
        hold_id = decode_id(input.hold_id, "SeatHold", "holdId")
    except DomainError as exc:
        details.extend(exc.details)
    products: list[ProductLine] = []
    for index, line in enumerate(input.products):
        try:
            product_id = decode_id(line.product_id, "Product", f"products.{index}.productId")
            variant_id = (
                None
                if line.variant_id is None
                else decode_id(line.variant_id, "ProductVariant", f"products.{index}.variantId")
            )
        except DomainError as exc:
            details.extend(exc.details)
            continue
        products.append(ProductLine(index, product_id, variant_id, line.quantity))
    if details:
        raise DomainError(details=details)
    return Cart(hold_id, products, input.promo_code)
