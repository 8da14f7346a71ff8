"""Statuses and error codes of orders and tickets (shared by both layers)."""

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    PAID = "PAID"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    REFUNDED = "REFUNDED"


class TicketStatus(StrEnum):
    VALID = "VALID"
    USED = "USED"
    CANCELLED = "CANCELLED"


class OrderLineKind(StrEnum):
    TICKET = "TICKET"
    PRODUCT = "PRODUCT"


class FulfilmentStatus(StrEnum):
    """A product line's pickup at the cinema (ticket lines have none): PENDING until the
    order is paid (and for orders that ended unpaid or refunded), READY while paid, and
    PICKED_UP once staff handed it over (markPickedUp; kept if the order is refunded)."""

    PENDING = "PENDING"
    READY = "READY"
    PICKED_UP = "PICKED_UP"


class OrderErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    NOT_FOUND = "NOT_FOUND"
    HOLD_EXPIRED = "HOLD_EXPIRED"
    SHOWTIME_NOT_BOOKABLE = "SHOWTIME_NOT_BOOKABLE"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    ORDER_NOT_CANCELLABLE = "ORDER_NOT_CANCELLABLE"
    ALREADY_CHECKED_IN = "ALREADY_CHECKED_IN"
    INVALID_TICKET = "INVALID_TICKET"
    TICKET_CANCELLED = "TICKET_CANCELLED"
    WRONG_SHOWTIME = "WRONG_SHOWTIME"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    PROMO_CODE_INVALID = "PROMO_CODE_INVALID"
    PROMO_CODE_EXHAUSTED = "PROMO_CODE_EXHAUSTED"
    PROMO_CODE_NOT_APPLICABLE = "PROMO_CODE_NOT_APPLICABLE"
    RATE_LIMITED = "RATE_LIMITED"
    ORDER_NOT_PAID = "ORDER_NOT_PAID"
    ORDER_CANCELLED = "ORDER_CANCELLED"
    ALREADY_PICKED_UP = "ALREADY_PICKED_UP"


# Booking references: 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L, 2/Z,
# 5/S, 8/B, U/V): 23 symbols, 23^8 ~ 7.8e10 references.
REFERENCE_ALPHABET = "34679ACDEFGHJKMNPQRTWXY"
REFERENCE_LENGTH = 8
# Order numbers: "MQ-" and 6 characters of the same alphabet.
ORDER_NUMBER_PREFIX = "MQ-"
ORDER_NUMBER_LENGTH = 6
