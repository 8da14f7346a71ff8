"""The e-mail sender: claims due rows, renders and sends each, records the outcome.

One runs in every server process; rows are claimed with FOR UPDATE SKIP LOCKED and kept by
a lease (db/outbox/actions.py), so each row has one sender at a time, across processes and
instances. Delivery is at least once: a sender that dies after the SMTP server took a
message but before SENT was written leaves the row to be sent again when its lease ends,
with the same Message-ID (fixed at enqueue), by which the receiver can de-duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from db.outbox import actions
from db.outbox.actions import ClaimedMessage
from db.outbox.codes import Channel
from db.outbox.compose import compose
from db.outbox.transport import SendError, Transport
from db.session import Database

log = logging.getLogger("marquee.outbox")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """After failed attempt n the row waits min(max_seconds, base_seconds * 2**(n-1)); after
    `max_attempts` failed attempts it is FAILED."""

    max_attempts: int = 10
    base_seconds: float = 30.0
    max_seconds: float = 3600.0

    def delay(self, attempt: int) -> float:
        return actions.backoff_seconds(attempt, base=self.base_seconds, cap=self.max_seconds)


@dataclass(slots=True)
class RoundResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0


def with_qr_payloads(
    context: dict[str, Any], sign: Callable[[int, int, int], str] | None
) -> dict[str, Any]:
    """The context with a `qr_payload` for each ticket that has `ticket_id`, `showtime_id`
    and `seat_id` but no payload yet (signed now, with the current key)."""
    tickets = context.get("tickets")
    if sign is None or not isinstance(tickets, list):
        return context
    signed = []
    for ticket in tickets:
        if (
            isinstance(ticket, dict)
            and not ticket.get("qr_payload")
            and all(isinstance(ticket.get(k), int) for k in ("ticket_id", "showtime_id", "seat_id"))
        ):
            ticket = {
                **ticket,
                "qr_payload": sign(ticket["ticket_id"], ticket["showtime_id"], ticket["seat_id"]),
            }
        signed.append(ticket)
    return {**context, "tickets": signed}


class EmailSender:
    def __init__(
        self,
        db: Database,
        transport: Transport,
        *,
        mail_from: str,
        retry: RetryPolicy | None = None,
        batch_size: int = 10,
        sign: Callable[[int, int, int], str] | None = None,
    ) -> None:
        self.db = db
        # Signs the QR codes of tickets written without one (the sale's confirmation, whose
        # transaction records the ticket, showtime and seat ids: db/orders, docs/orders.md).
        self.sign = sign
        self.transport = transport
        self.mail_from = mail_from
        self.retry = retry or RetryPolicy()
        self.batch_size = batch_size
        # Long enough for every send of a batch to time out in turn; a sender that finds
        # its lease nearly spent anyway hands the rest back instead of sending them late.
        self.lease_seconds = batch_size * transport.timeout + 60.0
        self.stopping = False

    def stop(self) -> None:
        """Finish the message in hand, hand the rest of the batch back, run no more rounds.
        (Cancelling the task alone is not enough on Python 3.11: asyncio.wait_for, which
        aiosmtplib awaits, can swallow a cancellation that arrives with the response.)"""
        self.stopping = True

    async def _write(self, result: RoundResult, row: ClaimedMessage, error: SendError) -> None:
        give_up = error.permanent or row.attempts >= self.retry.max_attempts
        async with self.db.transaction() as session:
            if give_up:
                await actions.mark_failed(
                    session, id=row.id, attempt=row.attempts, error=error.reason
                )
            else:
                await actions.schedule_retry(
                    session,
                    id=row.id,
                    attempt=row.attempts,
                    error=error.reason,
                    delay_seconds=self.retry.delay(row.attempts),
                )
        if give_up:
            result.failed += 1
            log.warning(
                "outbox message %d (%s) FAILED after %d attempt(s): %s",
                row.id,
                row.template,
                row.attempts,
                error.reason,
            )
        else:
            result.retried += 1
            log.info(
                "outbox message %d: attempt %d failed (%s), next in %.0f s",
                row.id,
                row.attempts,
                error.reason,
                self.retry.delay(row.attempts),
            )

    async def _deliver(self, result: RoundResult, row: ClaimedMessage) -> SendError | None:
        """Send one row and record the outcome; the error when the server cannot be reached
        (then the rest of the batch need not try)."""
        try:
            message = await asyncio.to_thread(
                compose,
                row.template,
                with_qr_payloads(row.context, self.sign),
                mail_from=self.mail_from,
                to=row.recipient,
                message_id=row.message_id,
                date=row.created_at,
            )
        except Exception as exc:  # RenderError, or anything else: never the loop's end
            await self._write(result, row, SendError(f"not rendered: {exc}", permanent=True))
            return None
        try:
            await self.transport.send(row.id, message)
        except SendError as exc:
            await self._write(result, row, exc)
            return exc if exc.connection else None
        except Exception as exc:  # a transport's bug must not stall the row: it counts
            await self._write(result, row, SendError(f"{type(exc).__name__}: {exc}"))
            return None
        async with self.db.transaction() as session:
            await actions.mark_sent(session, id=row.id)
        result.sent += 1
        log.info("outbox message %d (%s) sent as %s", row.id, row.template, row.message_id)
        return None

    async def run_once(self) -> RoundResult:
        """One batch: claim, send, record. Returns what happened."""
        async with self.db.transaction() as session:
            rows = await actions.claim_batch(
                session,
                channel=Channel.EMAIL.value,
                limit=self.batch_size,
                lease_seconds=self.lease_seconds,
            )
        result = RoundResult(claimed=len(rows))
        if not rows:
            return result
        deadline = time.monotonic() + self.lease_seconds - self.transport.timeout - 30.0
        pending = list(rows)
        try:
            while pending:
                row = pending[0]
                if self.stopping:
                    break
                if time.monotonic() > deadline:
                    log.warning("outbox lease nearly spent: %d handed back", len(pending))
                    break
                unreachable = await self._deliver(result, row)
                pending.pop(0)
                if unreachable is not None:
                    # The server is down: the rest of the batch fails alike, without trying.
                    for other in pending:
                        await self._write(result, other, unreachable)
                    pending.clear()
        finally:
            await self.transport.close()
            if pending:  # stopped, cancelled, or the lease ran low: due again at once
                async with self.db.transaction() as session:
                    result.released = await actions.release_claims(
                        session, claims=[(r.id, r.attempts) for r in pending]
                    )
        return result

    async def run(self, interval: float) -> None:
        """Until stopped: a batch, then a pause of `interval` seconds unless it was full."""
        while not self.stopping:
            try:
                result = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be restarting: try again next round
                log.warning("outbox round failed: %s", exc)
                result = None
            if result is None or result.claimed < self.batch_size:
                await asyncio.sleep(interval)
