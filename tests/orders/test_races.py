"""The sale under real commits and concurrency: 50 customers racing for overlapping seats,
two payments with one idempotency key, two door scanners, cancelShowtime refunding many
orders killed midway and resumed, reconciliation after a process died between charge and
commit, and the confirmation e-mail received by a real SMTP server."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from db.orders import actions as order_actions
from db.orders.actions import DOUBLE_SOLD_SEATS
from db.outbox.transport import SmtpConfig, SmtpTransport
from db.outbox.worker import EmailSender
from db.payments import actions as payment_actions
from db.payments.providers import ChargeResult
from db.session import Database
from graph.orders.services import payments_of
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_bookable_showtime, create_user
from tests.orders.flows import CANCEL, CHECK_IN, HOLD, ORDER, buy, checkout, gid, hold, pay
from tests.outbox.conftest import SmtpServer


async def _rows(db: Database, sql: str, **params: Any) -> list[Any]:
    async with db.transaction() as session:
        return list((await session.execute(text(sql), params)).all())


async def _consistent(db: Database) -> None:
    """No seat with two live tickets; every PAID order has one VALID/USED ticket per ticket
    line and one SUCCEEDED payment; every SOLD seat belongs to a PAID order."""
    async with db.transaction() as session:
        assert (await session.execute(DOUBLE_SOLD_SEATS)).all() == []
    bad = await _rows(
        db,
        """
        SELECT o.id FROM orders o
        WHERE o.status = 'PAID' AND (
          (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id AND l.kind = 'TICKET')
          <> (SELECT count(*) FROM tickets t WHERE t.order_id = o.id
              AND t.status IN ('VALID', 'USED'))
          OR (SELECT count(*) FROM payments p WHERE p.order_id = o.id
              AND p.status = 'SUCCEEDED') <> 1)
        """,
    )
    assert bad == []
    orphans = await _rows(
        db,
        """
        SELECT so.id FROM seat_occupancy so LEFT JOIN orders o ON o.id = so.order_id
        WHERE so.status = 'SOLD' AND (o.id IS NULL OR o.status <> 'PAID')
        """,
    )
    assert orphans == []


@pytest.mark.slow
async def test_fifty_customers_race_for_overlapping_seats(
    committed_gql: GraphQLClient, committed_db: Database
) -> None:
    gql = committed_gql
    show = await create_bookable_showtime(committed_db, rows=2, seats_per_row=10)
    tokens = [gql.token_for(await create_user(committed_db)) for _ in range(50)]
    rng = random.Random(7)

    async def customer(token: str) -> str:
        seats = rng.sample(show.seat_ids[:12], 2)
        data = await gql.execute(
            HOLD,
            {
                "input": {
                    "showtimeId": gid("Showtime", show.id),
                    "seatIds": [gid("Seat", s) for s in seats],
                }
            },
            token=token,
        )
        if data["holdSeats"]["errors"]:
            return data["holdSeats"]["errors"][0]["code"]
        out = await checkout(gql, token, data["holdSeats"]["hold"]["id"])
        if out["errors"]:
            return str(out["errors"][0]["code"])
        paid = await pay(gql, token, out["order"]["id"], idempotencyKey="once")
        return "PAID" if not paid["errors"] else str(paid["errors"][0]["code"])

    outcomes = await asyncio.gather(*(customer(t) for t in tokens))
    assert set(outcomes) <= {"PAID", "SEAT_UNAVAILABLE"}
    paid = outcomes.count("PAID")
    assert 1 <= paid <= 6  # 12 seats, 2 per order
    sold = await _rows(committed_db, "SELECT count(*) FROM tickets WHERE status = 'VALID'")
    assert sold[0][0] == 2 * paid
    await _consistent(committed_db)


async def test_two_payments_with_one_key_charge_once(
    committed_gql: GraphQLClient, committed_db: Database
) -> None:
    gql = committed_gql
    show = await create_bookable_showtime(committed_db)
    token = gql.token_for(await create_user(committed_db))
    order = (await checkout(gql, token, await hold(gql, token, show.id, show.seat_ids[:2])))[
        "order"
    ]
    results = await asyncio.gather(
        *(pay(gql, token, order["id"], "tok_visa", idempotencyKey="same") for _ in range(2))
    )
    assert [r["errors"] for r in results] == [[], []]
    assert {r["order"]["status"] for r in results} == {"PAID"}
    assert (await _rows(committed_db, "SELECT count(*) FROM sandbox_charges"))[0][0] == 1
    # Without a key, racing payments still cannot both charge: one live payment per order.
    other = (await checkout(gql, token, await hold(gql, token, show.id, show.seat_ids[2:3])))[
        "order"
    ]
    racing = await asyncio.gather(*(pay(gql, token, other["id"]) for _ in range(3)))
    assert sum(1 for r in racing if not r["errors"]) == 1
    assert (await _rows(committed_db, "SELECT count(*) FROM sandbox_charges"))[0][0] == 2
    await _consistent(committed_db)


async def test_two_scanners_race(committed_gql: GraphQLClient, committed_db: Database) -> None:
    gql = committed_gql
    show = await create_bookable_showtime(committed_db, starts_in=timedelta(minutes=10))
    token = gql.token_for(await create_user(committed_db))
    scanners = [gql.token_for(await create_user(committed_db, role="MANAGER")) for _ in range(2)]
    order = await buy(gql, token, show.id, show.seat_ids[:1])
    payload = order["tickets"][0]["qrPayload"]
    results = await asyncio.gather(
        *(gql.execute(CHECK_IN, {"input": {"qrPayload": payload}}, token=s) for s in scanners)
    )
    codes = sorted(
        r["checkInTicket"]["errors"][0]["code"] if r["checkInTicket"]["errors"] else "OK"
        for r in results
    )
    assert codes == ["ALREADY_CHECKED_IN", "OK"]


CANCEL_SHOWTIME = """
mutation ($input: CancelShowtimeInput!) {
  cancelShowtime(input: $input) { showtime { status } errors { code } }
}
"""


class _Crash(Exception):
    pass


async def test_cancel_showtime_refunds_every_order_once_even_after_a_crash(
    committed_gql: GraphQLClient, committed_db: Database, settings: Settings
) -> None:
    gql = committed_gql
    show = await create_bookable_showtime(committed_db, rows=2, seats_per_row=10)
    customers = [gql.token_for(await create_user(committed_db)) for _ in range(12)]
    for i, token in enumerate(customers):
        await buy(gql, token, show.id, show.seat_ids[i : i + 1])
    pending_token = gql.token_for(await create_user(committed_db))
    pending = (
        await checkout(
            gql, pending_token, await hold(gql, pending_token, show.id, [show.seat_ids[15]])
        )
    )["order"]
    # The process "dies" after the 5th refund: the provider call raises from then on.
    payments = payments_of({}, committed_db, settings)
    sandbox = payments.sandbox
    real_refund = sandbox.refund
    calls = 0

    async def failing_refund(**kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls > 5:
            raise _Crash
        await real_refund(**kwargs)

    sandbox.refund = failing_refund  # type: ignore[method-assign]
    async with committed_db.transaction() as session:
        from db.showtimes.actions import cancel_showtime

        await cancel_showtime(session, show.id)
    async with committed_db.transaction() as session:
        released = await order_actions.release_cancelled_showtime(session, show.id)
    assert released.refunds_pending == 12
    with pytest.raises(_Crash):
        await payment_actions.refund_cancelled_showtimes(
            committed_db, payments.providers, showtime_id=show.id, batch=4
        )
    statuses = await _rows(committed_db, "SELECT status, count(*) FROM orders GROUP BY 1")
    assert dict(statuses) == {"REFUNDED": 5, "PAID": 7, "CANCELLED": 1}
    # Resumed (the background work does this on its own): the rest, none twice.
    sandbox.refund = real_refund  # type: ignore[method-assign]
    assert await payment_actions.refund_cancelled_showtimes(committed_db, payments.providers) == 7
    assert await payment_actions.refund_cancelled_showtimes(committed_db, payments.providers) == 0
    statuses = await _rows(committed_db, "SELECT status, count(*) FROM orders GROUP BY 1")
    assert dict(statuses) == {"REFUNDED": 12, "CANCELLED": 1}
    assert (
        await _rows(committed_db, "SELECT count(*) FROM sandbox_charges WHERE status = 'refunded'")
    )[0][0] == 12
    mails = await _rows(
        committed_db,
        "SELECT count(*) FROM outbox_messages WHERE template = 'showtime_cancelled'",
    )
    assert mails[0][0] == 12
    found = await gql.execute(ORDER, {"id": pending["id"]}, token=pending_token)
    assert found["order"]["status"] == "CANCELLED"
    # And through the API: cancelling again is idempotent.
    staff = gql.token_for(await create_user(committed_db, role="MANAGER"))
    again = await gql.execute(
        CANCEL_SHOWTIME, {"input": {"id": gid("Showtime", show.id)}}, token=staff
    )
    assert again["cancelShowtime"]["showtime"]["status"] == "CANCELLED"


async def test_reconciliation_after_a_crash_between_charge_and_commit(
    committed_gql: GraphQLClient, committed_db: Database, settings: Settings
) -> None:
    gql = committed_gql
    show = await create_bookable_showtime(committed_db)
    user = await create_user(committed_db)
    token = gql.token_for(user)
    payments = payments_of({}, committed_db, settings)

    async def died(seats: list[int], *, charged: bool) -> int:
        """payOrder's step 1 ran (and step 2, the charge, if `charged`); the process died
        before step 3 committed."""
        order = (await checkout(gql, token, await hold(gql, token, show.id, seats)))["order"]
        assert order["status"] == "PENDING_PAYMENT"
        order_pk = int((await _rows(committed_db, "SELECT max(id) FROM orders"))[0][0])
        reference = f"pay_test_{order_pk}"
        begun = await payment_actions.begin_payment(
            committed_db,
            user_id=user.id,
            order_id=order_pk,
            provider="sandbox",
            reference=reference,
        )
        assert begun[0] == "OK"
        if charged:
            result = await payments.sandbox.charge(
                reference=reference, amount=begun[2], currency="USD", token="tok_visa"
            )
            assert isinstance(result, ChargeResult)
        return order_pk

    payable = await died(show.seat_ids[:1], charged=True)
    expired = await died(show.seat_ids[1:2], charged=True)
    never = await died(show.seat_ids[2:3], charged=False)
    await _rows(
        committed_db, "UPDATE orders SET expires_at = now() WHERE id = :i RETURNING id", i=expired
    )
    settled = await payment_actions.reconcile(
        committed_db, payments.providers, payments.fulfilment, older_than=timedelta(0)
    )
    assert settled == 3
    states = {
        int(i): (s, p)
        for i, s, p in await _rows(
            committed_db,
            "SELECT o.id, o.status, p.status FROM orders o JOIN payments p ON p.order_id = o.id",
        )
    }
    assert states[payable] == ("PAID", "SUCCEEDED")
    assert states[expired] == ("PENDING_PAYMENT", "REFUNDED")
    assert states[never] == ("PENDING_PAYMENT", "FAILED")
    ledger = [r[0] for r in await _rows(committed_db, "SELECT status FROM sandbox_charges")]
    assert sorted(ledger) == ["refunded", "succeeded"]
    # Nothing left to settle.
    assert (
        await payment_actions.reconcile(
            committed_db, payments.providers, payments.fulfilment, older_than=timedelta(0)
        )
        == 0
    )
    await _consistent(committed_db)


async def test_confirmation_email_arrives_by_smtp(
    committed_gql: GraphQLClient,
    committed_db: Database,
    smtp_server: SmtpServer,
    settings: Settings,
) -> None:
    gql = committed_gql
    show = await create_bookable_showtime(committed_db)
    user = await create_user(committed_db, email="mail@example.com")
    token = gql.token_for(user)
    order = await buy(gql, token, show.id, show.seat_ids[:2])
    transport = SmtpTransport(
        SmtpConfig.from_url(f"smtp://127.0.0.1:{smtp_server.port}"), timeout=5
    )
    # As the server's sender: the tickets' QR codes are signed when the e-mail is sent.
    sender = EmailSender(
        committed_db,
        transport,
        mail_from="Marquee <tickets@marquee.localhost>",
        sign=settings.ticket_signer().sign,
    )
    await sender.run_once()
    (received,) = await smtp_server.wait_for(1)
    assert received.rcpt_tos == ["mail@example.com"]
    message = received.message
    assert order["number"] in str(message["Subject"])
    text_part = message.get_body(preferencelist=("plain",))
    assert text_part is not None
    body = text_part.get_content()
    for ticket in order["tickets"]:
        assert ticket["bookingReference"] in body
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 2
    stored = await _rows(
        committed_db, "SELECT message_id FROM outbox_messages WHERE recipient = 'mail@example.com'"
    )
    assert [r[0] for r in stored] == [received.message_id]
    assert Decimal(order["total"]["amount"]) == Decimal("20.00")


async def test_check_in_racing_a_cancellation_ends_one_way(
    committed_db: Database, settings: Settings
) -> None:
    """Check-in opening before the cancellation cutoff: a scan and a cancellation of the same
    order at once end either checked in and paid, or refunded with the ticket cancelled;
    never a refund of an order that stays paid."""
    import httpx

    from graph.app import create_app

    wide = settings.model_copy(update={"check_in_opens_minutes": 240})
    app = create_app(wide, database=committed_db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        gql = GraphQLClient(http, wide)
        show = await create_bookable_showtime(
            committed_db, rows=2, seats_per_row=10, starts_in=timedelta(minutes=120)
        )
        staff = gql.token_for(await create_user(committed_db, role="MANAGER"))
        for seat in show.seat_ids[:8]:
            token = gql.token_for(await create_user(committed_db))
            order = await buy(gql, token, show.id, [seat])
            scan, cancel = await asyncio.gather(
                gql.raw(
                    CHECK_IN,
                    {"input": {"bookingReference": order["tickets"][0]["bookingReference"]}},
                    staff,
                ),
                gql.raw(CANCEL, {"input": {"orderId": order["id"]}}, token),
            )
            assert "errors" not in scan
            assert "errors" not in cancel
            (state,) = await _rows(
                committed_db,
                """
                SELECT o.status, t.status, p.status, c.status FROM orders o
                JOIN tickets t ON t.order_id = o.id JOIN payments p ON p.order_id = o.id
                JOIN sandbox_charges c ON c.reference = p.reference
                WHERE o.number = :n
                """,
                n=order["number"],
            )
            assert tuple(state) in {
                ("PAID", "USED", "SUCCEEDED", "succeeded"),
                ("REFUNDED", "CANCELLED", "REFUNDED", "refunded"),
            }
    await _consistent(committed_db)
