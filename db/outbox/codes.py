"""Statuses, channels and template names of the outbox (plain Python, shared by both layers)."""

from enum import StrEnum


class OutboxStatus(StrEnum):
    PENDING = "PENDING"  # waiting for its first or next attempt (`next_attempt_at`)
    SENT = "SENT"  # accepted by the SMTP server (or written as an .eml file)
    FAILED = "FAILED"  # given up: rejected for good, unrenderable, or out of attempts


class Channel(StrEnum):
    EMAIL = "EMAIL"
    # SMS will go through the same table, with its own sender and templates.


class EmailTemplate(StrEnum):
    """The e-mails there are templates for (`db/outbox/templates/<name>.{subject.txt,txt,html}`)."""

    ORDER_CONFIRMATION = "order_confirmation"
    REFUND = "refund"
    SHOWTIME_CANCELLED = "showtime_cancelled"
    SET_PASSWORD = "set_password"
    PASSWORD_RESET = "password_reset"


EMAIL_TEMPLATES = frozenset(t.value for t in EmailTemplate)
