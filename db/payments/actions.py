"""The payment flow (docs/orders.md, "Payments"): pay an order, settle a charge (from the
charge call, a webhook or reconciliation), refund on cancellation, and reconcile.

Paying spans a call to the provider, so it is three steps, each its own transaction:
1. `begin`: lock the order, check it is payable, write a PROCESSING payment (at most one
   live payment per order: a partial unique index) and commit, before any money moves;
2. the provider's `charge`, with the payment's reference as its idempotency key;
3. `settle`: lock the order and payment again; a success fulfils the order (tickets, SOLD,
   points, e-mail, announcement) or, when the order stopped being payable meanwhile
   (expired, cancelled), is refunded at once; a decline marks the payment FAILED.
A process killed after 1 leaves a PROCESSING payment; `reconcile` asks the provider what
became of it and settles it the same way, so no charge is left without tickets or a refund.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Executable,
    Numeric,
    Text,
    bindparam,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.errors import DomainError, ErrorDetail
from db.orders import actions as orders
from db.orders.codes import OrderErrorCode, OrderStatus
from db.orders.pricing import NOT_ON_SALE_FOR_YOU
from db.orders.queries import (
    PAYLOAD_ORDER_COLUMNS,
    PayloadOrder,
    PayloadTicket,
    payload_order,
    payload_tickets,
)
from db.outbox.actions import MESSAGE_ID_DOMAIN
from db.payments.codes import CHARGE_FAILED, CHARGE_SUCCEEDED, ChargeOutcome, PaymentStatus
from db.payments.models import Payment, PaymentEvent
from db.payments.providers import ChargeResult, InvalidToken, PaymentProvider, WebhookEvent
from db.session import Database

log = logging.getLogger("marquee.payments")

C = OrderErrorCode
OPERATION = "payOrder"
# How long a call waits for a racing call with the same idempotency key to finish.
IDEMPOTENT_WAIT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Fulfilment:
    """What fulfilling a paid order needs from settings."""

    points_per_unit: Decimal
    sign: orders.Signer


@dataclass(frozen=True, slots=True)
class PayResult:
    order_id: int | None
    errors: list[ErrorDetail]
    # The order as the payload shows it, when the settling statement read it (migration
    # 0029_payload_order), and its tickets (0031_payload_tickets); None: the payload reads it.
    order: PayloadOrder | None = None
    tickets: list[PayloadTicket] | None = None


def _detail(exc: DomainError) -> list[ErrorDetail]:
    return list(exc.details)


def _stored(errors: list[dict[str, Any]]) -> list[ErrorDetail]:
    return [ErrorDetail(e["code"], e["message"], e.get("field")) for e in errors]


def _as_json(errors: list[ErrorDetail]) -> list[dict[str, Any]]:
    return [{"code": e.code, "message": e.message, "field": e.field} for e in errors]


# --- 3. settle -----------------------------------------------------------------------------


async def settle(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    payment_id: int,
    result: ChargeResult,
    fulfilment: Fulfilment,
) -> list[ErrorDetail]:
    """Apply the provider's answer to a PROCESSING payment, in the caller's transaction.
    A payment that is settled already is left alone (a webhook replayed or out of order)."""
    order = await orders.lock_order(
        session, select(Payment.order_id).where(Payment.id == payment_id).scalar_subquery()
    )
    assert order is not None
    payment = (
        await session.execute(
            select(Payment.status, Payment.amount, Payment.charge_id)
            .where(Payment.id == payment_id)
            .with_for_update()
        )
    ).one()
    if payment.status != PaymentStatus.PROCESSING:
        return []
    outcome = result.outcome
    if result.refunded:
        await _set_payment(session, payment_id, PaymentStatus.REFUNDED, result, payment.amount)
        return [ErrorDetail(C.HOLD_EXPIRED, "This payment was refunded.", "orderId")]
    if outcome is ChargeOutcome.PENDING:
        await _set_payment(session, payment_id, PaymentStatus.PROCESSING, result)
        return []
    if outcome in (ChargeOutcome.DECLINED, ChargeOutcome.INSUFFICIENT_FUNDS):
        await _set_payment(session, payment_id, PaymentStatus.FAILED, result)
        if outcome is ChargeOutcome.INSUFFICIENT_FUNDS:
            return [ErrorDetail(C.INSUFFICIENT_FUNDS, "The card has insufficient funds.")]
        return [ErrorDetail(C.PAYMENT_DECLINED, "The card was declined.")]
    # Succeeded: tickets, or (no longer payable) an automatic refund.
    if orders.payable(order) and await orders.fulfil(
        session,
        order,
        points_per_unit=fulfilment.points_per_unit,
        sign=fulfilment.sign,
    ):
        await _set_payment(session, payment_id, PaymentStatus.SUCCEEDED, result)
        return []
    assert result.charge_id is not None
    await _set_payment(session, payment_id, PaymentStatus.REFUNDED, result, payment.amount)
    await provider.refund(charge_id=result.charge_id, amount=payment.amount)
    log.info(
        "payment %s arrived for order %s that is %s: refunded", payment_id, order.id, order.status
    )
    return [
        ErrorDetail(
            C.HOLD_EXPIRED,
            "This order expired before the payment was confirmed; the charge was refunded.",
            "orderId",
        )
    ]


async def _set_payment(
    session: AsyncSession,
    payment_id: int,
    status: PaymentStatus,
    result: ChargeResult,
    refunded: Decimal | None = None,
) -> None:
    values: dict[str, Any] = {
        "status": status.value,
        "charge_id": result.charge_id,
        "failure_code": result.failure_code,
        "updated_at": func.now(),
    }
    if refunded is not None:
        values["refunded_amount"] = refunded
    await session.execute(update(Payment).where(Payment.id == payment_id).values(**values))


# --- payOrder ------------------------------------------------------------------------------


# payOrder's begin and settle, one statement each (migration 0010_payment_functions), run
# on the raw driver: each statement is its own transaction. Typed binds: one exact signature.
_BEGIN: Executable = select(
    literal_column("o_outcome"),
    literal_column("o_payment_id"),
    literal_column("o_amount"),
    literal_column("o_currency"),
    literal_column("o_result"),
).select_from(
    func.marquee_begin_payment(
        bindparam("user_id", type_=BigInteger),
        bindparam("order_id", type_=BigInteger),
        bindparam("provider", type_=Text),
        bindparam("reference", type_=Text),
        bindparam("key", type_=Text),
        bindparam("hash", type_=Text),
    ).alias("begin_payment")
)
_SETTLE: Executable = select(
    literal_column("o_result"),
    literal_column("o_order_id"),
    *PAYLOAD_ORDER_COLUMNS,
    literal_column("o_tickets"),
    literal_column("o_seats"),
).select_from(
    func.marquee_settle_payment(
        bindparam("payment_id", type_=BigInteger),
        bindparam("outcome", type_=Text),
        bindparam("charge_id", type_=Text),
        bindparam("failure", type_=Text),
        bindparam("points_per_unit", type_=Numeric),
        bindparam("user_id", type_=BigInteger),
        bindparam("key", type_=Text),
        bindparam("mail_domain", type_=Text),
    ).alias("settle_payment")
)
_BEGIN_FAILURES = {
    "NOT_FOUND": ErrorDetail(C.NOT_FOUND, "No such order.", "orderId"),
    "KEY_REUSED": ErrorDetail(
        C.IDEMPOTENCY_KEY_REUSED,
        "This idempotency key was used with a different input.",
        "idempotencyKey",
    ),
    "PAID": ErrorDetail(C.VALIDATION_ERROR, "This order is paid already.", "orderId"),
    "EXPIRED": ErrorDetail(
        C.HOLD_EXPIRED,
        "This order has expired (or was cancelled); nothing was charged.",
        "orderId",
    ),
    "IN_PROGRESS": ErrorDetail(
        C.VALIDATION_ERROR, "A payment for this order is already being processed.", "orderId"
    ),
    "NOT_YET": ErrorDetail(
        C.SHOWTIME_NOT_BOOKABLE, NOT_ON_SALE_FOR_YOU + " Nothing was charged.", "orderId"
    ),
}
_SETTLE_ERRORS = {
    "DECLINED": [ErrorDetail(C.PAYMENT_DECLINED, "The card was declined.")],
    "INSUFFICIENT_FUNDS": [ErrorDetail(C.INSUFFICIENT_FUNDS, "The card has insufficient funds.")],
}


async def begin_payment(
    db: Database,
    *,
    user_id: int,
    order_id: int,
    provider: str,
    reference: str,
    idempotency_key: str | None = None,
    digest: str | None = None,
) -> Any:
    """payOrder's step 1, one statement (`marquee_begin_payment`): the row (outcome,
    payment id, amount, currency, stored result)."""
    rows = await db.fetch_static(
        _BEGIN,
        {
            "user_id": user_id,
            "order_id": order_id,
            "provider": provider,
            "reference": reference,
            "key": idempotency_key,
            "hash": digest,
        },
    )
    return rows[0]


def _json(value: Any) -> Any:
    """A jsonb column read on the raw driver arrives as its text."""
    return json.loads(value) if isinstance(value, str) else value


async def pay_order(
    db: Database,
    provider: PaymentProvider,
    *,
    user_id: int,
    order_id: int,
    token: str,
    idempotency_key: str | None,
    fulfilment: Fulfilment,
) -> PayResult:
    """payOrder: begin, charge, settle (module docstring), begin and settle one statement
    each. With an idempotency key the first call's result is stored; a repeat (or a racing
    twin) returns it and charges nothing."""
    digest = (
        orders.request_hash(OPERATION, {"orderId": order_id, "paymentToken": token})
        if idempotency_key is not None
        else None
    )
    reference = f"pay_{secrets.token_hex(12)}"
    begun = await begin_payment(
        db,
        user_id=user_id,
        order_id=order_id,
        provider=provider.name,
        reference=reference,
        idempotency_key=idempotency_key,
        digest=digest,
    )
    outcome = begun[0]
    if outcome == "STORED":
        assert idempotency_key is not None
        result = _json(begun[4])
        stored = orders.StoredResult(
            result is not None,
            None if result is None else result.get("order_id"),
            [] if result is None else list(result.get("errors", [])),
        )
        return await _replay(db, user_id, idempotency_key, stored, order_id)
    if outcome != "OK":
        # Only the order's own state concerns this user's order (the function checked the
        # owner); a reused key or a missing order shows no order at all.
        mine = outcome not in ("NOT_FOUND", "KEY_REUSED")
        return PayResult(order_id if mine else None, [_BEGIN_FAILURES[outcome]])
    payment_id = int(begun[1])
    try:
        charged = await provider.charge(
            reference=reference, amount=begun[2], currency=begun[3], token=token
        )
    except InvalidToken:
        failed = ChargeResult(ChargeOutcome.DECLINED, None, "invalid_token")
        errors = [
            ErrorDetail(
                C.VALIDATION_ERROR,
                "Unknown payment token. The sandbox accepts tok_visa, tok_chargeDeclined, "
                "tok_chargeDeclinedInsufficientFunds and tok_async.",
                "paymentToken",
            )
        ]
        async with db.transaction() as session:
            await _set_payment(session, payment_id, PaymentStatus.FAILED, failed)
            await _store(session, user_id, idempotency_key, order_id, errors)
        return PayResult(order_id, errors)

    settled = (
        await db.fetch_static(
            _SETTLE,
            {
                "payment_id": payment_id,
                "outcome": charged.outcome.value,
                "charge_id": charged.charge_id,
                "failure": charged.failure_code,
                "points_per_unit": fulfilment.points_per_unit,
                "user_id": user_id,
                "key": idempotency_key,
                "mail_domain": MESSAGE_ID_DOMAIN,
            },
        )
    )[0]
    if settled[0] != "REFUND":
        mine = settled[1] == order_id
        return PayResult(
            order_id,
            _SETTLE_ERRORS.get(settled[0], []),
            payload_order(settled, order_id) if mine else None,
            payload_tickets(settled) if mine else None,
        )
    # Charged, but the order stopped being payable meanwhile (rare): the refund path, with
    # the provider called inside our transaction.
    async with db.transaction() as session:
        errors = await settle(
            session, provider, payment_id=payment_id, result=charged, fulfilment=fulfilment
        )
        await _store(session, user_id, idempotency_key, order_id, errors)
    return PayResult(order_id, errors)


async def _store(
    session: AsyncSession,
    user_id: int,
    key: str | None,
    order_id: int,
    errors: list[ErrorDetail],
) -> None:
    if key is not None:
        await orders.store_result(
            session,
            user_id=user_id,
            operation=OPERATION,
            key=key,
            order_id=order_id,
            errors=_as_json(errors),
        )


async def _replay(
    db: Database, user_id: int, key: str, stored: orders.StoredResult, order_id: int
) -> PayResult:
    """The stored first result; while the first call still runs, wait for it a while."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + IDEMPOTENT_WAIT_SECONDS
    current: orders.StoredResult | None = stored
    while current is not None and not current.done and loop.time() < deadline:
        await asyncio.sleep(0.05)
        async with db.transaction() as session:
            current = await orders.read_stored_result(
                session, user_id=user_id, operation=OPERATION, key=key
            )
    if current is None or not current.done:
        # The first call is still running (or died and reconciliation will settle it): the
        # order as it is now, with nothing charged by this call.
        return PayResult(order_id, [])
    return PayResult(current.order_id, _stored(current.errors))


# --- webhooks ------------------------------------------------------------------------------


async def handle_webhook(
    db: Database, provider: PaymentProvider, event: WebhookEvent, fulfilment: Fulfilment
) -> str:
    """Process a verified webhook event once: its id is recorded in the same transaction as
    its effect, so a replay changes nothing. Returns what happened (for the log)."""
    async with db.transaction() as session:
        recorded = await session.scalar(
            pg_insert(PaymentEvent)
            .values(
                provider=provider.name,
                event_id=event.id,
                type=event.type,
                payload=event.payload,
            )
            .on_conflict_do_nothing()
            .returning(PaymentEvent.event_id)
        )
        if recorded is None:
            return "replayed"
        payment_id = await session.scalar(
            select(Payment.id).where(
                Payment.provider == provider.name, Payment.reference == event.reference
            )
        )
        if payment_id is None:
            return "unknown payment"
        if event.type not in (CHARGE_SUCCEEDED, CHARGE_FAILED):
            return "ignored"
        # Trust, but verify: the provider's own record of the charge made for this
        # payment decides, not what the event says of it (a signed event naming another
        # payment's charge changes nothing).
        found = await provider.lookup(event.reference)
        if found is None or found.charge_id != event.charge_id:
            return "charge does not match"
        if event.type == CHARGE_SUCCEEDED and found.outcome is not ChargeOutcome.SUCCEEDED:
            return "charge not succeeded"
        result = found
        await settle(
            session, provider, payment_id=int(payment_id), result=result, fulfilment=fulfilment
        )
        return "processed"


# --- cancellation and refunds --------------------------------------------------------------


async def refund_paid_order(
    session: AsyncSession,
    provider: PaymentProvider,
    order: orders.LockedOrder,
    *,
    reason: str,
    template: str = "refund",
) -> None:
    """Refund a locked PAID order through its provider (idempotent there: a second refund of
    one charge changes nothing), then mark it refunded, in the caller's transaction."""
    payment = (
        await session.execute(
            select(Payment.id, Payment.charge_id, Payment.amount)
            .where(Payment.order_id == order.id, Payment.status == PaymentStatus.SUCCEEDED.value)
            .with_for_update()
        )
    ).first()
    # Our side first, the money last: anything that fails here (a constraint, the time
    # limit) rolls back before the provider is asked, so no charge is refunded for an order
    # that stays PAID. Only a failed COMMIT after the refund could still split them.
    if payment is not None:
        await session.execute(
            update(Payment)
            .where(Payment.id == payment.id)
            .values(
                status=PaymentStatus.REFUNDED.value,
                refunded_amount=payment.amount,
                updated_at=func.now(),
            )
        )
    await orders.mark_refunded(session, order, reason=reason, template=template)
    if payment is not None and payment.charge_id is not None:
        await provider.refund(charge_id=payment.charge_id, amount=payment.amount)


async def cancel_order(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    order_id: int,
    user_id: int | None,
    cutoff: timedelta,
    viewer_id: int | None = None,
    idempotency_key: str | None = None,
) -> int:
    """cancelOrder: a pending order is cancelled, a paid one refunded (before the cutoff).
    `user_id` None: staff, who may cancel anyone's order. With an idempotency key (kept per
    `viewer_id`) a repeat returns the first result and does nothing more; a failure stores
    nothing (the transaction rolls back)."""
    if idempotency_key is not None and viewer_id is not None:
        stored = await orders.claim_idempotency_key(
            session,
            user_id=viewer_id,
            operation="cancelOrder",
            key=idempotency_key,
            digest=orders.request_hash("cancelOrder", {"orderId": order_id}),
        )
        if stored is not None and stored.order_id is not None:
            return stored.order_id
    order = await orders.lock_order(session, order_id, user_id=user_id)
    if order is None:
        raise DomainError(C.NOT_FOUND, "No such order.", "orderId")
    await orders.check_cancellable(session, order, cutoff=cutoff)
    if order.status == OrderStatus.PENDING_PAYMENT:
        await orders.cancel_pending(session, order)
    else:
        await refund_paid_order(session, provider, order, reason="Cancelled at your request.")
    if idempotency_key is not None and viewer_id is not None:
        await orders.store_result(
            session,
            user_id=viewer_id,
            operation="cancelOrder",
            key=idempotency_key,
            order_id=order.id,
        )
    return order.id


async def refund_cancelled_showtimes(
    db: Database,
    provider_for: Mapping[str, PaymentProvider],
    *,
    showtime_id: int | None = None,
    batch: int = 20,
    max_batches: int | None = None,
) -> int:
    """Refund the PAID orders of cancelled showtimes, one order per transaction, in batches,
    and e-mail each customer. Resumable: an order is refunded and marked in one transaction
    (the provider's refund is idempotent per charge), so a process killed midway leaves every
    order either refunded or still PAID, and the next run (or the sweeper) finishes the
    rest. Returns how many orders it refunded."""
    done = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        async with db.transaction() as session:
            ids = await orders.paid_orders_of_cancelled_showtimes(
                session, limit=batch, showtime_id=showtime_id
            )
        if not ids:
            break
        for order_id in ids:
            async with db.transaction() as session:
                order = await orders.lock_order(session, order_id, skip_locked=True)
                if order is None or order.status != OrderStatus.PAID:
                    continue
                provider = await _provider_of(session, order.id, provider_for)
                await refund_paid_order(
                    session,
                    provider,
                    order,
                    reason="The showtime was cancelled.",
                    template="showtime_cancelled",
                )
                done += 1
    return done


async def finish_cancelled_showtimes(
    db: Database, provider_for: Mapping[str, PaymentProvider], *, limit: int = 100
) -> int:
    """The background work of cancelled showtimes (docs/orders.md, "cancelShowtime"):
    release the leftovers of each (pending orders, HELD seats: one transaction per
    showtime, `orders.release_cancelled_showtime`), then refund their PAID orders. Returns
    how many orders it refunded."""
    async with db.transaction() as session:
        showtimes = await orders.cancelled_showtimes_with_leftovers(session, limit=limit)
    for showtime_id in showtimes:
        async with db.transaction() as session:
            await orders.release_cancelled_showtime(session, showtime_id)
    return await refund_cancelled_showtimes(db, provider_for)


async def _provider_of(
    session: AsyncSession, order_id: int, provider_for: Mapping[str, PaymentProvider]
) -> PaymentProvider:
    name = await session.scalar(
        select(Payment.provider).where(
            Payment.order_id == order_id, Payment.status == PaymentStatus.SUCCEEDED.value
        )
    )
    if name is None:
        return next(iter(provider_for.values()))
    return provider_for[name]


# --- reconciliation ------------------------------------------------------------------------


async def reconcile(
    db: Database,
    provider_for: Mapping[str, PaymentProvider],
    fulfilment: Fulfilment,
    *,
    older_than: timedelta = timedelta(seconds=30),
    limit: int = 100,
) -> int:
    """Settle payments left PROCESSING for longer than `older_than` (the process died
    between charge and commit, or a webhook never came): ask the provider what became of
    the charge and settle it (tickets, or a refund when the order is no longer payable, or
    FAILED when nothing was charged). Returns how many it settled."""
    async with db.transaction() as session:
        rows = (
            await session.execute(
                select(Payment.id, Payment.provider, Payment.reference)
                .where(
                    Payment.status == PaymentStatus.PROCESSING.value,
                    Payment.updated_at <= func.now() - older_than,
                )
                .order_by(Payment.id)
                .limit(limit)
            )
        ).all()
    settled = 0
    for row in rows:
        provider = provider_for.get(row.provider)
        if provider is None:
            continue
        found = await provider.lookup(row.reference)
        async with db.transaction() as session:
            if found is None:
                # Never charged: the attempt simply failed.
                await _set_payment(
                    session,
                    int(row.id),
                    PaymentStatus.FAILED,
                    ChargeResult(ChargeOutcome.DECLINED, None, "not_charged"),
                )
            elif found.outcome is ChargeOutcome.PENDING:
                continue
            else:
                await settle(
                    session, provider, payment_id=int(row.id), result=found, fulfilment=fulfilment
                )
        settled += 1
    return settled
