"""The sandbox payment provider: a documented test mode, like a gateway's (docs/orders.md,
"The sandbox provider").

Its tokens (`db.payments.codes.TOKEN_OUTCOMES`): `tok_visa` is charged at once;
`tok_chargeDeclined` and `tok_chargeDeclinedInsufficientFunds` are declined; `tok_async` is
accepted as pending and confirmed about a second later by a signed `charge.succeeded`
webhook sent over HTTP to the server's own `/webhooks/payments/sandbox`, exactly as a real
gateway would (and re-sent with backoff until it is answered with 2xx). Any other token is
refused as unknown.

Its ledger, the table `sandbox_charges`, stands for the gateway's own database: a charge is
recorded in a transaction of its own (the gateway commits whatever our side then does), by
our payment's reference, so a second charge with the same reference returns the first.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import time
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import Interval, Numeric, String, bindparam, func, literal, select, text, update

from db.payments import webhooks
from db.payments.codes import CHARGE_SUCCEEDED, TOKEN_OUTCOMES, ChargeOutcome
from db.payments.models import SandboxCharge
from db.payments.providers import ChargeResult, InvalidToken, InvalidWebhook, WebhookEvent
from db.session import Database

log = logging.getLogger("marquee.payments.sandbox")

NAME = "sandbox"
# tok_async is confirmed this long after the charge.
CONFIRM_AFTER = timedelta(seconds=1)
# A webhook that was not answered with 2xx is sent again after 2, 4, 8, ... seconds (cap).
RETRY_CAP_SECONDS = 300
_STATUS = {
    ChargeOutcome.SUCCEEDED: "succeeded",
    ChargeOutcome.PENDING: "pending",
    ChargeOutcome.DECLINED: "failed",
    ChargeOutcome.INSUFFICIENT_FUNDS: "failed",
}
_FAILURE = {
    ChargeOutcome.DECLINED: "card_declined",
    ChargeOutcome.INSUFFICIENT_FUNDS: "insufficient_funds",
}


_CHARGE = text(
    """
    WITH made AS (
        INSERT INTO sandbox_charges
            (id, reference, token, amount, currency, status, failure_code, webhook_due_at)
        VALUES (:id, :reference, :token, :amount, :currency, :status, :failure_code,
            now() + :delay)
        ON CONFLICT (reference) DO NOTHING
        RETURNING id, status, failure_code
    )
    SELECT id, status, failure_code FROM made
    UNION ALL
    SELECT id, status, failure_code FROM sandbox_charges
    WHERE reference = :reference AND NOT EXISTS (SELECT 1 FROM made)
    """
).bindparams(
    bindparam("id", type_=String),
    bindparam("reference", type_=String),
    bindparam("token", type_=String),
    bindparam("amount", type_=Numeric),
    bindparam("currency", type_=String),
    bindparam("status", type_=String),
    bindparam("failure_code", type_=String),
    bindparam("delay", type_=Interval),
)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    """A JSON number with a fraction or exponent, as a float; one past a float's range
    (`1e400`) would be infinity, which jsonb refuses: refused here too."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def _result(row: Any) -> ChargeResult:
    status = row.status
    if status in ("succeeded", "refunded"):
        outcome = ChargeOutcome.SUCCEEDED
    elif status == "pending":
        outcome = ChargeOutcome.PENDING
    elif row.failure_code == "insufficient_funds":
        outcome = ChargeOutcome.INSUFFICIENT_FUNDS
    else:
        outcome = ChargeOutcome.DECLINED
    return ChargeResult(outcome, row.id, row.failure_code, refunded=status == "refunded")


# Whether any charge's webhook is due: the earliest due time, which PostgreSQL reads as the
# first entry of `ix_sandbox_charges_webhook_due`; built once. (`WHERE webhook_due_at <=
# now() LIMIT 1` was planned as a scan of the table, through every charge ever made, four
# times a second in every process.)
_ANY_WEBHOOK_DUE = select(literal(1)).where(
    select(func.min(SandboxCharge.webhook_due_at)).scalar_subquery() <= func.now()
)


class SandboxProvider:
    name = NAME

    def __init__(self, db: Database, *, webhook_secret: str, webhook_url: str) -> None:
        self.db = db
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url

    async def charge(
        self, *, reference: str, amount: Decimal, currency: str, token: str
    ) -> ChargeResult:
        outcome = TOKEN_OUTCOMES.get(token)
        if outcome is None:
            raise InvalidToken(token)
        # One statement (its own transaction, as the gateway commits whatever we then do):
        # the new charge, or the first one made with this reference.
        row = (
            await self.db.fetch_static(
                _CHARGE,
                {
                    "id": f"ch_{secrets.token_hex(12)}",
                    "reference": reference,
                    "token": token,
                    "amount": amount,
                    "currency": currency,
                    "status": _STATUS[outcome],
                    "failure_code": _FAILURE.get(outcome),
                    "delay": CONFIRM_AFTER if outcome is ChargeOutcome.PENDING else None,
                },
            )
        )[0]
        return _result(row)

    async def refund(self, *, charge_id: str, amount: Decimal) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(SandboxCharge)
                .where(
                    SandboxCharge.id == charge_id,
                    SandboxCharge.status.in_(["succeeded", "pending"]),
                )
                .values(status="refunded", refunded_amount=amount, webhook_due_at=None)
            )

    async def lookup(self, reference: str) -> ChargeResult | None:
        row = await self.db.fetch_one(
            select(SandboxCharge.id, SandboxCharge.status, SandboxCharge.failure_code).where(
                SandboxCharge.reference == reference
            )
        )
        return None if row is None else _result(row)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        try:
            webhooks.verify(headers.get(webhooks.HEADER), body, self.webhook_secret, time.time())
        except webhooks.InvalidSignature as exc:
            raise InvalidWebhook(str(exc)) from None
        try:
            data = json.loads(body, parse_constant=_no_constants, parse_float=_finite)
            # What PostgreSQL's jsonb refuses (NUL, lone surrogates) is refused here.
            # (a lone surrogate fails to encode: UnicodeEncodeError is a ValueError)
            if "\\u0000" in json.dumps(data, ensure_ascii=False).encode().decode():
                raise ValueError("NUL")
            obj = data["data"]["object"]
            event = WebhookEvent(
                id=str(data["id"]),
                type=str(data["type"]),
                charge_id=str(obj["id"]),
                reference=str(obj["reference"]),
                payload=data,
            )
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise InvalidWebhook("malformed event") from exc
        if len(event.id) > 100 or len(event.type) > 60:
            raise InvalidWebhook("malformed event")
        return event

    # --- the sandbox's side: confirming tok_async charges by webhook -------------------------

    def event_body(self, row: Any) -> bytes:
        """The signed event for a confirmed charge (its id is stable: re-sent, it is a
        replay the receiver ignores)."""
        event = {
            "id": f"evt_{row.id}_succeeded",
            "type": CHARGE_SUCCEEDED,
            "data": {
                "object": {
                    "id": row.id,
                    "reference": row.reference,
                    "amount": str(row.amount),
                    "currency": row.currency,
                    "status": "succeeded",
                }
            },
        }
        return json.dumps(event, separators=(",", ":")).encode()

    async def deliver_due_webhooks(self, http: httpx.AsyncClient, *, limit: int = 50) -> int:
        """Confirm the pending charges that are due and send each its webhook; returns how
        many were answered with 2xx. A charge is leased (its due time pushed forward) before
        sending, so two instances never send it at the same time; an unanswered one is
        retried with exponential backoff."""
        # Every process asks four times a second: a probe of the index on the driver first,
        # so that a round with nothing due opens no transaction (docs/architecture.md).
        if not await self.db.fetch_static(_ANY_WEBHOOK_DUE):
            return 0
        async with self.db.transaction() as session:
            due = (
                select(SandboxCharge.id)
                .where(SandboxCharge.webhook_due_at <= func.now())
                .order_by(SandboxCharge.webhook_due_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            rows = (
                await session.execute(
                    update(SandboxCharge)
                    .where(SandboxCharge.id.in_(due.scalar_subquery()))
                    .values(
                        # A pending charge is confirmed when its webhook is first due.
                        status="succeeded",
                        webhook_attempts=SandboxCharge.webhook_attempts + 1,
                        webhook_due_at=func.now() + timedelta(seconds=60),
                    )
                    .returning(
                        SandboxCharge.id,
                        SandboxCharge.reference,
                        SandboxCharge.amount,
                        SandboxCharge.currency,
                        SandboxCharge.webhook_attempts,
                    )
                )
            ).all()
        delivered = 0
        for row in rows:
            body = self.event_body(row)
            headers = {
                "Content-Type": "application/json",
                webhooks.HEADER: webhooks.sign(body, self.webhook_secret, int(time.time())),
            }
            try:
                response = await http.post(self.webhook_url, content=body, headers=headers)
                ok = 200 <= response.status_code < 300
            except httpx.HTTPError as exc:
                log.warning("sandbox webhook for %s not delivered: %s", row.id, exc)
                ok = False
            backoff = min(RETRY_CAP_SECONDS, 2 ** min(int(row.webhook_attempts), 12))
            async with self.db.transaction() as session:
                await session.execute(
                    update(SandboxCharge)
                    .where(SandboxCharge.id == row.id)
                    .values(webhook_due_at=None if ok else func.now() + timedelta(seconds=backoff))
                )
            delivered += ok
        return delivered
