"""The payment provider interface (docs/orders.md, "Payments").

A provider charges a token, refunds a charge, tells the state of a charge it was asked for
(reconciliation), and parses and verifies its webhooks. Every call names our payment's
`reference`, which the provider treats as an idempotency key: asking twice never charges
twice. `MARQUEE_PAYMENT_PROVIDER` picks one by name; `sandbox` is built in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from db.payments.codes import ChargeOutcome


@dataclass(frozen=True, slots=True)
class ChargeResult:
    outcome: ChargeOutcome
    charge_id: str | None
    # The provider's reason for a decline (shown to nobody but the log and staff).
    failure_code: str | None = None
    # True when the provider has refunded the charge (reconciliation reads it).
    refunded: bool = False


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    id: str
    type: str
    charge_id: str
    reference: str
    payload: dict[str, Any] = field(default_factory=dict)


class InvalidToken(Exception):
    """The provider does not know this payment token (nothing was charged)."""


class InvalidWebhook(Exception):
    """A webhook request that is not genuine, fresh and well-formed (answered with 400)."""


class PaymentProvider(Protocol):
    name: str

    async def charge(
        self, *, reference: str, amount: Decimal, currency: str, token: str
    ) -> ChargeResult: ...

    async def refund(self, *, charge_id: str, amount: Decimal) -> None: ...

    async def lookup(self, reference: str) -> ChargeResult | None:
        """The charge made for `reference`, or None when the provider never made one."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent: ...
