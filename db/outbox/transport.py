"""Where e-mails go: an SMTP server (aiosmtplib), or, with none configured, `.eml` files.
`Transport` is the interface of every channel's delivery (db/outbox/sms.py has the SMS one).

The SMTP server is given as a URL: `smtp://[user:password@]host[:port]` (port 25, or 587
with `?starttls=true`), `smtps://...` for implicit TLS (port 465). `?starttls=true` requires
STARTTLS, `?starttls=false` never tries it; without it STARTTLS is used when the server
offers it. `mask_url` hides the password for logs; error texts never carry it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Generic, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import aiosmtplib

log = logging.getLogger("marquee.outbox")

DEFAULT_TIMEOUT = 30.0

M = TypeVar("M")


class SendError(Exception):
    """A message was not delivered. `permanent`: the server refused it for good (5xx for
    this message), so trying again is pointless. `connection`: the server cannot be reached
    (or refuses our session: TLS, credentials), so the rest of the batch waits too."""

    def __init__(self, reason: str, *, permanent: bool = False, connection: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.connection = connection


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rpartition("@")[2]
        return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()
    except ValueError:
        return "<unparsable URL>"


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False  # smtps://: TLS from the first byte
    start_tls: bool | None = None  # True: required; False: never; None: when offered

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        masked = mask_url(url)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ValueError(f"SMTP URL {masked}: not a valid URL") from None
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP URL {masked}: the scheme must be smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError(f"SMTP URL {masked}: no host")
        start_tls: bool | None = None
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key != "starttls" or value.lower() not in ("true", "false"):
                raise ValueError(f"SMTP URL {masked}: only ?starttls=true|false is understood")
            start_tls = value.lower() == "true"
        use_tls = parts.scheme == "smtps"
        if use_tls and start_tls:
            raise ValueError(f"SMTP URL {masked}: smtps:// is TLS already (no starttls)")
        if port is None:
            port = 465 if use_tls else 587 if start_tls else 25
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            use_tls=use_tls,
            start_tls=False if use_tls else start_tls,
        )

    def redact(self, text: str) -> str:
        return text.replace(self.password, "***") if self.password else text


class Transport(Generic[M]):
    """Sends one message of its channel (an e-mail as `email.message.Message`, an
    SmsMessage) at a time and raises SendError when it was not delivered; `close` ends a
    batch (the SMTP connection is kept between the messages of one batch only)."""

    description = "?"
    timeout = DEFAULT_TIMEOUT  # the longest one `send` may take

    async def send(self, row_id: int, message: M) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class SmtpTransport(Transport[Message]):
    def __init__(self, config: SmtpConfig, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.config = config
        self.timeout = timeout
        scheme = "smtps" if config.use_tls else "smtp"
        user = f"{config.username}:***@" if config.username else ""
        self.description = f"SMTP {scheme}://{user}{config.host}:{config.port}"
        self._client: aiosmtplib.SMTP | None = None

    def _reason(self, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        return self.config.redact(f"{type(exc).__name__}: {text}")

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        config = self.config
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.use_tls,
            start_tls=config.start_tls,
            timeout=self.timeout,
        )
        try:
            async with asyncio.timeout(self.timeout):
                await client.connect()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            client.close()
            raise SendError(self._reason(exc), connection=True) from None
        self._client = client
        return client

    async def send(self, row_id: int, message: Message) -> None:
        client = await self._connected()
        try:
            async with asyncio.timeout(self.timeout):
                await self._sendmail(client, message)
        except SendError:
            raise
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            await self.close()
            raise SendError(
                self._reason(exc) + f" {codes}", permanent=all(c >= 500 for c in codes)
            ) from None
        except aiosmtplib.SMTPSenderRefused as exc:
            # Our own From address refused: configuration, not this message; keep trying.
            await self.close()
            raise SendError(self._reason(exc)) from None
        except aiosmtplib.SMTPResponseException as exc:
            await self.close()
            raise SendError(self._reason(exc), permanent=exc.code >= 500) from None
        except Exception as exc:  # disconnected, timed out, or unforeseen: try again later
            await self.close()
            raise SendError(self._reason(exc)) from None

    @staticmethod
    async def _sendmail(client: aiosmtplib.SMTP, message: Message) -> None:
        """The message's own bytes (`as_bytes`, with its policy: db/outbox/compose.py), from
        the address of its From header to those of its To and Cc headers. aiosmtplib's
        `send_message` would write the message again with the plain `compat32` policy (the
        slow folding of every header, and mbox's ">From " escaping); the rest of what it
        does is here: SMTPUTF8 for a non-ASCII address (refused, for now, by a server
        without it), BODY=8BITMIME when offered (the bodies are 7-bit already)."""
        sender = parseaddr(message.get("From", ""))[1]
        headers = [str(h) for h in (message.get_all("To") or []) + (message.get_all("Cc") or [])]
        recipients = [address for _, address in getaddresses(headers) if address]
        if not sender or not recipients:
            raise SendError("the message has no sender or no recipient", permanent=True)
        if client.is_ehlo_or_helo_needed:
            try:
                await client.ehlo()
            except aiosmtplib.SMTPHeloError:
                await client.helo()
        options = []
        if not (sender + "".join(recipients)).isascii():
            if not client.supports_extension("smtputf8"):
                raise aiosmtplib.SMTPNotSupported(
                    "a non-ASCII address, and the server does not offer SMTPUTF8"
                )
            options.append("SMTPUTF8")
        if client.supports_extension("8bitmime"):
            options.append("BODY=8BITMIME")
        await client.sendmail(sender, recipients, message.as_bytes(), mail_options=options)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if client.is_connected:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await client.quit()
        client.close()


def write_atomically(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all: never a half-written file under the final name. A
    second write of the same path replaces it (a re-sent row is one file, not two)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


class FileWriter(Transport[M]):
    """Development: each message becomes `<directory>/<row id><suffix>`, written atomically;
    a re-send of the row overwrites its file (one file per row however often it is sent,
    the same at-least-once rule as a real server), and the path is logged."""

    timeout = 10.0
    suffix = ".out"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.description = f"files in {directory}"

    def encode(self, message: M) -> tuple[bytes, str]:
        """(the file's content, what the log calls the message)."""
        raise NotImplementedError

    async def send(self, row_id: int, message: M) -> None:
        data, name = self.encode(message)
        path = self.directory / f"{row_id}{self.suffix}"
        try:
            # On the event loop: a small file into the page cache, ~0.15 ms; a thread
            # hand-off cost about as much again (development only: production sends SMTP).
            write_atomically(path, data)
        except Exception as exc:
            raise SendError(f"{type(exc).__name__}: {exc}") from None
        log.info("%s written to %s", name, path)


class FileTransport(FileWriter[Message]):
    """Development without SMTP: `<directory>/<row id>.eml`, to open with any mail client."""

    suffix = ".eml"

    def encode(self, message: Message) -> tuple[bytes, str]:
        return message.as_bytes(), f"e-mail {message['Message-ID']}"
