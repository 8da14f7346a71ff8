"""The SMS channel of the outbox against real PostgreSQL commits: templates that fit three
segments whatever the titles, the same exactly-once rule as e-mail (dedupe key, one sender
per row across racing senders), retries then FAILED for a failing provider, a message too
long refused. (The start-up hook's choice of provider: test_startup.py.)"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, update

from db.outbox import actions, queries
from db.outbox.compose import RenderError
from db.outbox.models import OutboxMessage
from db.outbox.sms import MAX_SEGMENTS, FileSmsProvider, SmsMessage, compose_sms, segments
from db.outbox.transport import SendError
from db.outbox.worker import RetryPolicy, SmsSender
from db.session import Database
from tests.outbox import contexts
from tests.outbox.conftest import drain

PHONE = "+33612345678"
LONG_LATIN = "The Extraordinarily Long and Winding Director's Cut of a Film " * 5
LONG_CYRILLIC = "Очень длинное название фильма о далёкой звезде " * 6  # noqa: RUF001 (not GSM-7)


async def enqueue(
    db: Database, key: str, *, template: str = "order_confirmation", **context: Any
) -> bool:
    async with db.transaction() as session:
        return await actions.enqueue_sms(
            session,
            template=template,
            to=PHONE,
            context=getattr(contexts, template)(**context),
            dedupe_key=key,
        )


def texts(directory: Path) -> list[str]:
    return [p.read_text() for p in sorted(directory.glob("*.txt"))] if directory.exists() else []


def test_segments_count_gsm_septets_and_utf16_units() -> None:
    assert segments("a" * 160) == 1
    assert segments("a" * 161) == 2
    assert segments("a" * 153 * 3) == 3
    assert segments("€" * 80) == 1  # the extension table: two septets each
    assert segments("€" * 81) == 2
    assert segments("ж" * 70) == 1
    assert segments("ж" * 71) == 2
    assert segments("ж" * 67 * 3 + "ж") == 4


@pytest.mark.parametrize("title", [LONG_LATIN, LONG_CYRILLIC])
@pytest.mark.parametrize("template", ["order_confirmation", "showtime_cancelled"])
def test_the_templates_fit_three_segments_with_long_titles(title: str, template: str) -> None:
    make = getattr(contexts, template)
    worst = make(
        movie_title=title,
        cinema_name=title,
        order_number="MQ-1234567890123",  # orders.number is at most 16 characters
        starts_at="2026-06-12T17:30:00+00:00",
        time_zone="America/Argentina/Buenos_Aires",
    )
    if template == "order_confirmation":
        worst["tickets"] = contexts.order_confirmation(tickets=10)["tickets"]
    message = compose_sms(template, worst, to=PHONE, reference="<r@marquee.localhost>")
    assert 1 <= message.segments <= MAX_SEGMENTS
    assert "\n" not in message.text
    assert "MQ-1234567890123" in message.text
    assert "Fri 12 Jun 2026 14:30" in message.text  # in the cinema's time zone
    assert title[:20] in message.text


def test_the_confirmation_says_what_and_when() -> None:
    message = compose_sms(
        "order_confirmation", contexts.order_confirmation(), to=PHONE, reference="<r@x>"
    )
    assert message.text == (
        "Marquee order MQ-100042: Metropolis, Fri 12 Jun 2026 19:30 CEST, Marquee Mitte. "
        "Seats C1 C2. Ref K7Q2-0001 +1. QR codes in your e-mail."
    )
    assert message.segments == 1
    with pytest.raises(RenderError, match="movie_title"):
        compose_sms(
            "order_confirmation",
            {k: v for k, v in contexts.order_confirmation().items() if k != "movie_title"},
            to=PHONE,
            reference="<r@x>",
        )


async def test_enqueue_refuses_programming_errors_and_keeps_one_row_per_key(
    committed_db: Database,
) -> None:
    async with committed_db.transaction() as session:
        for bad in ("0612345678", "ada@example.com", "+33 6 12 34 56 78", ""):
            with pytest.raises(ValueError, match=r"E\.164"):
                await actions.enqueue_sms(
                    session, template="order_confirmation", to=bad, context={}, dedupe_key="k"
                )
        with pytest.raises(ValueError, match="unknown SMS template"):
            await actions.enqueue_sms(
                session, template="refund", to=PHONE, context={}, dedupe_key="k"
            )
    assert await enqueue(committed_db, "order:1:sms")
    assert not await enqueue(committed_db, "order:1:sms")
    [row] = await queries.list_messages(committed_db)
    assert (row.channel, row.recipient, row.status) == ("SMS", PHONE, "PENDING")


async def test_a_text_is_written_once_and_an_e_mail_sender_leaves_it_alone(
    committed_db: Database, tmp_path: Path
) -> None:
    assert await enqueue(committed_db, "order:1:sms")
    sender = SmsSender(committed_db, FileSmsProvider(tmp_path))
    assert (await sender.run_once()).sent == 1
    assert (await sender.run_once()).claimed == 0
    [row] = await queries.list_messages(committed_db)
    [written] = texts(tmp_path)
    assert written.startswith(f"To: {PHONE}\nReference: {row.message_id}\nSegments: 1\n\n")
    assert "Marquee order MQ-100042" in written
    assert (tmp_path / f"{row.id}.txt").exists()
    assert (row.status, row.attempts) == ("SENT", 1)


async def test_a_text_over_three_segments_is_failed_not_sent(
    committed_db: Database, tmp_path: Path
) -> None:
    # A value the template does not shorten, far too long: refused, never a surprise bill.
    context = {
        **contexts.order_confirmation(),
        "tickets": [{"booking_reference": "R" * 600, "seat_label": "A1"}],
    }
    async with committed_db.transaction() as session:
        await actions.enqueue_sms(
            session, template="order_confirmation", to=PHONE, context=context, dedupe_key="k"
        )
    result = await SmsSender(committed_db, FileSmsProvider(tmp_path)).run_once()
    assert (result.sent, result.failed) == (0, 1)
    [row] = await queries.list_messages(committed_db)
    assert row.status == "FAILED"
    assert row.last_error is not None
    assert "SMS segments (at most 3)" in row.last_error
    assert texts(tmp_path) == []


class FlakyProvider(FileSmsProvider):
    """Refuses the first `failures` sends (a provider outage), then writes files."""

    def __init__(self, directory: Path, failures: int) -> None:
        super().__init__(directory)
        self.failures = failures
        self.calls = 0

    async def send(self, row_id: int, message: SmsMessage) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise SendError("503 provider unavailable")
        await super().send(row_id, message)


async def _make_due(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(update(OutboxMessage).values(next_attempt_at=func.now()))


async def test_a_failing_provider_is_retried_then_failed(
    committed_db: Database, tmp_path: Path
) -> None:
    assert await enqueue(committed_db, "order:1:sms")
    assert await enqueue(committed_db, "order:2:sms", template="showtime_cancelled")
    retry = RetryPolicy(max_attempts=3, base_seconds=10, max_seconds=30)
    # Down for a while, then back: retried with backoff, sent on the third attempt.
    flaky = SmsSender(committed_db, FlakyProvider(tmp_path / "flaky", failures=4), retry=retry)
    first = await flaky.run_once()
    assert (first.claimed, first.retried) == (2, 2)
    assert (await flaky.run_once()).claimed == 0  # waiting out the backoff
    await _make_due(committed_db)
    assert (await flaky.run_once()).retried == 2
    await _make_due(committed_db)
    assert (await flaky.run_once()).sent == 2
    assert len(texts(tmp_path / "flaky")) == 2
    assert await queries.status_counts(committed_db) == {"SENT": 2}

    # Down for good: FAILED after the last attempt, the reason kept.
    assert await enqueue(committed_db, "order:3:sms")
    down = SmsSender(committed_db, FlakyProvider(tmp_path / "down", failures=99), retry=retry)
    outcomes = []
    for _ in range(3):
        result = await down.run_once()
        outcomes.append((result.retried, result.failed))
        await _make_due(committed_db)
    assert outcomes == [(1, 0), (1, 0), (0, 1)]
    row = await queries.message_by_dedupe_key(committed_db, "order:3:sms")
    assert row is not None
    assert (row.status, row.attempts, row.last_error) == ("FAILED", 3, "503 provider unavailable")
    assert texts(tmp_path / "down") == []


class CountingProvider(FileSmsProvider):
    """Counts the sends of each row, slowly enough for two senders to interleave."""

    def __init__(self, directory: Path, counts: Counter[int]) -> None:
        super().__init__(directory)
        self.counts = counts

    async def send(self, row_id: int, message: SmsMessage) -> None:
        self.counts[row_id] += 1
        await asyncio.sleep(0.002)
        await super().send(row_id, message)


async def test_two_racing_senders_send_every_text_once(
    committed_db: Database, tmp_path: Path
) -> None:
    async with committed_db.transaction() as session:
        for n in range(40):
            await actions.enqueue_sms(
                session,
                template="showtime_cancelled",
                to=f"+3361234{n:04d}",
                context=contexts.showtime_cancelled(order_number=f"MQ-{n}"),
                dedupe_key=f"order:{n}:sms",
            )
    counts: Counter[int] = Counter()
    senders = [
        SmsSender(committed_db, CountingProvider(tmp_path, counts), batch_size=4) for _ in "ab"
    ]

    shares = await asyncio.gather(*(drain(s) for s in senders))
    assert sum(shares) == 40
    assert all(shares), shares  # both took part
    assert set(counts.values()) == {1}
    assert len(counts) == 40
    assert len(texts(tmp_path)) == 40
    assert await queries.status_counts(committed_db) == {"SENT": 40}
