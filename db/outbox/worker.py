"""The outbox senders: each claims due rows of its channel, renders and sends each, records
the outcome. `Sender` is that loop for any channel; `EmailSender` and `SmsSender` say how
their channel's rows become messages (the transport says how they are delivered).

One of each runs in every server process; rows are claimed with FOR UPDATE SKIP LOCKED and
kept by a lease (db/outbox/actions.py), so each row has one sender at a time, across
processes and instances. The delivered rows of a batch are written SENT together when it
ends (one statement), a failure at once. Delivery is at least once: a sender that dies after
the SMTP server (or SMS provider) took a message but before SENT was written (at most its
batch) leaves the row to be sent again when its lease ends, with the same Message-ID (fixed
at enqueue), by which the receiver can de-duplicate. A sender that lives through a database
outage remembers its claims and their outcomes and writes them as soon as the database is
back (delivered ones SENT, untried ones handed back), so only a dead process's claims wait
for the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import Any, Generic, TypeVar

from db.outbox import actions
from db.outbox.actions import ClaimedMessage
from db.outbox.codes import Channel
from db.outbox.compose import compose, qr_payloads
from db.outbox.sms import SmsMessage, compose_sms
from db.outbox.transport import SendError, Transport
from db.qr import qr_png
from db.session import Database

log = logging.getLogger("marquee.outbox")

M = TypeVar("M")


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
    recovered: int = 0  # claims of an earlier round cut short, settled first


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


class Sender(Generic[M]):
    """The sending loop of one channel (`channel`): subclasses turn a claimed row into the
    transport's message (`compose`, or `make` for one that should let the event loop run
    while it is made)."""

    channel: Channel

    def __init__(
        self,
        db: Database,
        transport: Transport[M],
        *,
        retry: RetryPolicy | None = None,
        batch_size: int = 10,
    ) -> None:
        self.db = db
        self.transport = transport
        self.retry = retry or RetryPolicy()
        self.batch_size = batch_size
        # The longest one message may take: connecting and the message are bounded by the
        # timeout each (SmtpTransport), a QUIT after an error by 5 s, rendering by a few.
        self.send_seconds = 2 * transport.timeout + 10.0
        # The lease covers one message's worst case and the recording of its outcome (30 s),
        # plus a window of `timeout` + 20 s in which the batch may start sends; what is left
        # when that window closes is handed back (due at once, not counted). It need not
        # grow with the batch (a healthy server takes ten messages in well under a second),
        # and a dead process's claims wait no longer than this: 2.5 minutes by default.
        self.lease_seconds = 3 * transport.timeout + 60.0
        self.stopping = False
        # Rows this sender has claimed whose outcome is not in the database yet, and for
        # those attempted, the outcome (None: delivered). Kept across rounds: when the
        # database goes away mid-batch, the next round writes them first (delivered ones
        # SENT, not sent again; not attempted ones handed back, due at once), instead of
        # leaving them to wait for the lease to end.
        self._held: dict[int, ClaimedMessage] = {}
        self._outcomes: dict[int, SendError | None] = {}

    def compose(self, row: ClaimedMessage) -> M:
        """The message of `row`; RenderError (or any error) when it cannot be made."""
        raise NotImplementedError

    def stop(self) -> None:
        """Finish the message in hand, hand the rest of the batch back, run no more rounds.
        (Cancelling the task alone is not enough on Python 3.11: asyncio.wait_for, which
        aiosmtplib awaits, can swallow a cancellation that arrives with the response.)"""
        self.stopping = True

    @property
    def unsettled(self) -> int:
        """Claimed rows whose outcome or hand-back is not written yet (a database outage)."""
        return len(self._held)

    def _settled(self, row_id: int) -> None:
        self._held.pop(row_id, None)
        self._outcomes.pop(row_id, None)

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

    async def _record(
        self, result: RoundResult, row: ClaimedMessage, error: SendError | None
    ) -> None:
        """Note the outcome of an attempt (None: delivered). A failure is written at once;
        the delivered rows of a batch become SENT together when it ends (`_settle`, one
        statement). Remembered first, so that if the database cannot take it now, the next
        round writes it."""
        self._outcomes[row.id] = error
        if error is not None:
            await self._write(result, row, error)
            self._settled(row.id)

    async def _settle(self, result: RoundResult) -> None:
        """Write what this sender holds unwritten: the delivered rows become SENT (whoever
        holds them now), the other outcomes of attempts are written, and the claims not
        attempted are handed back (guarded by the attempt number: a claim that has
        meanwhile run out and been taken by another sender is left alone). Raises while the
        database is away; what is not written yet stays held for the next round."""
        if not self._held:
            return
        delivered = sorted(i for i, error in self._outcomes.items() if error is None)
        if delivered:
            await actions.mark_sent(self.db, ids=delivered)
            for row_id in delivered:
                row = self._held[row_id]
                log.info("outbox message %d (%s) sent as %s", row.id, row.template, row.message_id)
                self._settled(row_id)
            result.sent += len(delivered)
        for row_id in sorted(self._outcomes):
            await self._record(result, self._held[row_id], self._outcomes[row_id])
        unsent = sorted(self._held)
        async with self.db.transaction() as session:
            result.released += await actions.release_claims(
                session, claims=[(i, self._held[i].attempts) for i in unsent]
            )
        for row_id in unsent:
            self._settled(row_id)

    async def make(self, row: ClaimedMessage) -> M:
        """The message of `row`, on the event loop; a subclass whose messages take long to
        make lets the loop run between their parts."""
        return self.compose(row)

    async def _made(self, row: ClaimedMessage) -> M | SendError:
        """The message of `row`, or why it cannot be made."""
        try:
            return await self.make(row)
        except Exception as exc:  # RenderError, or anything else: never the loop's end
            return SendError(f"not rendered: {exc}", permanent=True)

    async def _deliver(
        self, result: RoundResult, row: ClaimedMessage, message: M | SendError
    ) -> SendError | None:
        """Send one composed row and note the outcome; the error when the server cannot be
        reached (then the rest of the batch need not try)."""
        if isinstance(message, SendError):
            await self._record(result, row, message)
            return None
        try:
            await self.transport.send(row.id, message)
        except SendError as exc:
            await self._record(result, row, exc)
            return exc if exc.connection else None
        except Exception as exc:  # a transport's bug must not stall the row: it counts
            await self._record(result, row, SendError(f"{type(exc).__name__}: {exc}"))
            return None
        await self._record(result, row, None)
        return None

    async def run_once(self) -> RoundResult:
        """One batch: settle what an earlier round could not write, claim, send, record.
        Returns what happened."""
        result = RoundResult()
        if self._held:
            held = len(self._held)
            await self._settle(result)  # raises while the database is still away
            log.info(
                "outbox: %d claim(s) of a round cut short settled (%d sent, %d handed back)",
                held,
                result.sent,
                result.released,
            )
            result.recovered = held
        # Measured before the claim, so that it runs out no later than the lease, which
        # starts inside the claim's statement.
        started = time.monotonic()
        if not await actions.any_due(self.db, self.channel.value):
            return result
        rows = await actions.claim_batch(
            self.db,
            channel=self.channel.value,
            limit=self.batch_size,
            lease_seconds=self.lease_seconds,
        )
        result.claimed = len(rows)
        if not rows:
            return result
        self._held.update((row.id, row) for row in rows)
        # No send starts after this, so each ends, and is recorded, before the lease does.
        deadline = started + self.lease_seconds - self.send_seconds - 30.0

        def time_is_up(n: int) -> bool:
            if time.monotonic() <= deadline:
                return False
            log.warning("outbox %s lease nearly spent: %d handed back", self.channel, len(rows) - n)
            return True

        # Each row's message is made (on the event loop) while the row before is being
        # sent: a sender drains a backlog at the pace of making messages, not of making,
        # sending and recording them one after the other. A message made for a row that is
        # then not sent (stopped, out of time, the server unreachable) is dropped.
        sending: asyncio.Future[SendError | None] | None = None
        try:
            for n, row in enumerate(rows):
                if self.stopping or time_is_up(n):
                    break
                message = await self._made(row)
                if sending is not None:
                    # Taken off `sending` first: a send that raised (its outcome could not
                    # be written) is not awaited again below.
                    before, sending = sending, None
                    unreachable = await before
                    if unreachable is not None:
                        # The server is down: the rest of the batch fails alike, unsent.
                        for other in rows[n:]:
                            await self._record(result, other, unreachable)
                        break
                    if self.stopping or time_is_up(n):
                        break
                sending = asyncio.ensure_future(self._deliver(result, row, message))
            if sending is not None:
                last, sending = sending, None
                await last
        finally:
            if sending is not None:
                # Cancelled while a message was being sent: whether the server took it is
                # not known, so its row is handed back below with the others not sent. (A
                # send that ended meanwhile by failing to write its outcome has it kept:
                # written below, or by the next round.)
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sending
            await self.transport.close()
            # The delivered rows become SENT; stopped, cancelled, the lease ran low, or the
            # database failed: the rest is due again at once; outcomes not yet written are
            # written now (or, with the database still away, at the next round).
            await self._settle(result)
        return result

    async def run(self, interval: float) -> None:
        """Until stopped: a batch, then a pause of `interval` seconds unless it was full."""
        while not self.stopping:
            try:
                result = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be restarting: try again next round
                log.warning("outbox round failed (%s): %s", self.channel, exc)
                result = None
            if result is None or result.claimed < self.batch_size:
                await asyncio.sleep(interval)


class EmailSender(Sender[Message]):
    channel = Channel.EMAIL

    def __init__(
        self,
        db: Database,
        transport: Transport[Message],
        *,
        mail_from: str,
        retry: RetryPolicy | None = None,
        batch_size: int = 10,
        sign: Callable[[int, int, int], str] | None = None,
    ) -> None:
        super().__init__(db, transport, retry=retry, batch_size=batch_size)
        self.mail_from = mail_from
        # Signs the QR codes of tickets written without one (the sale's confirmation, whose
        # transaction records the ticket, showtime and seat ids: db/orders, docs/orders.md).
        self.sign = sign

    def compose(self, row: ClaimedMessage) -> Message:
        return self._message(row, with_qr_payloads(row.context, self.sign), {})

    async def make(self, row: ClaimedMessage) -> Message:
        """An order confirmation's QR codes take about 0.7 ms each: the loop answers
        requests between them, and between them and the rest of the message."""
        context = with_qr_payloads(row.context, self.sign)
        images: dict[str, bytes] = {}
        for payload in qr_payloads(context):
            await asyncio.sleep(0)
            images[payload] = qr_png(payload)
        await asyncio.sleep(0)
        return self._message(row, context, images)

    def _message(
        self, row: ClaimedMessage, context: dict[str, Any], images: dict[str, bytes]
    ) -> Message:
        return compose(
            row.template,
            context,
            mail_from=self.mail_from,
            to=row.recipient,
            message_id=row.message_id,
            date=row.created_at,
            qr_images=images,
        )


class SmsSender(Sender[SmsMessage]):
    """Sends with an SmsProvider (db/outbox/sms.py)."""

    channel = Channel.SMS

    def compose(self, row: ClaimedMessage) -> SmsMessage:
        return compose_sms(row.template, row.context, to=row.recipient, reference=row.message_id)
