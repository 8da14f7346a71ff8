"""Outbox writes: enqueue a message in the caller's transaction; claim rows for sending and
record what became of each attempt.

A claim is one short transaction: it picks due PENDING rows with `FOR UPDATE SKIP LOCKED`
(so concurrent claims, in this process or another instance, never pick the same row), counts
the attempt, and pushes `next_attempt_at` past a lease (the sender's to choose: see
db/outbox/worker.py). Sending
happens outside any transaction; its outcome is written in another short one, guarded by
the attempt number, so a sender whose lease ran out cannot overwrite a newer claim's result.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    String,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts.phones import E164_RE
from db.outbox.codes import EMAIL_TEMPLATES, SMS_TEMPLATES, Channel, OutboxStatus
from db.outbox.models import OutboxMessage
from db.session import Database

# The right-hand side of the Message-IDs the outbox makes (RFC 5322: unique to the sender).
MESSAGE_ID_DOMAIN = "marquee.localhost"
ERROR_LENGTH = 300
# The context key of the one secret a message may carry (a set-password link: see
# db/accounts/passwordtokens.py). It is removed from the row once the message is settled.
SECRET_KEY = "secret_link"


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A row claimed for sending; `attempts` counts this attempt."""

    id: int
    channel: str
    template: str
    recipient: str
    context: dict[str, Any]
    message_id: str
    attempts: int
    created_at: datetime


def new_message_id(domain: str = MESSAGE_ID_DOMAIN) -> str:
    # Random, not derived from the dedupe key: two databases (staging, production) with an
    # order 123 each must not send the same Message-ID to one inbox.
    return f"<{uuid.uuid4().hex}@{domain}>"


async def enqueue_email(
    session: AsyncSession,
    *,
    template: str,
    to: str,
    context: Mapping[str, Any],
    dedupe_key: str,
    message_id_domain: str = MESSAGE_ID_DOMAIN,
) -> bool:
    """Write an e-mail into the outbox in the caller's transaction: it is sent if and only
    if that transaction commits. True when a row was written, False when one with this
    `dedupe_key` already exists (then nothing changes). `context` must be JSON-serialisable
    (money and times as strings); the templates are in db/outbox/templates/.

    A wrong template name, recipient or context is a programming error (ValueError or
    TypeError), raised here so that it fails the caller's tests, not a customer's e-mail."""
    if template not in EMAIL_TEMPLATES:
        raise ValueError(f"unknown e-mail template {template!r}")
    if not to or "@" not in to or len(to) > 320 or any(c in to for c in "\r\n<>, "):
        raise ValueError("the recipient must be one plain e-mail address")
    return await _enqueue(
        session, Channel.EMAIL, template, to, context, dedupe_key, message_id_domain
    )


async def enqueue_sms(
    session: AsyncSession,
    *,
    template: str,
    to: str,
    context: Mapping[str, Any],
    dedupe_key: str,
    message_id_domain: str = MESSAGE_ID_DOMAIN,
) -> bool:
    """Write a text message into the outbox in the caller's transaction, like
    `enqueue_email` (same answer, same exactly-once rule by `dedupe_key`): `to` is an
    E.164 number, the templates are in db/outbox/templates/sms/. The row's message id is
    the reference a provider can de-duplicate re-sends by."""
    if template not in SMS_TEMPLATES:
        raise ValueError(f"unknown SMS template {template!r}")
    if not E164_RE.match(to or ""):
        raise ValueError("the recipient must be one E.164 phone number (+33612345678)")
    return await _enqueue(
        session, Channel.SMS, template, to, context, dedupe_key, message_id_domain
    )


async def _enqueue(
    session: AsyncSession,
    channel: Channel,
    template: str,
    to: str,
    context: Mapping[str, Any],
    dedupe_key: str,
    message_id_domain: str,
) -> bool:
    """The insert both channels share (the recipient already checked for its channel)."""
    if not dedupe_key or len(dedupe_key) > 200:
        raise ValueError("dedupe_key must be 1 to 200 characters")
    payload = dict(context)
    json.dumps(payload)  # TypeError now, not a driver error at flush
    stmt = (
        insert(OutboxMessage)
        .values(
            channel=channel.value,
            template=template,
            recipient=to,
            context=payload,
            dedupe_key=dedupe_key,
            message_id=new_message_id(message_id_domain),
        )
        .on_conflict_do_nothing(index_elements=[OutboxMessage.dedupe_key])
        .returning(OutboxMessage.id)
    )
    return (await session.execute(stmt)).first() is not None


# Whether `channel` has a due PENDING row (`ix_outbox_messages_pending`); built once.
_ANY_DUE = (
    select(literal(1))
    .where(
        # Written out, not a parameter: a generic plan can then use the partial index.
        OutboxMessage.status == literal_column(f"'{OutboxStatus.PENDING.value}'"),
        OutboxMessage.channel == bindparam("channel", type_=String),
        OutboxMessage.next_attempt_at <= func.now(),
    )
    .limit(1)
)


async def any_due(db: Database, channel: str) -> bool:
    """Whether a round would claim anything: a probe of the pending index on the driver, so
    that the senders' rounds (every second in each process) open no transaction while
    there is nothing to send. `claim_batch` decides; this only saves empty rounds."""
    return bool(await db.fetch_static(_ANY_DUE, {"channel": channel}))


# The claim, built once and run on the driver as one autocommit statement (the sender's
# BEGIN, statement and COMMIT through a session took ~1.5 ms of its CPU a batch).
_CLAIM = (
    update(OutboxMessage)
    .where(
        OutboxMessage.id.in_(
            select(OutboxMessage.id)
            .where(
                # Written out, not a parameter: a generic plan can then use the partial index.
                OutboxMessage.status == literal_column(f"'{OutboxStatus.PENDING.value}'"),
                OutboxMessage.channel == bindparam("channel", type_=String),
                OutboxMessage.next_attempt_at <= func.now(),
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(bindparam("limit", type_=Integer))
            .with_for_update(skip_locked=True)
        )
    )
    .values(
        attempts=OutboxMessage.attempts + 1,
        last_attempt_at=func.now(),
        next_attempt_at=func.now()
        + literal_column("interval '1 second'") * bindparam("lease_seconds", type_=Float),
    )
    .returning(
        OutboxMessage.id,
        OutboxMessage.channel,
        OutboxMessage.template,
        OutboxMessage.recipient,
        # As text: the driver does not decode jsonb (SQLAlchemy would); parsed below.
        cast(OutboxMessage.context, Text).label("context"),
        OutboxMessage.message_id,
        OutboxMessage.attempts,
        OutboxMessage.created_at,
    )
)


async def claim_batch(
    db: Database, *, channel: str, limit: int, lease_seconds: float
) -> list[ClaimedMessage]:
    """Claim up to `limit` due PENDING rows of `channel`, oldest due first: each gets one
    more attempt and stays claimed for `lease_seconds` (if its sender dies, it is due again
    after that). Rows another transaction has locked are skipped, never waited for. One
    statement, its own transaction."""
    rows = await db.fetch_static(
        _CLAIM, {"channel": channel, "limit": limit, "lease_seconds": float(lease_seconds)}
    )
    return sorted(
        (
            ClaimedMessage(
                id=r.id,
                channel=r.channel,
                template=r.template,
                recipient=r.recipient,
                context=json.loads(r.context),
                message_id=r.message_id,
                attempts=r.attempts,
                created_at=r.created_at,
            )
            for r in rows
        ),
        key=lambda m: m.id,
    )


def _without_secret() -> Any:
    """The row's context without its secret, if it has one (jsonb minus key); as it is
    otherwise, so that a context without one is not written again (a confirmation's is a
    few kilobytes)."""
    return case(
        (
            OutboxMessage.context.has_key(literal(SECRET_KEY, Text)),
            OutboxMessage.context.op("-", return_type=JSONB)(literal(SECRET_KEY, Text)),
        ),
        else_=OutboxMessage.context,
    )


def _claimed(id: int, attempt: int) -> Any:
    return and_(
        OutboxMessage.id == id,
        OutboxMessage.attempts == attempt,
        OutboxMessage.status == OutboxStatus.PENDING.value,
    )


def short_error(reason: str) -> str:
    return reason if len(reason) <= ERROR_LENGTH else reason[: ERROR_LENGTH - 1] + "…"


# Built once and run on the driver as one autocommit statement: a sender marks the messages
# of a batch it delivered, and BEGIN, the UPDATE and COMMIT through a session took 1-2 ms of
# the 13-14 ms of CPU of sending a two-ticket order confirmation (in one process, 200
# messages, alternated runs).
_MARK_SENT = (
    update(OutboxMessage)
    .where(
        OutboxMessage.id == any_(bindparam("ids", type_=ARRAY(BigInteger))),
        OutboxMessage.status != OutboxStatus.SENT.value,
    )
    .values(
        status=OutboxStatus.SENT.value,
        sent_at=func.now(),
        last_error=None,
        context=_without_secret(),
    )
    .returning(OutboxMessage.id)
)


async def mark_sent(db: Database, *, ids: Sequence[int]) -> int:
    """The messages were delivered: SENT, whatever each row's state (a sender whose lease
    ran out still delivered it; the truth wins over a later FAILED). Returns how many were
    not SENT already. One statement, its own transaction (it is idempotent, so a retry
    after a dropped connection changes nothing twice)."""
    if not ids:
        return 0
    return len(await db.fetch_static(_MARK_SENT, {"ids": list(ids)}))


async def schedule_retry(
    session: AsyncSession, *, id: int, attempt: int, error: str, delay_seconds: float
) -> bool:
    """Attempt `attempt` failed for now: due again in `delay_seconds`. False if the row has
    been claimed again or settled meanwhile (then nothing changes)."""
    stmt = (
        update(OutboxMessage)
        .where(_claimed(id, attempt))
        .values(
            next_attempt_at=func.now() + timedelta(seconds=delay_seconds),
            last_error=short_error(error),
        )
        .execution_options(synchronize_session=False)
    )
    return bool((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def mark_failed(session: AsyncSession, *, id: int, attempt: int, error: str) -> bool:
    """Give up on the message (rejected for good, not renderable, or out of attempts)."""
    stmt = (
        update(OutboxMessage)
        .where(_claimed(id, attempt))
        .values(
            status=OutboxStatus.FAILED.value,
            last_error=short_error(error),
            context=_without_secret(),
        )
        .execution_options(synchronize_session=False)
    )
    return bool((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def release_claims(session: AsyncSession, *, claims: Sequence[tuple[int, int]]) -> int:
    """Hand back claimed rows that were not attempted after all ((id, attempt) pairs; a
    sender stopping, out of lease, or back from a database outage): due at once, and the
    attempt does not count."""
    if not claims:
        return 0
    stmt = (
        update(OutboxMessage)
        .where(or_(*(_claimed(id, attempt) for id, attempt in claims)))
        .values(attempts=OutboxMessage.attempts - 1, next_attempt_at=func.now())
        .execution_options(synchronize_session=False)
    )
    return int((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


def backoff_seconds(attempt: int, *, base: float, cap: float) -> float:
    """Exponential backoff after failed attempt `attempt` (1, 2, ...): base, 2 base, 4 base,
    ... never more than `cap`."""
    return float(min(cap, base * 2 ** min(max(0, attempt - 1), 60)))
