"""The outbox end to end, through real PostgreSQL commits and a real SMTP server: written in
the caller's transaction, sent once per row, retried with backoff, given up when hopeless."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from email.message import Message

import pytest
from sqlalchemy import func, insert, select, update

from db.outbox import actions, queries
from db.outbox.codes import Channel, OutboxStatus
from db.outbox.compose import compose
from db.outbox.models import OutboxMessage
from db.outbox.transport import SmtpConfig, SmtpTransport
from db.outbox.worker import EmailSender, RetryPolicy
from db.session import Database, capture_statements
from tests.outbox import contexts
from tests.outbox.conftest import SmtpServer, drain, free_port

FROM = "Marquee <tickets@marquee.localhost>"


def sender(
    db: Database,
    port: int,
    *,
    batch_size: int = 10,
    max_attempts: int = 3,
    base: float = 10.0,
    cap: float = 30.0,
) -> EmailSender:
    transport = SmtpTransport(SmtpConfig.from_url(f"smtp://127.0.0.1:{port}"), timeout=5.0)
    return EmailSender(
        db,
        transport,
        mail_from=FROM,
        retry=RetryPolicy(max_attempts=max_attempts, base_seconds=base, max_seconds=cap),
        batch_size=batch_size,
    )


async def enqueue(
    db: Database,
    key: str,
    *,
    template: str = "order_confirmation",
    to: str = "ada@example.com",
    **context: object,
) -> bool:
    make = getattr(contexts, template)
    async with db.transaction() as session:
        return await actions.enqueue_email(
            session,
            template=template,
            to=to,
            context=make(**context),
            dedupe_key=key,
        )


async def make_due(db: Database) -> None:
    """Skip the backoff wait (the delay itself is checked on the row)."""
    async with db.transaction() as session:
        await session.execute(update(OutboxMessage).values(next_attempt_at=func.now()))


async def test_a_rolled_back_enqueue_is_never_sent(
    committed_db: Database, smtp_server: SmtpServer
) -> None:
    async def pay() -> None:
        async with committed_db.transaction() as session:
            assert await actions.enqueue_email(
                session,
                template="order_confirmation",
                to="ada@example.com",
                context=contexts.order_confirmation(),
                dedupe_key="order:1:confirmation",
            )
            raise RuntimeError("payment declined")

    with pytest.raises(RuntimeError, match="payment declined"):
        await pay()
    result = await sender(committed_db, smtp_server.port).run_once()
    assert result.claimed == 0
    assert await queries.status_counts(committed_db) == {}
    assert smtp_server.received == []


async def test_a_committed_message_arrives_once_with_text_html_and_qr_codes(
    committed_db: Database, smtp_server: SmtpServer
) -> None:
    assert await enqueue(committed_db, "order:1:confirmation", tickets=3)
    row = await queries.message_by_dedupe_key(committed_db, "order:1:confirmation")
    assert row is not None
    assert (row.status, row.channel, row.attempts) == ("PENDING", "EMAIL", 0)

    worker = sender(committed_db, smtp_server.port)
    assert (await worker.run_once()).sent == 1
    assert (await worker.run_once()).claimed == 0

    [received] = smtp_server.received
    assert received.rcpt_tos == ["ada@example.com"]
    assert received.mail_from == "tickets@marquee.localhost"
    message = received.message
    assert message["Message-ID"] == row.message_id
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Your tickets for Metropolis (order MQ-100042)"
    assert message.get_content_type() == "multipart/alternative"

    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert text_part is not None
    assert html_part is not None
    text = text_part.get_content()
    html = html_part.get_content()
    for n in (1, 2, 3):
        assert f"K7Q2-{n:04d}" in text
        assert f"K7Q2-{n:04d}" in html
    assert "Friday 12 June 2026, 19:30 CEST" in text  # 17:30 UTC in the cinema's time zone
    assert "Total: 39.00 EUR" in text

    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 3
    for image in images:
        png = image.get_content()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        cid = image["Content-ID"].strip("<>")
        assert f'src="cid:{cid}"' in html
    related = [p for p in message.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1

    sent = await queries.message_by_id(committed_db, row.id)
    assert sent is not None
    assert (sent.status, sent.attempts, sent.last_error) == ("SENT", 1, None)
    assert sent.sent_at is not None


async def test_the_same_dedupe_key_is_one_message(
    committed_db: Database, smtp_server: SmtpServer
) -> None:
    assert await enqueue(committed_db, "order:7:confirmation")
    assert not await enqueue(committed_db, "order:7:confirmation")
    async with committed_db.transaction() as session:  # twice in one transaction too
        for _ in range(2):
            await actions.enqueue_email(
                session,
                template="refund",
                to="ada@example.com",
                context=contexts.refund(),
                dedupe_key="order:7:refund",
            )
    assert await queries.status_counts(committed_db) == {"PENDING": 2}
    await sender(committed_db, smtp_server.port).run_once()
    assert sorted(r.message["Subject"] for r in smtp_server.received) == [
        "Refund of 25.00 EUR for order MQ-100042",
        "Your tickets for Metropolis (order MQ-100042)",
    ]


async def test_two_racing_senders_send_every_message_exactly_once(
    committed_db: Database, smtp_server: SmtpServer
) -> None:
    async with committed_db.transaction() as session:
        for n in range(50):
            await actions.enqueue_email(
                session,
                template="refund",
                to=f"customer{n}@example.com",
                context=contexts.refund(order_number=f"MQ-{n}"),
                dedupe_key=f"order:{n}:refund",
            )
    smtp_server.recorder.data_delay = 0.002  # so that the two really interleave
    first = sender(committed_db, smtp_server.port, batch_size=5)
    second = sender(committed_db, smtp_server.port, batch_size=5)

    counts = await asyncio.gather(drain(first), drain(second))
    assert sum(counts) == 50
    assert all(counts), counts  # both took part
    expected = {r.message_id for r in await queries.list_messages(committed_db)}
    arrived = [r.message_id for r in smtp_server.received]
    assert len(arrived) == 50
    assert set(arrived) == expected
    assert await queries.status_counts(committed_db) == {"SENT": 50}


async def test_a_claim_skips_rows_another_claim_holds(committed_db: Database) -> None:
    for n in range(4):
        await enqueue(committed_db, f"order:{n}:refund", template="refund")
    ids = sorted(r.id for r in await queries.list_messages(committed_db))
    async with committed_db.transaction() as first:
        # Another sender's claim, not committed yet, holds the first three rows.
        held = select(OutboxMessage.id).where(OutboxMessage.id.in_(ids[:3])).with_for_update()
        assert sorted((await first.execute(held)).scalars()) == ids[:3]
        theirs = await actions.claim_batch(
            committed_db, channel=Channel.EMAIL.value, limit=3, lease_seconds=60
        )
    # It got the rest, without waiting for the held ones.
    assert [t.id for t in theirs] == ids[3:]
    mine = await actions.claim_batch(
        committed_db, channel=Channel.EMAIL.value, limit=3, lease_seconds=60
    )
    assert [m.id for m in mine] == ids[:3]
    # Claimed rows are leased: nothing is due now.
    due = await actions.claim_batch(committed_db, channel="EMAIL", limit=10, lease_seconds=60)
    assert due == []
    # Handed back (a sender stopping): due at once, the attempt not counted.
    async with committed_db.transaction() as third:
        assert await actions.release_claims(third, claims=[(mine[0].id, 1)]) == 1
    [again] = await actions.claim_batch(committed_db, channel="EMAIL", limit=10, lease_seconds=60)
    assert (again.id, again.attempts) == (mine[0].id, 1)
    assert again.context == contexts.refund()


async def test_racing_claims_share_the_rows_out(committed_db: Database) -> None:
    """Six senders claiming at once (each its own statement and connection) split ten due
    rows between them: each row to exactly one."""
    for n in range(10):
        await enqueue(committed_db, f"order:{n}:refund", template="refund")
    claims = await asyncio.gather(
        *(
            actions.claim_batch(committed_db, channel="EMAIL", limit=3, lease_seconds=60)
            for _ in range(6)
        )
    )
    claimed = [m.id for claim in claims for m in claim]
    assert len(claimed) == len(set(claimed)) == 10
    assert {m.attempts for claim in claims for m in claim} == {1}


async def test_a_server_that_is_down_means_retries_with_backoff_until_it_is_back(
    committed_db: Database,
) -> None:
    server = SmtpServer(free_port())  # not started: connections are refused
    await enqueue(committed_db, "order:1:confirmation")
    await enqueue(committed_db, "order:1:refund", template="refund")
    worker = sender(committed_db, server.port, max_attempts=5, base=10.0, cap=30.0)

    delays = []
    for attempt in (1, 2, 3, 4):
        result = await worker.run_once()
        assert (result.claimed, result.retried, result.sent) == (2, 2, 0)
        # Not due again before the backoff has passed.
        assert (await worker.run_once()).claimed == 0
        rows = await queries.list_messages(committed_db)
        for row in rows:
            assert (row.status, row.attempts) == ("PENDING", attempt)
            assert row.last_error
            assert row.last_attempt_at is not None
        first = min(rows, key=lambda r: r.id)
        assert first.last_attempt_at is not None
        delays.append(first.next_attempt_at - first.last_attempt_at)
        await make_due(committed_db)

    expected = [10, 20, 30, 30]  # doubling, capped
    for delay, seconds in zip(delays, expected, strict=True):
        assert timedelta(seconds=seconds) <= delay < timedelta(seconds=seconds + 5)

    server.start()
    try:
        result = await worker.run_once()
        assert (result.claimed, result.sent) == (2, 2)
        assert len(server.received) == 2
    finally:
        server.stop()
    rows = await queries.list_messages(committed_db)
    assert {(r.status, r.attempts) for r in rows} == {("SENT", 5)}


async def test_after_the_last_attempt_the_message_is_failed(committed_db: Database) -> None:
    await enqueue(committed_db, "order:1:refund", template="refund")
    worker = sender(committed_db, free_port(), max_attempts=2)
    assert (await worker.run_once()).retried == 1
    await make_due(committed_db)
    assert (await worker.run_once()).failed == 1
    await make_due(committed_db)
    assert (await worker.run_once()).claimed == 0
    [row] = await queries.list_messages(committed_db)
    assert (row.status, row.attempts) == ("FAILED", 2)
    assert row.last_error is not None
    assert "connect" in row.last_error.lower()


async def test_a_recipient_refused_for_good_fails_at_once_and_the_rest_is_sent(
    committed_db: Database, smtp_server: SmtpServer
) -> None:
    smtp_server.recorder.reject.add("gone@example.com")
    async with committed_db.transaction() as session:
        for n, to in enumerate(["gone@example.com", "ada@example.com"]):
            await actions.enqueue_email(
                session, template="refund", to=to, context=contexts.refund(), dedupe_key=f"k{n}"
            )
    result = await sender(committed_db, smtp_server.port).run_once()
    assert (result.sent, result.failed, result.retried) == (1, 1, 0)
    failed = await queries.message_by_dedupe_key(committed_db, "k0")
    assert failed is not None
    assert (failed.status, failed.attempts) == ("FAILED", 1)
    assert failed.last_error is not None
    assert "550" in failed.last_error
    assert [r.rcpt_tos for r in smtp_server.received] == [["ada@example.com"]]


async def test_an_unrenderable_message_is_failed_and_the_sender_goes_on(
    committed_db: Database, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with committed_db.transaction() as session:
        # Rows enqueue_email would refuse: a template this version does not know (written
        # by a newer one, say), and a context without the amount.
        await session.execute(
            insert(OutboxMessage).values(
                template="gift_card",
                recipient="ada@example.com",
                context={},
                dedupe_key="a",
                message_id=actions.new_message_id(),
            )
        )
        context = contexts.refund()
        del context["amount"]
        await session.execute(
            insert(OutboxMessage).values(
                template="refund",
                recipient="ada@example.com",
                context=context,
                dedupe_key="b",
                message_id=actions.new_message_id(),
            )
        )
    await enqueue(committed_db, "c", template="showtime_cancelled")
    with caplog.at_level("WARNING", logger="marquee.outbox"):
        result = await sender(committed_db, smtp_server.port).run_once()
    assert (result.claimed, result.failed, result.sent) == (3, 2, 1)
    unknown = await queries.message_by_dedupe_key(committed_db, "a")
    missing = await queries.message_by_dedupe_key(committed_db, "b")
    assert unknown is not None
    assert missing is not None
    assert unknown.status == missing.status == OutboxStatus.FAILED
    assert "unknown template 'gift_card'" in (unknown.last_error or "")
    assert "'amount' is undefined" in (missing.last_error or "")
    assert "gift_card" in caplog.text
    [received] = smtp_server.received
    assert received.message["Subject"].startswith("Cancelled: Metropolis on Friday 12 June")


async def test_enqueue_refuses_what_could_never_be_sent(committed_db: Database) -> None:
    async with committed_db.transaction() as session:
        with pytest.raises(ValueError, match="unknown e-mail template"):
            await actions.enqueue_email(
                session, template="nope", to="a@example.com", context={}, dedupe_key="k"
            )
        with pytest.raises(ValueError, match="recipient"):
            await actions.enqueue_email(
                session,
                template="refund",
                to="a@example.com\r\nBcc: b@example.com",
                context={},
                dedupe_key="k",
            )
        with pytest.raises(TypeError):
            await actions.enqueue_email(
                session,
                template="refund",
                to="a@example.com",
                context={"amount": object()},
                dedupe_key="k",
            )
    assert await queries.status_counts(committed_db) == {}


async def test_a_send_not_recorded_before_a_crash_is_sent_again_with_the_same_message_id(
    committed_db: Database, smtp_server: SmtpServer
) -> None:
    await enqueue(committed_db, "order:1:confirmation")
    # A sender claims the row, the SMTP server takes the message, and the process dies
    # before SENT is written.
    [claimed] = await actions.claim_batch(
        committed_db, channel="EMAIL", limit=10, lease_seconds=300
    )
    crashed = sender(committed_db, smtp_server.port)
    message = compose(
        claimed.template,
        claimed.context,
        mail_from=FROM,
        to=claimed.recipient,
        message_id=claimed.message_id,
        date=claimed.created_at,
    )
    await crashed.transport.send(claimed.id, message)
    await crashed.transport.close()

    survivor = sender(committed_db, smtp_server.port)
    assert (await survivor.run_once()).claimed == 0  # leased: the dead sender still owns it
    await make_due(committed_db)  # the lease has run out
    assert (await survivor.run_once()).sent == 1

    first, second = smtp_server.received
    assert first.message_id == second.message_id == claimed.message_id
    assert first.message["Date"] == second.message["Date"]
    [row] = await queries.list_messages(committed_db)
    assert (row.status, row.attempts) == ("SENT", 2)


async def test_a_stopped_sender_hands_back_what_it_has_not_sent(
    committed_db: Database, smtp_server: SmtpServer
) -> None:
    for n in range(4):
        await enqueue(committed_db, f"order:{n}:refund", template="refund")
    worker = sender(committed_db, smtp_server.port)

    async def stop_during_the_first(received: int) -> None:
        # The stop comes while the first message is in hand (kept by the server, not yet
        # answered), as the server's shutdown does. Stopping once the test saw it arrive
        # raced the sender, which had at times already started the second.
        if received == 1:
            worker.stop()

    smtp_server.recorder.on_data = stop_during_the_first
    task = asyncio.create_task(worker.run_once())
    await smtp_server.wait_for(1)
    result = await task
    assert (result.claimed, result.sent, result.released) == (4, 1, 3)

    rows = await queries.list_messages(committed_db)
    unsent = [r for r in rows if r.status != "SENT"]
    assert len(unsent) == 3
    async with committed_db.transaction() as session:
        now = (await session.execute(select(func.now()))).scalar_one()
    for row in unsent:  # due at once, the attempt not counted
        assert (row.status, row.attempts) == ("PENDING", 0)
        assert row.next_attempt_at <= now

    smtp_server.recorder.data_delay = 0
    await sender(committed_db, smtp_server.port).run_once()
    assert await queries.status_counts(committed_db) == {"SENT": 4}
    assert sorted(r.message_id for r in rows) == sorted(r.message_id for r in smtp_server.received)


async def test_a_cancelled_sender_hands_back_what_it_has_not_sent(
    committed_db: Database, smtp_server: SmtpServer
) -> None:
    for n in range(4):
        await enqueue(committed_db, f"order:{n}:refund", template="refund")
    worker = sender(committed_db, smtp_server.port)
    smtp_server.recorder.data_delay = 0.3
    task = asyncio.create_task(worker.run_once())
    await asyncio.sleep(0.1)  # claimed, and waiting for the server's answer to the first
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    rows = await queries.list_messages(committed_db)
    # Whatever was not recorded as sent is due again at once, the attempt not counted.
    assert all(r.status == "SENT" or r.attempts == 0 for r in rows), rows
    assert sum(r.status == "PENDING" for r in rows) >= 3


async def test_a_round_with_nothing_due_is_one_probe(committed_db: Database) -> None:
    """Each process runs a round every second per channel: with nothing due it reads one
    row on the driver and claims nothing (no transaction, no SMTP connection)."""
    idle = sender(committed_db, free_port())  # nothing listens there: nothing may be sent
    with capture_statements() as statements:
        result = await idle.run_once()
    assert result.claimed == 0
    assert len(statements) == 1
    assert statements[0].startswith("SELECT")
    await enqueue(committed_db, "order:1:refund", template="refund")
    assert await actions.any_due(committed_db, Channel.EMAIL.value)
    assert not await actions.any_due(committed_db, Channel.SMS.value)
    await actions.claim_batch(committed_db, channel=Channel.EMAIL.value, limit=10, lease_seconds=60)
    # Leased to a sender: not due until the lease runs out.
    assert not await actions.any_due(committed_db, Channel.EMAIL.value)


class _Watched(EmailSender):
    """An EmailSender that notes when it makes each message (by its row's dedupe key)."""

    def __init__(self, *args: object, events: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.events = events

    async def make(self, row: actions.ClaimedMessage) -> Message:
        self.events.append(f"made {row.context['order_number']}")
        return await super().make(row)


async def test_the_next_message_is_made_while_one_is_sent(
    committed_db: Database, smtp_server: SmtpServer
) -> None:
    """A backlog drains at the pace of making messages: the next row's is made while the
    server takes the one before; each still sent once, in order."""
    for n in range(3):
        await enqueue(committed_db, f"order:{n}:refund", template="refund", order_number=f"MQ-{n}")
    events: list[str] = []

    async def arrived(count: int) -> None:
        events.append(f"sent MQ-{count - 1}")
        await asyncio.sleep(0.2)  # the server takes its time to answer

    smtp_server.recorder.on_data = arrived
    url = f"smtp://127.0.0.1:{smtp_server.port}"
    worker = _Watched(
        committed_db, SmtpTransport(SmtpConfig.from_url(url)), mail_from=FROM, events=events
    )
    result = await worker.run_once()
    assert (result.claimed, result.sent) == (3, 3)
    assert events == ["made MQ-0", "made MQ-1", "sent MQ-0", "made MQ-2", "sent MQ-1", "sent MQ-2"]
    subjects = [str(r.message["Subject"]) for r in smtp_server.received]
    assert [f"MQ-{n}" in subject for n, subject in enumerate(subjects)] == [True] * 3
    assert await queries.status_counts(committed_db) == {"SENT": 3}


async def test_a_batch_is_recorded_sent_in_one_statement(
    committed_db: Database, smtp_server: SmtpServer
) -> None:
    """The delivered rows of a batch become SENT together when it ends: one statement for
    the batch, not one a message."""
    for n in range(4):
        await enqueue(committed_db, f"order:{n}:refund", template="refund")
    with capture_statements() as statements:
        result = await sender(committed_db, smtp_server.port).run_once()
    assert (result.claimed, result.sent) == (4, 4)
    marks = [s for s in statements if s.startswith("UPDATE outbox_messages") and "sent_at" in s]
    assert len(marks) == 1
    assert await queries.status_counts(committed_db) == {"SENT": 4}
    assert len(smtp_server.received) == 4


async def test_the_event_loop_runs_between_a_confirmations_qr_codes(
    committed_db: Database,
) -> None:
    """A confirmation is made on the event loop, which runs between its QR codes (about
    0.7 ms each) and before the rest of the message; the message is the one `compose`
    makes at once."""
    await enqueue(committed_db, "order:1:confirmation", tickets=3)
    [row] = await actions.claim_batch(committed_db, channel="EMAIL", limit=1, lease_seconds=60)
    worker = sender(committed_db, free_port())
    turns = 0

    async def ticker() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # the ticker is running
    turns = 0
    try:
        made = await worker.make(row)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # One turn before each of the three codes and one before the rest.
    assert turns >= 4

    def parts(message: Message) -> list[tuple[str, object]]:
        return [
            (part.get_content_type(), part.get_payload(decode=True))
            for part in message.walk()
            if not part.is_multipart()
        ]

    at_once = worker.compose(row)
    assert parts(made) == parts(at_once)
    assert [kind for kind, _ in parts(made)] == ["text/plain", "text/html", *["image/png"] * 3]
