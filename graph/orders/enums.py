"""The orders enums as GraphQL enums (registered here, imported from here by graph modules)."""

from __future__ import annotations

import strawberry

from db.orders.codes import (
    FulfilmentStatus,
    OrderErrorCode,
    OrderLineKind,
    OrderStatus,
    TicketStatus,
)
from db.payments.codes import PaymentStatus

strawberry.enum(OrderStatus, description="Where an order is in its life.")
strawberry.enum(TicketStatus, description="VALID until checked in (USED) or CANCELLED.")
strawberry.enum(OrderLineKind, description="What an order line sells.")
strawberry.enum(OrderErrorCode, description="Codes of order, payment and check-in errors.")
strawberry.enum(
    FulfilmentStatus,
    description="A product line's pickup at the cinema: PENDING until the order is paid (and "
    "when it ended unpaid or was refunded), READY to hand over, PICKED_UP.",
)
strawberry.enum(PaymentStatus, description="Where a payment attempt is.")

__all__ = [
    "FulfilmentStatus",
    "OrderErrorCode",
    "OrderLineKind",
    "OrderStatus",
    "PaymentStatus",
    "TicketStatus",
]
