"""The real SMTP server fixture of the outbox tests, for the order e-mails."""

from tests.outbox.conftest import smtp_server

__all__ = ["smtp_server"]
