"""Fixtures of the account tests: the real SMTP server of the outbox tests (password links
are e-mails)."""

from tests.outbox.conftest import smtp_server

__all__ = ["smtp_server"]
