"""Payment tables: our payments, the webhook events we processed, and the sandbox
provider's own ledger.

`payments` is our side: one row per attempt to pay an order. At most one attempt per order
is PROCESSING or SUCCEEDED at a time (a partial unique index), so two racing payOrder calls
can never charge an order twice. The row is written (PROCESSING) and committed before the
provider is called, and the provider gets its id as the idempotency reference: a process
killed between charge and commit leaves a PROCESSING row that reconciliation settles by
asking the provider (docs/orders.md, "Reconciliation").

`sandbox_charges` is the sandbox provider's side, the stand-in for a gateway's own
database: what was charged, and the webhooks it still owes us. Only the sandbox provider
touches it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base

MONEY = Numeric(12, 2)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(
            "status IN ('PROCESSING', 'SUCCEEDED', 'FAILED', 'REFUNDED')", name="status"
        ),
        CheckConstraint("amount >= 0", name="amount"),
        Index(
            "uq_payments_live_order",
            "order_id",
            unique=True,
            postgresql_where=text("status IN ('PROCESSING', 'SUCCEEDED')"),
        ),
        Index(
            "uq_payments_provider_charge",
            "provider",
            "charge_id",
            unique=True,
            postgresql_where=text("charge_id IS NOT NULL"),
        ),
        Index(
            "ix_payments_processing",
            "updated_at",
            postgresql_where=text("status = 'PROCESSING'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="RESTRICT"), index=True, nullable=False
    )
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    # The reference the provider knows this attempt by (its idempotency key): "pay_<id>".
    reference: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    charge_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    failure_code: Mapped[str | None] = mapped_column(String(40))
    refunded_amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class PaymentEvent(Base):
    """Webhook events already processed, by the provider's event id: a replay is a no-op."""

    __tablename__ = "payment_events"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(60), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class SandboxCharge(Base):
    """The sandbox gateway's ledger (its side of every charge and refund)."""

    __tablename__ = "sandbox_charges"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'succeeded', 'failed', 'refunded')", name="status"),
        Index(
            "ix_sandbox_charges_webhook_due",
            "webhook_due_at",
            postgresql_where=text("webhook_due_at IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The merchant's idempotency reference: a second charge with it returns the first.
    reference: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    token: Mapped[str] = mapped_column(String(64), nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    failure_code: Mapped[str | None] = mapped_column(String(40))
    refunded_amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False, server_default="0")
    # When the sandbox owes the merchant a webhook (tok_async's confirmation), and how often
    # it has tried to deliver it.
    webhook_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    webhook_attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
