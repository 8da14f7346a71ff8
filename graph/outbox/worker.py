"""Start-up hook of the outbox senders (e-mail and SMS): builds them from settings, runs
each as a task, stops them.

Where mail goes: MARQUEE_SMTP_URL when set; otherwise, in development and tests, `.eml`
files under `<data_dir>/outbox/`; in production without SMTP no e-mail sender runs (the
messages stay PENDING until one is configured), and a warning says so. Text messages
alike: MARQUEE_SMS_PROVIDER (`file`: `<data_dir>/sms/`, the default outside production;
`none`); in production without one, no SMS sender runs and a warning says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from db.outbox.sms import FileSmsProvider, SmsProvider
from db.outbox.transport import FileTransport, SmtpConfig, SmtpTransport, Transport
from db.outbox.worker import EmailSender, RetryPolicy, Sender, SmsSender
from db.session import Database
from graph.periodic import stop_task
from graph.settings import Settings

log = logging.getLogger("marquee.outbox")


def outbox_transport(settings: Settings) -> Transport[Any] | None:
    """The configured transport; None in production without an SMTP URL. A malformed URL
    is a ValueError whose text hides the password."""
    if settings.smtp_url:
        return SmtpTransport(SmtpConfig.from_url(settings.smtp_url))
    if settings.is_production:
        return None
    return FileTransport(settings.data_dir / "outbox")


def sms_provider(settings: Settings) -> SmsProvider | None:
    """The configured SMS provider; None when it is `none`, or in production when none is
    configured."""
    choice = settings.sms_provider or (None if settings.is_production else "file")
    if choice == "file":
        return FileSmsProvider(settings.data_dir / "sms")
    return None


def email_sender(db: Database, settings: Settings, transport: Transport[Any]) -> EmailSender:
    return EmailSender(
        db,
        transport,
        mail_from=settings.mail_from,
        retry=RetryPolicy(max_attempts=settings.outbox_max_attempts),
        sign=settings.ticket_signer().sign,
    )


def _senders(db: Database, settings: Settings) -> list[Sender[Any]]:
    senders: list[Sender[Any]] = []
    transport = outbox_transport(settings)
    if transport is None:
        log.warning("MARQUEE_SMTP_URL is not set: e-mails are not sent (they wait, PENDING)")
    else:
        senders.append(email_sender(db, settings, transport))
    provider = sms_provider(settings)
    if provider is not None:
        retry = RetryPolicy(max_attempts=settings.outbox_max_attempts)
        senders.append(SmsSender(db, provider, retry=retry))
    elif settings.sms_provider is None:
        log.warning(
            "MARQUEE_SMS_PROVIDER is not set: text messages are not sent (they wait, PENDING)"
        )
    return senders


async def start_outbox_worker(state: Any) -> Callable[[], Awaitable[None]]:
    """Start-up hook (graph.app.STARTUP_HOOKS); MARQUEE_OUTBOX_INTERVAL_SECONDS <= 0 turns
    the senders off in this process."""
    settings: Settings = state.settings
    interval = float(settings.outbox_interval_seconds)
    running: list[tuple[Sender[Any], asyncio.Task[None]]] = []
    if interval > 0:
        for sender in _senders(state.db, settings):
            channel = sender.channel.value.lower()
            task = asyncio.create_task(sender.run(interval), name=f"outbox-sender-{channel}")
            running.append((sender, task))
            log.info("outbox sender started: %s by %s", channel, sender.transport.description)

    async def stop() -> None:
        for sender, _ in running:
            sender.stop()
        for _, task in running:
            await stop_task(task)

    return stop
