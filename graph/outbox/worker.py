"""Start-up hook of the outbox sender: builds it from settings, runs it as a task, stops it.

Where mail goes: MARQUEE_SMTP_URL when set; otherwise, in development and tests, `.eml`
files under `<data_dir>/outbox/`; in production without SMTP no sender runs (the messages
stay PENDING until one is configured), and a warning says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from db.outbox.transport import FileTransport, SmtpConfig, SmtpTransport, Transport
from db.outbox.worker import EmailSender, RetryPolicy
from db.session import Database
from graph.settings import Settings

log = logging.getLogger("marquee.outbox")


def outbox_transport(settings: Settings) -> Transport | None:
    """The configured transport; None in production without an SMTP URL. A malformed URL
    is a ValueError whose text hides the password."""
    if settings.smtp_url:
        return SmtpTransport(SmtpConfig.from_url(settings.smtp_url))
    if settings.is_production:
        return None
    return FileTransport(settings.data_dir / "outbox")


def email_sender(db: Database, settings: Settings, transport: Transport) -> EmailSender:
    return EmailSender(
        db,
        transport,
        mail_from=settings.mail_from,
        retry=RetryPolicy(max_attempts=settings.outbox_max_attempts),
        sign=settings.ticket_signer().sign,
    )


async def start_outbox_worker(state: Any) -> Callable[[], Awaitable[None]]:
    """Start-up hook (graph.app.STARTUP_HOOKS); MARQUEE_OUTBOX_INTERVAL_SECONDS <= 0 turns
    the sender off in this process."""
    settings: Settings = state.settings
    interval = float(settings.outbox_interval_seconds)
    sender = task = None
    if interval > 0:
        transport = outbox_transport(settings)
        if transport is None:
            log.warning("MARQUEE_SMTP_URL is not set: e-mails are not sent (they wait, PENDING)")
        else:
            sender = email_sender(state.db, settings, transport)
            task = asyncio.create_task(sender.run(interval), name="outbox-sender")
            log.info("outbox sender started: e-mail by %s", transport.description)

    async def stop() -> None:
        if sender is not None and task is not None:
            sender.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return stop
