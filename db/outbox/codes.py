"""Statuses, channels and template names of the outbox (plain Python, shared by both layers)."""

from enum import StrEnum


class OutboxStatus(StrEnum):
    PENDING = "PENDING"  # waiting for its first or next attempt (`next_attempt_at`)
    SENT = "SENT"  # accepted by the SMTP server or SMS provider (or written as a file)
    FAILED = "FAILED"  # given up: rejected for good, unrenderable, or out of attempts


class Channel(StrEnum):
    """How a message travels; each channel has its own sender, templates and transport."""

    EMAIL = "EMAIL"
    SMS = "SMS"


class EmailTemplate(StrEnum):
    """The e-mails there are templates for (`db/outbox/templates/<name>.{subject.txt,txt,html}`)."""

    ORDER_CONFIRMATION = "order_confirmation"
    REFUND = "refund"
    SHOWTIME_CANCELLED = "showtime_cancelled"
    SET_PASSWORD = "set_password"
    PASSWORD_RESET = "password_reset"


EMAIL_TEMPLATES = frozenset(t.value for t in EmailTemplate)


class SmsTemplate(StrEnum):
    """The text messages there are templates for (`db/outbox/templates/sms/<name>.txt`)."""

    ORDER_CONFIRMATION = "order_confirmation"
    SHOWTIME_CANCELLED = "showtime_cancelled"


SMS_TEMPLATES = frozenset(t.value for t in SmsTemplate)
