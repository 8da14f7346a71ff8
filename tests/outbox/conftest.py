"""A real SMTP server (aiosmtpd, in a thread, on 127.0.0.1) that records what arrives; a
sender drained round after round."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from db.outbox.worker import Sender


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class Recorder:
    """An aiosmtpd handler: refuses the addresses in `reject` (550), keeps every message.
    `on_data`, if set, is awaited with the number received so far after a message is kept
    and before the server answers 250 (in the server's own thread and event loop)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.reject: set[str] = set()
        self.data_delay = 0.0
        self.on_data: Callable[[int], Awaitable[None]] | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.reject:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        if self.on_data is not None:
            await self.on_data(len(self.received))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class SmtpServer:
    """Start/stop (again) on one port; `auth` = (user, password) it requires, if any;
    `smtputf8`: whether it offers SMTPUTF8 (aiosmtpd's default: it does)."""

    def __init__(
        self, port: int, auth: tuple[str, str] | None = None, *, smtputf8: bool = True
    ) -> None:
        self.port = port
        self.auth = auth
        self.smtputf8 = smtputf8
        self.recorder = Recorder()
        self.logins: list[str] = []
        self._controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        return self.recorder.received

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self.auth is not None
        ok = ok and (data.login.decode(), data.password.decode()) == self.auth
        if ok:
            self.logins.append(data.login.decode())
        # handled=False: aiosmtpd answers a failure itself (535).
        return AuthResult(success=ok, handled=False)

    def start(self) -> None:
        options: dict[str, Any] = {}
        if self.auth:
            # AUTH offered without TLS (a test on the loopback); the client logs in because
            # its URL has credentials, and a wrong password is refused.
            options = {"authenticator": self._authenticate, "auth_require_tls": False}
        options["enable_SMTPUTF8"] = self.smtputf8
        self._controller = Controller(
            self.recorder, hostname="127.0.0.1", port=self.port, **options
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def wait_for(self, count: int, seconds: float = 10.0) -> list[Received]:
        """The messages once `count` have arrived (a sender task is at work meanwhile)."""
        deadline = time.monotonic() + seconds
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} arrived"
            await asyncio.sleep(0.01)
        return self.received


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


async def drain(sender: Sender[Any]) -> int:
    """Run rounds until one claims nothing; how many messages this sender sent."""
    sent = 0
    while (result := await sender.run_once()).claimed:
        sent += result.sent
    return sent
