"""Text messages of orders through the real app and PostgreSQL: the opt-in on the profile,
the confirmation texted at payment (payOrder's SQL settle and the webhook's Python fulfil
write one row between them), the showtime-cancelled notice, and the server's own SMS
sender writing them to <data_dir>/sms/."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from db.outbox.sms import FileSmsProvider
from db.outbox.worker import RoundResult, SmsSender
from db.payments import actions as payment_actions
from db.payments import webhooks
from db.session import Database
from graph.app import create_app
from graph.orders.services import payments_of
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_bookable_showtime, create_user
from tests.orders.flows import buy, checkout, gid, hold, pay
from tests.realtime.harness import serve_in_process

PROFILE = """
mutation ($input: UpdateProfileInput!) {
  updateProfile(input: $input) { user { phone smsOptIn } errors { code field message } }
}
"""
DELETE_ME = """
mutation ($input: DeleteMyAccountInput!) {
  deleteMyAccount(input: $input) { deletedUserId errors { code } }
}
"""
CANCEL_SHOWTIME = """
mutation ($input: CancelShowtimeInput!) {
  cancelShowtime(input: $input) { showtime { status } errors { code } }
}
"""
PASSWORD = "correct-horse-battery"


async def _rows(db: Database, sql: str, **params: Any) -> list[Any]:
    async with db.transaction() as session:
        return list((await session.execute(text(sql), params)).all())


async def _sms_rows(db: Database) -> list[tuple[str, str, str]]:
    return [
        tuple(r)
        for r in await _rows(
            db,
            "SELECT template, recipient, dedupe_key FROM outbox_messages "
            "WHERE channel = 'SMS' ORDER BY id",
        )
    ]


async def _profile(gql: GraphQLClient, token: str, **values: Any) -> dict[str, Any]:
    data = await gql.execute(PROFILE, {"input": values}, token=token)
    result: dict[str, Any] = data["updateProfile"]
    return result


async def _opted_in(gql: GraphQLClient, db: Database, phone: str) -> str:
    token = gql.token_for(await create_user(db, phone=phone))
    out = await _profile(gql, token, smsOptIn=True)
    assert out["errors"] == []
    assert out["user"] == {"phone": phone, "smsOptIn": True}
    return token


async def _send(db: Database, directory: Path) -> RoundResult:
    return await SmsSender(db, FileSmsProvider(directory)).run_once()


def _texts(directory: Path) -> list[str]:
    return [p.read_text() for p in sorted(directory.glob("*.txt"))] if directory.exists() else []


async def test_an_opted_in_buyer_gets_one_text_with_the_order(
    gql: GraphQLClient, db: Database, tmp_path: Path
) -> None:
    show = await create_bookable_showtime(db)
    token = await _opted_in(gql, db, "+33612345678")
    order = await buy(gql, token, show.id, show.seat_ids[:2])
    order_id = int((await _rows(db, "SELECT id FROM orders"))[0][0])
    assert await _sms_rows(db) == [
        ("order_confirmation", "+33612345678", f"order-confirmation-sms:{order_id}")
    ]
    # The e-mail is there too, under its own key.
    assert len(await _rows(db, "SELECT id FROM outbox_messages WHERE channel = 'EMAIL'")) == 1

    assert (await _send(db, tmp_path)).sent == 1
    assert (await _send(db, tmp_path)).claimed == 0
    [message] = _texts(tmp_path)
    assert "To: +33612345678" in message
    assert f"order {order['number']}" in message
    # Two seats: one booking reference shown, "+1" for the other.
    references = [t["bookingReference"] for t in order["tickets"]]
    assert sum(reference in message for reference in references) == 1
    assert " +1." in message
    assert "Segments: 1" in message


async def test_no_text_without_the_opt_in(gql: GraphQLClient, db: Database, tmp_path: Path) -> None:
    show = await create_bookable_showtime(db)
    token = gql.token_for(await create_user(db, phone="+46701234567"))
    await buy(gql, token, show.id, show.seat_ids[:1])
    assert await _sms_rows(db) == []
    assert (await _send(db, tmp_path)).claimed == 0
    assert _texts(tmp_path) == []


async def test_the_opt_in_needs_a_phone_and_goes_with_it(gql: GraphQLClient, db: Database) -> None:
    user = await create_user(db)
    token = gql.token_for(user)
    refused = await _profile(gql, token, smsOptIn=True)
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [
        ("VALIDATION_ERROR", "smsOptIn")
    ]
    # A phone and the opt-in in one change; removing the phone opts out.
    both = await _profile(gql, token, phone="+12015550123", smsOptIn=True)
    assert both["user"] == {"phone": "+12015550123", "smsOptIn": True}
    cleared = await _profile(gql, token, phone=None)
    assert cleared["user"] == {"phone": None, "smsOptIn": False}
    # Opting in while removing the phone is refused as a whole.
    await _profile(gql, token, phone="+12015550123")
    contradiction = await _profile(gql, token, phone="", smsOptIn=True)
    assert [e["field"] for e in contradiction["errors"]] == ["smsOptIn"]
    # The database keeps the rule whoever writes.
    with pytest.raises(IntegrityError, match="ck_users_sms_opt_in_phone"):
        await _rows(
            db, "UPDATE users SET phone = NULL, sms_opt_in = true WHERE id = :id", id=user.id
        )
    # Erasing the account clears it.
    assert (await _profile(gql, token, smsOptIn=True))["user"]["smsOptIn"] is True
    deleted = await gql.execute(DELETE_ME, {"input": {"password": PASSWORD}}, token=token)
    assert deleted["deleteMyAccount"]["errors"] == []
    assert await _rows(db, "SELECT phone, sms_opt_in FROM users WHERE id = :id", id=user.id) == [
        (None, False)
    ]


async def test_the_webhook_and_its_replay_make_one_text(
    gql: GraphQLClient, db: Database, settings: Settings, tmp_path: Path
) -> None:
    show = await create_bookable_showtime(db)
    token = await _opted_in(gql, db, "+33612345679")
    order = (await checkout(gql, token, await hold(gql, token, show.id, show.seat_ids[:1])))[
        "order"
    ]
    assert (await pay(gql, token, order["id"], "tok_async"))["errors"] == []
    assert await _sms_rows(db) == []  # not paid yet
    [charge] = await _rows(
        db, "UPDATE sandbox_charges SET status = 'succeeded' RETURNING id, reference"
    )
    body = (
        f'{{"id": "evt_{charge.id}", "type": "charge.succeeded", "data": {{"object": '
        f'{{"id": "{charge.id}", "reference": "{charge.reference}"}}}}}}'
    ).encode()
    for expected in ("processed", "replayed"):
        signature = webhooks.sign(body, settings.webhook_secret(), int(time.time()))
        response = await gql.http.post(
            "/webhooks/payments/sandbox",
            content=body,
            headers={webhooks.HEADER: signature, "Content-Type": "application/json"},
        )
        assert response.json()["outcome"] == expected
    # Paying again (a client retrying) changes nothing either.
    await pay(gql, token, order["id"], "tok_visa")
    assert [row[0] for row in await _sms_rows(db)] == ["order_confirmation"]
    assert (await _send(db, tmp_path)).sent == 1
    assert len(_texts(tmp_path)) == 1


async def test_a_cancelled_showtime_texts_the_opted_in_buyers(
    gql: GraphQLClient, db: Database, settings: Settings, tmp_path: Path
) -> None:
    show = await create_bookable_showtime(db)
    texted = await _opted_in(gql, db, "+33612345670")
    silent = gql.token_for(await create_user(db, phone="+33612345671"))
    paid = await buy(gql, texted, show.id, show.seat_ids[:1])
    await buy(gql, silent, show.id, show.seat_ids[1:2])
    assert (await _send(db, tmp_path / "before")).sent == 1  # the confirmation

    manager = gql.token_for(await create_user(db, role="MANAGER"))
    cancelled = await gql.execute(
        CANCEL_SHOWTIME, {"input": {"id": gid("Showtime", show.id)}}, token=manager
    )
    assert cancelled["cancelShowtime"]["errors"] == []
    providers = payments_of({}, db, settings).providers
    await payment_actions.finish_cancelled_showtimes(db, providers)
    assert [(t, r) for t, r, _ in await _sms_rows(db)] == [
        ("order_confirmation", "+33612345670"),
        ("showtime_cancelled", "+33612345670"),
    ]
    assert (await _send(db, tmp_path)).sent == 1
    [notice] = _texts(tmp_path)
    assert "is cancelled" in notice
    assert f"Order {paid['number']}: {paid['total']['amount']}" in notice
    # The background work again (another process, a retry) texts no one twice.
    await payment_actions.finish_cancelled_showtimes(db, providers)
    assert len(await _sms_rows(db)) == 2


async def test_the_server_texts_by_its_own_sender(
    committed_db: Database, settings: Settings, tmp_path: Path
) -> None:
    """The whole path in a running server: the start-up hook's SMS sender writes the file."""
    live = settings.model_copy(update={"data_dir": tmp_path, "outbox_interval_seconds": 0.05})
    show = await create_bookable_showtime(committed_db)
    async with (
        serve_in_process(create_app(live, database=committed_db)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        gql = GraphQLClient(http, live)
        token = await _opted_in(gql, committed_db, "+33612345672")
        order = await buy(gql, token, show.id, show.seat_ids[:1])
        deadline = time.monotonic() + 10
        while not _texts(tmp_path / "sms"):
            assert time.monotonic() < deadline, "no text message written"
            await asyncio.sleep(0.05)
    [message] = _texts(tmp_path / "sms")
    assert f"order {order['number']}" in message
    assert [r[0] for r in await _rows(committed_db, "SELECT status FROM outbox_messages")] == [
        "SENT",
        "SENT",
    ]
