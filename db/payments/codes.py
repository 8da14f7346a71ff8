"""Payment statuses and the sandbox provider's test tokens (docs/orders.md, "Payments")."""

from enum import StrEnum


class PaymentStatus(StrEnum):
    # Sent to the provider, no final answer yet (tok_async until its webhook arrives).
    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"


class ChargeOutcome(StrEnum):
    """What a provider answers to a charge."""

    SUCCEEDED = "SUCCEEDED"
    PENDING = "PENDING"
    DECLINED = "DECLINED"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"


# The sandbox provider's documented test tokens.
TOKEN_OUTCOMES = {
    "tok_visa": ChargeOutcome.SUCCEEDED,
    "tok_chargeDeclined": ChargeOutcome.DECLINED,
    "tok_chargeDeclinedInsufficientFunds": ChargeOutcome.INSUFFICIENT_FUNDS,
    "tok_async": ChargeOutcome.PENDING,
}

# Webhook event types (the sandbox's; a real provider's adapter maps its own onto these).
CHARGE_SUCCEEDED = "charge.succeeded"
CHARGE_FAILED = "charge.failed"
CHARGE_REFUNDED = "charge.refunded"
