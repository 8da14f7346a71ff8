"""cancelOrder (pending, paid before and after the cutoff, a used ticket), expiry by the
sweeper, and checkInTicket (QR, booking reference, forged, again, cancelled, wrong day)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text

from db.session import Database
from graph.booking.sweeper import sweep_once
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_bookable_showtime, create_user
from tests.orders.flows import (
    CANCEL,
    CHECK_IN,
    ME,
    ORDER,
    buy,
    checkout,
    gid,
    hold,
    seat_states,
)


async def _rows(db: Database, sql: str, **params: Any) -> list[Any]:
    async with db.transaction() as session:
        return list((await session.execute(text(sql), params)).all())


async def _cancel(gql: GraphQLClient, token: str, order_id: str) -> dict[str, Any]:
    data = await gql.execute(CANCEL, {"input": {"orderId": order_id}}, token=token)
    payload: dict[str, Any] = data["cancelOrder"]
    return payload


async def test_cancel_pending_order_releases_seats(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    token = gql.token_for(await create_user(db))
    order = (await checkout(gql, token, await hold(gql, token, show.id, show.seat_ids[:2])))[
        "order"
    ]
    out = await _cancel(gql, token, order["id"])
    assert out["errors"] == []
    assert out["order"]["status"] == "CANCELLED"
    assert out["order"]["cancelledAt"] is not None
    states = await seat_states(gql, None, show.id)
    assert states[gid("Seat", show.seat_ids[0])][0] == "AVAILABLE"
    again = await _cancel(gql, token, order["id"])
    assert [e["code"] for e in again["errors"]] == ["ORDER_NOT_CANCELLABLE"]


async def test_cancel_paid_order_refunds(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db, starts_in=timedelta(hours=3))
    user = await create_user(db, email="refund@example.com")
    token = gql.token_for(user)
    bob = gql.token_for(await create_user(db))
    order = await buy(gql, token, show.id, show.seat_ids[:2])
    # Someone else cannot cancel it (it does not exist for them).
    assert [e["code"] for e in (await _cancel(gql, bob, order["id"]))["errors"]] == ["NOT_FOUND"]
    out = await _cancel(gql, token, order["id"])
    assert out["errors"] == []
    refunded = out["order"]
    assert refunded["status"] == "REFUNDED"
    assert {t["status"] for t in refunded["tickets"]} == {"CANCELLED"}
    assert [p["status"] for p in refunded["payments"]] == ["REFUNDED"]
    states = await seat_states(gql, None, show.id)
    assert states[gid("Seat", show.seat_ids[0])][0] == "AVAILABLE"
    me = (await gql.execute(ME, {"first": 5}, token=token))["me"]
    assert me["loyaltyPoints"] == 0
    assert me["totalSpent"]["amount"] == "0.00"
    assert [tuple(r) for r in await _rows(db, "SELECT status FROM sandbox_charges")] == [
        ("refunded",)
    ]
    mails = await _rows(
        db, "SELECT template FROM outbox_messages WHERE recipient = 'refund@example.com'"
    )
    assert sorted(r[0] for r in mails) == ["order_confirmation", "refund"]
    # The seats can be bought again.
    assert (await buy(gql, bob, show.id, show.seat_ids[:1]))["status"] == "PAID"


async def test_no_cancellation_after_the_cutoff_or_a_used_ticket(
    gql: GraphQLClient, db: Database
) -> None:
    late_show = await create_bookable_showtime(db, starts_in=timedelta(minutes=30))
    token = gql.token_for(await create_user(db))
    staff = gql.token_for(await create_user(db, role="MANAGER"))
    late = await buy(gql, token, late_show.id, late_show.seat_ids[:1])
    out = await _cancel(gql, token, late["id"])
    assert [e["code"] for e in out["errors"]] == ["ORDER_NOT_CANCELLABLE"]
    assert "60 minutes" in out["errors"][0]["message"]
    # A used ticket: checked in (the window is open 30 minutes before), then not cancellable.
    checked = await gql.execute(
        CHECK_IN, {"input": {"qrPayload": late["tickets"][0]["qrPayload"]}}, token=staff
    )
    assert checked["checkInTicket"]["errors"] == []
    out = await _cancel(gql, staff, late["id"])
    assert [e["code"] for e in out["errors"]] == ["ORDER_NOT_CANCELLABLE"]


async def test_expired_order_is_released_by_the_sweeper(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    token = gql.token_for(await create_user(db))
    order = (await checkout(gql, token, await hold(gql, token, show.id, show.seat_ids[:2])))[
        "order"
    ]
    await _rows(db, "UPDATE orders SET expires_at = now() - interval '1 s' RETURNING id")
    await _rows(db, "UPDATE seat_occupancy SET expires_at = now() - interval '1 s' RETURNING id")
    await sweep_once(db)
    found = await gql.execute(ORDER, {"id": order["id"]}, token=token)
    assert found["order"]["status"] == "EXPIRED"
    assert await _rows(db, "SELECT id FROM seat_occupancy") == []
    # Each seat change was announced: the showtime's sequence moved.
    assert (await _rows(db, "SELECT seat_sequence FROM showtimes WHERE id = :id", id=show.id))[0][
        0
    ] >= 2


async def test_check_in(gql: GraphQLClient, db: Database, settings: Settings) -> None:
    show = await create_bookable_showtime(db, starts_in=timedelta(minutes=20))
    token = gql.token_for(await create_user(db))
    staff = gql.token_for(await create_user(db, role="MANAGER"))
    order = await buy(gql, token, show.id, show.seat_ids[:3])
    first, second, third = order["tickets"]

    async def scan(**given: str) -> dict[str, Any]:
        data = await gql.execute(CHECK_IN, {"input": given}, token=staff)
        result: dict[str, Any] = data["checkInTicket"]
        return result

    ok = await scan(qrPayload=first["qrPayload"])
    assert ok["errors"] == []
    assert ok["ticket"]["status"] == "USED"
    assert ok["ticket"]["checkedInAt"] is not None
    twice = await scan(qrPayload=first["qrPayload"])
    assert [e["code"] for e in twice["errors"]] == ["ALREADY_CHECKED_IN"]
    assert twice["errors"][0]["checkedInAt"] == ok["ticket"]["checkedInAt"]
    assert twice["ticket"]["id"] == first["id"]
    # By booking reference, any case.
    by_ref = await scan(bookingReference=second["bookingReference"].lower())
    assert by_ref["errors"] == []
    assert (await scan(bookingReference="AAAAAAAA"))["errors"][0]["code"] == "NOT_FOUND"
    # A forged payload: another seat in a correctly shaped payload, or any altered byte.
    payload = third["qrPayload"]
    forged = payload.replace(f".{show.seat_ids[2]}.", f".{show.seat_ids[5]}.", 1)
    assert forged != payload
    for bad in (forged, payload[:-2] + ("AA" if not payload.endswith("AA") else "BB"), "x"):
        assert [e["code"] for e in (await scan(qrPayload=bad))["errors"]] == ["INVALID_TICKET"]
    # A payload signed with our key for a ticket that does not match (seat of another).
    signer = settings.ticket_signer()
    ticket_pk = int(
        (
            await _rows(
                db,
                "SELECT id FROM tickets WHERE booking_reference = :r",
                r=third["bookingReference"],
            )
        )[0][0]
    )
    mismatched = signer.sign(ticket_pk, show.id, show.seat_ids[0])
    assert [e["code"] for e in (await scan(qrPayload=mismatched))["errors"]] == ["INVALID_TICKET"]
    assert (await scan(qrPayload=signer.sign(ticket_pk, show.id, show.seat_ids[2])))["errors"] == []
    # Neither or both: a validation error.
    both = await scan(qrPayload=payload, bookingReference=third["bookingReference"])
    assert [e["code"] for e in both["errors"]] == ["VALIDATION_ERROR"]


async def test_check_in_refuses_cancelled_and_other_days(gql: GraphQLClient, db: Database) -> None:
    tomorrow = await create_bookable_showtime(db, starts_in=timedelta(days=1))
    token = gql.token_for(await create_user(db))
    staff = gql.token_for(await create_user(db, role="ADMIN"))
    order = await buy(gql, token, tomorrow.id, tomorrow.seat_ids[:2])
    wrong = await gql.execute(
        CHECK_IN, {"input": {"qrPayload": order["tickets"][0]["qrPayload"]}}, token=staff
    )
    assert [e["code"] for e in wrong["checkInTicket"]["errors"]] == ["WRONG_SHOWTIME"]
    assert wrong["checkInTicket"]["ticket"]["status"] == "VALID"
    await _cancel(gql, token, order["id"])
    cancelled = await gql.execute(
        CHECK_IN,
        {"input": {"bookingReference": order["tickets"][1]["bookingReference"]}},
        token=staff,
    )
    assert [e["code"] for e in cancelled["checkInTicket"]["errors"]] == ["TICKET_CANCELLED"]


async def test_cancel_with_an_idempotency_key_returns_the_first_result(
    gql: GraphQLClient, db: Database
) -> None:
    show = await create_bookable_showtime(db, starts_in=timedelta(hours=3))
    token = gql.token_for(await create_user(db))
    order = await buy(gql, token, show.id, show.seat_ids[:1])
    variables = {"input": {"orderId": order["id"], "idempotencyKey": "cancel-1"}}
    first = (await gql.execute(CANCEL, variables, token=token))["cancelOrder"]
    again = (await gql.execute(CANCEL, variables, token=token))["cancelOrder"]
    assert first["errors"] == again["errors"] == []
    assert again["order"]["status"] == "REFUNDED"
    # Without the key a second cancellation is refused; with another order, the key is reused.
    plain = await _cancel(gql, token, order["id"])
    assert [e["code"] for e in plain["errors"]] == ["ORDER_NOT_CANCELLABLE"]
    other = await buy(gql, token, show.id, show.seat_ids[1:2])
    reused = await gql.execute(
        CANCEL, {"input": {"orderId": other["id"], "idempotencyKey": "cancel-1"}}, token=token
    )
    assert [e["code"] for e in reused["cancelOrder"]["errors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    assert [
        tuple(r)
        for r in await _rows(db, "SELECT count(*) FROM sandbox_charges WHERE status = 'refunded'")
    ] == [(1,)]
