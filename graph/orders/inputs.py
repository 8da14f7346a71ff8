"""Inputs of the order mutations."""

from __future__ import annotations

import strawberry


@strawberry.input(description="A product to add to an order (the shop; not sold yet).")
class ProductLineInput:
    product_id: strawberry.ID = strawberry.field(description="The product.")
    variant_id: strawberry.ID | None = strawberry.field(
        default=None, description="The variant (size), where the product has variants."
    )
    quantity: int = strawberry.field(default=1, description="How many, 1 to 20.")


@strawberry.input(description="Turn your live hold into an order awaiting payment.")
class CheckoutInput:
    hold_id: strawberry.ID = strawberry.field(description="Your live seat hold.")
    products: list[ProductLineInput] = strawberry.field(
        default_factory=list,
        description="Products to add (not on sale yet: a non-empty list is refused).",
    )
    promo_code: str | None = strawberry.field(
        default=None, description="A promo code (not accepted yet: refused when given)."
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
