"""The payment webhook: good, bad, stale and replayed signatures; tok_async confirmed by the
sandbox's webhook, through the ASGI app and through a real server over HTTP; a confirmation
for an order that expired meanwhile is refunded."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from sqlalchemy import text

from db.payments import webhooks
from db.session import Database, capture_statements
from graph.app import create_app
from graph.orders.services import payments_of
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_bookable_showtime, create_user
from tests.orders.flows import ORDER, checkout, hold, pay
from tests.realtime.harness import free_port, serve_in_process

URL = "/webhooks/payments/sandbox"


async def _rows(db: Database, sql: str, **params: Any) -> list[Any]:
    async with db.transaction() as session:
        return list((await session.execute(text(sql), params)).all())


async def _pending_async_order(gql: GraphQLClient, db: Database) -> tuple[str, str]:
    show = await create_bookable_showtime(db)
    token = gql.token_for(await create_user(db))
    order = (await checkout(gql, token, await hold(gql, token, show.id, show.seat_ids[:2])))[
        "order"
    ]
    out = await pay(gql, token, order["id"], "tok_async")
    assert out["errors"] == []
    assert out["order"]["status"] == "PENDING_PAYMENT"
    assert [p["status"] for p in out["order"]["payments"]] == ["PROCESSING"]
    return token, order["id"]


def _event(charge: Any, event_id: str | None = None, kind: str = "charge.succeeded") -> bytes:
    return json.dumps(
        {
            "id": event_id or f"evt_{charge.id}",
            "type": kind,
            "data": {"object": {"id": charge.id, "reference": charge.reference}},
        }
    ).encode()


async def _post(
    gql: GraphQLClient,
    body: bytes,
    secret: str,
    *,
    at: float | None = None,
    header: str | None = None,
) -> httpx.Response:
    signature = (
        header if header is not None else webhooks.sign(body, secret, int(at or time.time()))
    )
    return await gql.http.post(
        URL, content=body, headers={webhooks.HEADER: signature, "Content-Type": "application/json"}
    )


async def test_signatures_and_replays(gql: GraphQLClient, db: Database, settings: Settings) -> None:
    token, order_id = await _pending_async_order(gql, db)
    (charge,) = await _rows(db, "SELECT id, reference FROM sandbox_charges")
    body = _event(charge)
    secret = settings.webhook_secret()
    # Refused, and nothing changes: no header, a wrong secret, a stale or future timestamp,
    # an altered body.
    assert (await _post(gql, body, secret, header="")).status_code == 400
    assert (await _post(gql, body, "not-the-secret")).status_code == 400
    assert (await _post(gql, body, secret, at=time.time() - 301)).status_code == 400
    assert (await _post(gql, body, secret, at=time.time() + 301)).status_code == 400
    good_header = webhooks.sign(body, secret, int(time.time()))
    assert (await _post(gql, body + b" ", secret, header=good_header)).status_code == 400
    assert (await _post(gql, b"not json", secret)).status_code == 400
    found = await gql.execute(ORDER, {"id": order_id}, token=token)
    assert found["order"]["status"] == "PENDING_PAYMENT"
    # Before the gateway has confirmed the charge, an event claiming it changes nothing.
    early = await _post(gql, _event(charge, "evt_early"), secret)
    assert early.json()["outcome"] == "charge not succeeded"
    await _rows(db, "UPDATE sandbox_charges SET status = 'succeeded' RETURNING id")
    # The genuine event pays the order; its replay changes nothing.
    first = await _post(gql, body, secret)
    assert first.status_code == 200
    assert first.json()["outcome"] == "processed"
    found = await gql.execute(ORDER, {"id": order_id}, token=token)
    assert found["order"]["status"] == "PAID"
    assert len(found["order"]["tickets"]) == 2
    replay = await _post(gql, body, secret)
    assert replay.status_code == 200
    assert replay.json()["outcome"] == "replayed"
    # A second, different event for the same charge is settled already: nothing more.
    late = await _post(gql, _event(charge, "evt_other"), secret)
    assert late.json()["outcome"] == "processed"
    assert len(await _rows(db, "SELECT id FROM tickets")) == 2
    assert (await gql.http.post("/webhooks/payments/nope", content=b"{}")).status_code == 404


async def test_async_payment_confirmed_by_the_sandbox(
    gql: GraphQLClient, db: Database, settings: Settings
) -> None:
    """The sandbox's own delivery, through the app (its due time brought forward: the
    test's clock is its transaction's)."""
    token, order_id = await _pending_async_order(gql, db)
    payments = payments_of({}, db, settings)
    # Not due yet: a round (four a second in each process) is one probe, no transaction.
    with capture_statements() as statements:
        assert await payments.sandbox.deliver_due_webhooks(gql.http) == 0
    assert len(statements) == 1
    assert statements[0].startswith("SELECT")
    await _rows(db, "UPDATE sandbox_charges SET webhook_due_at = now() RETURNING id")
    assert await payments.sandbox.deliver_due_webhooks(gql.http) == 1
    found = await gql.execute(ORDER, {"id": order_id}, token=token)
    assert found["order"]["status"] == "PAID"
    assert [p["status"] for p in found["order"]["payments"]] == ["SUCCEEDED"]
    # Delivered once: nothing is due any more.
    assert await payments.sandbox.deliver_due_webhooks(gql.http) == 0


async def test_confirmation_after_expiry_is_refunded(
    gql: GraphQLClient, db: Database, settings: Settings
) -> None:
    token, order_id = await _pending_async_order(gql, db)
    await _rows(db, "UPDATE orders SET expires_at = now() - interval '1 s' RETURNING id")
    (charge,) = await _rows(
        db, "UPDATE sandbox_charges SET status = 'succeeded' RETURNING id, reference"
    )
    response = await _post(gql, _event(charge), settings.webhook_secret())
    assert response.status_code == 200
    found = await gql.execute(ORDER, {"id": order_id}, token=token)
    assert found["order"]["tickets"] == []
    assert [p["status"] for p in found["order"]["payments"]] == ["REFUNDED"]
    assert [tuple(r) for r in await _rows(db, "SELECT status FROM sandbox_charges")] == [
        ("refunded",)
    ]


async def test_tok_async_over_real_http(committed_db: Database, settings: Settings) -> None:
    """A real server: payOrder with tok_async, then the sandbox (the server's own background
    work) calls the webhook over HTTP about a second later and the order becomes PAID."""
    port = free_port()
    live = settings.model_copy(
        update={
            "payment_webhook_url": f"http://127.0.0.1:{port}{URL}",
            "sweeper_interval_seconds": 0.5,
        }
    )
    app = create_app(live, database=committed_db)
    show = await create_bookable_showtime(committed_db)
    user = await create_user(committed_db)
    from graph.auth import create_access_token

    token = create_access_token(user.id, user.role, live)
    async with serve_in_process(app, port=port) as base, httpx.AsyncClient(base_url=base) as http:
        client = GraphQLClient(http, live)
        order = (
            await checkout(client, token, await hold(client, token, show.id, show.seat_ids[:1]))
        )["order"]
        started = time.monotonic()
        out = await pay(client, token, order["id"], "tok_async")
        assert out["order"]["status"] == "PENDING_PAYMENT"
        status = out["order"]["status"]
        while status != "PAID" and time.monotonic() - started < 10:
            await asyncio.sleep(0.1)
            status = (await client.execute(ORDER, {"id": order["id"]}, token=token))["order"][
                "status"
            ]
        assert status == "PAID"
        assert time.monotonic() - started >= 0.9  # confirmed about a second later
        events = await _rows(committed_db, "SELECT event_id FROM payment_events")
        assert len(events) == 1


async def test_hostile_webhooks_are_refused_cleanly(
    gql: GraphQLClient, db: Database, settings: Settings
) -> None:
    """Non-ASCII in the header, non-JSON constants, numbers past a float's range, NUL, a lone
    surrogate, deep nesting, and a genuine-looking event naming another payment's charge:
    400 or ignored, never 500."""
    secret = settings.webhook_secret()
    now = int(time.time())
    body = b'{"id": "evt_x", "type": "charge.succeeded", "data": {"object": {}}}'
    for header in (f"t=\u00b2,v1={'0' * 64}", f"t={now},v1=\u00e9", f"t={now},v1=zz"):
        response = await gql.http.post(
            URL, content=body, headers={webhooks.HEADER: header.encode("latin-1")}
        )
        assert response.status_code == 400
    tail = b', "data": {"object": {"id": "c", "reference": "r"}}}'
    hostile = [
        b'{"id": "e1", "type": "charge.succeeded", "x": NaN' + tail,
        # numbers past a float's range: parsed as infinity, which jsonb refuses (was a 500)
        b'{"id": "e4", "type": "charge.succeeded", "amount": 1e400' + tail,
        b'{"id": "e5", "type": "charge.succeeded", "amount": -1e999' + tail,
        b'{"id": "e\\u0000", "type": "charge.succeeded"' + tail,
        b'{"id": "e2", "type": "charge.succeeded", "x": "\\ud800"' + tail,
        b'{"id": "e3", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ]
    for raw in hostile:
        assert (await _post(gql, raw, secret)).status_code == 400
    # Two async payments; an event for the first naming the second's charge changes nothing.
    token, first = await _pending_async_order(gql, db)
    _, _second = await _pending_async_order(gql, db)
    charges = await _rows(db, "SELECT id, reference FROM sandbox_charges ORDER BY created_at, id")
    forged = json.dumps(
        {
            "id": "evt_forged",
            "type": "charge.succeeded",
            "data": {"object": {"id": charges[1].id, "reference": charges[0].reference}},
        }
    ).encode()
    response = await _post(gql, forged, secret)
    assert response.status_code == 200
    assert response.json()["outcome"] == "charge does not match"
    found = await gql.execute(ORDER, {"id": first}, token=token)
    assert found["order"]["status"] == "PENDING_PAYMENT"


async def test_deeply_nested_json_is_a_client_error(gql: GraphQLClient) -> None:
    deep = b'{"query": "{ __typename }", "variables": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    response = await gql.http.post(
        "/graphql", content=deep, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    response = await gql.http.get(
        "/graphql", params={"query": "{ __typename }", "variables": "[" * 3000}
    )
    assert response.status_code == 400
