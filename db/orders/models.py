"""Order tables: orders, their lines, tickets, and idempotency keys.

An order is priced once, in the checkout transaction, from the database's own prices; its
lines are kept as sold (description, unit price), so later price changes never touch it.
Product lines and a discount slot in beside ticket lines (`order_lines.kind`,
`orders.discount`, `order_lines.discount`) without changing these tables.

No seat has two live tickets: a partial unique index on tickets (showtime_id, seat_id)
for VALID and USED tickets, beside the occupancy's own unique constraint.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base

MONEY = Numeric(12, 2)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(
            "status IN ('PENDING_PAYMENT', 'PAID', 'CANCELLED', 'EXPIRED', 'REFUNDED')",
            name="status",
        ),
        CheckConstraint("subtotal >= 0 AND discount >= 0 AND total >= 0", name="amounts"),
        CheckConstraint("total = subtotal - discount", name="total"),
        Index("ix_orders_user_created", "user_id", "created_at"),
        # A customer's live uses of a promo code (its per-user limit).
        Index(
            "ix_orders_promo_code_user",
            "promo_code_id",
            "user_id",
            postgresql_where=text("promo_code_id IS NOT NULL"),
        ),
        # Reports: orders paid, refunded on local days.
        Index("ix_orders_paid_on", "paid_on", postgresql_where=text("paid_on IS NOT NULL")),
        Index(
            "ix_orders_refunded_on",
            "refunded_on",
            postgresql_where=text("refunded_on IS NOT NULL"),
        ),
        # The sweeper's scan: pending orders by expiry.
        Index(
            "ix_orders_pending_expiry",
            "expires_at",
            postgresql_where=text("status = 'PENDING_PAYMENT'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    )
    # The hold this order was checked out from (one order per hold). The hold row itself is
    # gone: its seats moved to the order (seat_occupancy.order_id).
    hold_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    showtime_id: Mapped[int | None] = mapped_column(
        ForeignKey("showtimes.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    subtotal: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    discount: Mapped[Decimal] = mapped_column(MONEY, nullable=False, server_default="0")
    total: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    # Units sold, kept with the order at checkout so reports need not read the lines.
    ticket_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    product_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    # Loyalty points this order added when paid (taken back by a refund).
    loyalty_points: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    # The promo code applied at checkout (its use counted in promo_codes.times_used).
    promo_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("promo_codes.id", ondelete="RESTRICT")
    )
    # Checked out before the showtime's general sale, and the code its hold was admitted
    # with: payment judges the buyer's opening again (docs/shop.md, "Presale waves").
    presale: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    presale_code: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # paid_at and refunded_at as dates in the showtime's cinema's time zone (the reports'
    # days), kept by a trigger whenever either is written (migration 0012_shop_functions).
    paid_on: Mapped[date | None] = mapped_column(Date)
    refunded_on: Mapped[date | None] = mapped_column(Date)


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("kind IN ('TICKET', 'PRODUCT')", name="kind"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("unit_price >= 0 AND discount >= 0", name="amounts"),
        CheckConstraint(
            "kind <> 'TICKET' OR (showtime_id IS NOT NULL AND seat_id IS NOT NULL "
            "AND quantity = 1)",
            name="ticket_line",
        ),
        CheckConstraint(
            "kind <> 'PRODUCT' OR (product_id IS NOT NULL AND variant_id IS NOT NULL)",
            name="product_line",
        ),
        CheckConstraint("discount <= unit_price * quantity", name="discount_within_line"),
        # Only product lines are picked up at the cinema (docs/shop.md, "Pickup").
        CheckConstraint("kind = 'PRODUCT' OR picked_up_at IS NULL", name="picked_up_product"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True, nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    description: Mapped[str] = mapped_column(String(300), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    # This line's share of the order's discount (promo codes).
    discount: Mapped[Decimal] = mapped_column(MONEY, nullable=False, server_default="0")
    showtime_id: Mapped[int | None] = mapped_column(ForeignKey("showtimes.id", ondelete="RESTRICT"))
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("seats.id", ondelete="RESTRICT"))
    seat_type: Mapped[str | None] = mapped_column(String(16))
    # Product lines: what was sold (the description keeps the name as sold).
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="RESTRICT"), index=True
    )
    variant_id: Mapped[int | None] = mapped_column(
        ForeignKey("product_variants.id", ondelete="RESTRICT")
    )
    # Product lines: when and by which staff member they were handed over (markPickedUp).
    # The fulfilment status is read from these and the order's status (PICKED_UP, READY
    # once PAID, PENDING otherwise); a refund gives back to stock only lines not picked up.
    picked_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    picked_up_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint("status IN ('VALID', 'USED', 'CANCELLED')", name="status"),
        CheckConstraint("(status = 'USED') = (checked_in_at IS NOT NULL)", name="checked_in"),
        # No seat has two live tickets, whatever else goes wrong.
        Index(
            "uq_tickets_live_seat",
            "showtime_id",
            "seat_id",
            unique=True,
            postgresql_where=text("status IN ('VALID', 'USED')"),
        ),
        Index("ix_tickets_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    booking_reference: Mapped[str] = mapped_column(String(8), unique=True, nullable=False)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True, nullable=False
    )
    order_line_id: Mapped[int] = mapped_column(
        ForeignKey("order_lines.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    )
    showtime_id: Mapped[int] = mapped_column(
        ForeignKey("showtimes.id", ondelete="RESTRICT"), index=True, nullable=False
    )
    seat_id: Mapped[int] = mapped_column(
        ForeignKey("seats.id", ondelete="RESTRICT"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="VALID")
    price: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_in_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IdempotencyKey(Base):
    """The first result of a mutation called with an idempotency key, per user and
    operation, kept at least 24 hours (the sweeper deletes older ones)."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    operation: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    # SHA-256 of the canonical input: the same key with another input is refused.
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    # {"order_id": int | None, "errors": [{"code", "message", "field"}]}; NULL while the
    # first call is still running (payOrder spans several transactions).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True, nullable=False
    )
