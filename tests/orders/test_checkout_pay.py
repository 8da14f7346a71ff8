"""checkout and payOrder through the real app: orders, prices, tickets, points, the e-mail
in the outbox, the sandbox's tokens, idempotency keys, and who may see an order."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from db.session import Database, capture_statements
from db.shop.actions import create_promo_code
from graph.relay import to_global_id
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
    pay,
    seat_states,
)


async def _scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.transaction() as session:
        return (await session.execute(text(sql), params)).scalar()


async def test_checkout_then_pay_issues_tickets(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    user = await create_user(db, email="ann@example.com")
    token = gql.token_for(user)
    hold_id = await hold(gql, token, show.id, show.seat_ids[:2])
    out = await checkout(gql, token, hold_id)
    assert out["errors"] == []
    order = out["order"]
    assert order["status"] == "PENDING_PAYMENT"
    assert order["number"].startswith("MQ-")
    assert len(order["number"]) == 9
    assert order["subtotal"] == {"amount": "20.00", "currency": "USD"}
    assert order["total"] == {"amount": "20.00", "currency": "USD"}
    assert order["discount"] == {"amount": "0.00"}
    assert [line["seat"]["id"] for line in order["lines"]] == [
        gid("Seat", s) for s in show.seat_ids[:2]
    ]
    assert all(line["unitPrice"] == {"amount": "10.00"} for line in order["lines"])
    assert order["tickets"] == []
    assert order["payments"] == []
    # The seats stay held, by this order, and still read as held by me.
    states = await seat_states(gql, token, show.id)
    assert states[gid("Seat", show.seat_ids[0])] == ("HELD", True)

    paid = await pay(gql, token, order["id"])
    assert paid["errors"] == []
    order = paid["order"]
    assert order["status"] == "PAID"
    assert order["paidAt"] is not None
    assert order["payments"] == [
        {"status": "SUCCEEDED", "amount": {"amount": "20.00"}, "provider": "sandbox"}
    ]
    tickets = order["tickets"]
    assert len(tickets) == 2
    assert {t["seat"]["id"] for t in tickets} == {gid("Seat", s) for s in show.seat_ids[:2]}
    for t in tickets:
        assert t["status"] == "VALID"
        assert len(t["bookingReference"]) == 8
        assert set(t["bookingReference"]) <= set("34679ACDEFGHJKMNPQRTWXY")
        assert t["qrPayload"]
    states = await seat_states(gql, token, show.id)
    assert states[gid("Seat", show.seat_ids[0])][0] == "SOLD"

    me = (await gql.execute(ME, {"first": 10}, token=token))["me"]
    assert me["loyaltyPoints"] == 20
    assert me["totalSpent"] == {"amount": "20.00", "currency": "USD"}
    assert me["orders"]["totalCount"] == 1
    assert me["tickets"]["totalCount"] == 2
    # The confirmation e-mail is in the outbox, written by the same transaction.
    assert (
        await _scalar(
            db,
            "SELECT count(*) FROM outbox_messages WHERE recipient = 'ann@example.com' "
            "AND template = 'order_confirmation'",
        )
        == 1
    )
    # Paying again is refused and charges nothing.
    again = await pay(gql, token, order["id"])
    assert [e["code"] for e in again["errors"]] == ["VALIDATION_ERROR"]
    assert await _scalar(db, "SELECT count(*) FROM sandbox_charges") == 1


async def test_declined_then_paid(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    token = gql.token_for(await create_user(db))
    order = (await checkout(gql, token, await hold(gql, token, show.id, show.seat_ids[:1])))[
        "order"
    ]
    declined = await pay(gql, token, order["id"], "tok_chargeDeclined")
    assert [e["code"] for e in declined["errors"]] == ["PAYMENT_DECLINED"]
    assert declined["order"]["status"] == "PENDING_PAYMENT"
    poor = await pay(gql, token, order["id"], "tok_chargeDeclinedInsufficientFunds")
    assert [e["code"] for e in poor["errors"]] == ["INSUFFICIENT_FUNDS"]
    unknown = await pay(gql, token, order["id"], "tok_nonsense")
    assert [(e["code"], e["field"]) for e in unknown["errors"]] == [
        ("VALIDATION_ERROR", "paymentToken")
    ]
    paid = await pay(gql, token, order["id"], "tok_visa")
    assert paid["errors"] == []
    assert paid["order"]["status"] == "PAID"
    assert [p["status"] for p in paid["order"]["payments"]] == [
        "FAILED",
        "FAILED",
        "FAILED",
        "SUCCEEDED",
    ]


async def test_checkout_errors(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    alice = gql.token_for(await create_user(db))
    bob = gql.token_for(await create_user(db))
    hold_id = await hold(gql, alice, show.id, show.seat_ids[:1])
    # Someone else's hold is not found; a malformed one is a validation error.
    assert [e["code"] for e in (await checkout(gql, bob, hold_id))["errors"]] == ["NOT_FOUND"]
    bad = await checkout(gql, alice, gid("Movie", 1))
    assert [(e["code"], e["field"]) for e in bad["errors"]] == [("VALIDATION_ERROR", "holdId")]
    # An unknown product or promo code refuses the whole checkout (tests/shop/ has the rest).
    products = await checkout(
        gql, alice, hold_id, products=[{"productId": gid("Product", 10**9), "quantity": 1}]
    )
    assert [(e["code"], e["field"]) for e in products["errors"]] == [
        ("NOT_FOUND", "products.0.productId")
    ]
    promo = await checkout(gql, alice, hold_id, promoCode="SUMMER")
    assert [(e["code"], e["field"]) for e in promo["errors"]] == [
        ("PROMO_CODE_INVALID", "promoCode")
    ]
    # An expired hold.
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE seat_holds SET expires_at = now() - interval '1 second'")
        )
        await session.execute(
            text("UPDATE seat_occupancy SET expires_at = now() - interval '1 second'")
        )
    assert [e["code"] for e in (await checkout(gql, alice, hold_id))["errors"]] == ["HOLD_EXPIRED"]


async def test_checkout_of_a_cancelled_showtime(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    alice = gql.token_for(await create_user(db))
    hold_id = await hold(gql, alice, show.id, show.seat_ids[:1])
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE showtimes SET status = 'CANCELLED' WHERE id = :id"), {"id": show.id}
        )
    assert [e["code"] for e in (await checkout(gql, alice, hold_id))["errors"]] == [
        "SHOWTIME_NOT_BOOKABLE"
    ]


async def test_one_order_per_hold_and_idempotency_keys(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    alice = gql.token_for(await create_user(db))
    hold_id = await hold(gql, alice, show.id, show.seat_ids[:2])
    first = await checkout(gql, alice, hold_id, idempotencyKey="k-1")
    second = await checkout(gql, alice, hold_id, idempotencyKey="k-1")
    assert second["order"]["id"] == first["order"]["id"]
    again = await checkout(gql, alice, hold_id)
    assert again["order"]["id"] == first["order"]["id"]
    other_hold = await hold(gql, alice, show.id, show.seat_ids[2:3])
    reused = await checkout(gql, alice, other_hold, idempotencyKey="k-1")
    assert [(e["code"], e["field"]) for e in reused["errors"]] == [
        ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    ]
    assert await _scalar(db, "SELECT count(*) FROM orders") == 1

    order_id = first["order"]["id"]
    paid = await pay(gql, alice, order_id, "tok_visa", idempotencyKey="p-1")
    replay = await pay(gql, alice, order_id, "tok_visa", idempotencyKey="p-1")
    assert paid["errors"] == replay["errors"] == []
    assert replay["order"]["status"] == "PAID"
    assert await _scalar(db, "SELECT count(*) FROM sandbox_charges") == 1
    other = await pay(gql, alice, order_id, "tok_async", idempotencyKey="p-1")
    assert [e["code"] for e in other["errors"]] == ["IDEMPOTENCY_KEY_REUSED"]


async def test_a_declined_result_is_replayed_without_a_second_charge(
    gql: GraphQLClient, db: Database
) -> None:
    show = await create_bookable_showtime(db)
    alice = gql.token_for(await create_user(db))
    order = (await checkout(gql, alice, await hold(gql, alice, show.id, show.seat_ids[:1])))[
        "order"
    ]
    first = await pay(gql, alice, order["id"], "tok_chargeDeclined", idempotencyKey="d")
    second = await pay(gql, alice, order["id"], "tok_chargeDeclined", idempotencyKey="d")
    assert [e["code"] for e in first["errors"]] == ["PAYMENT_DECLINED"]
    assert [e["code"] for e in second["errors"]] == ["PAYMENT_DECLINED"]
    assert await _scalar(db, "SELECT count(*) FROM sandbox_charges") == 1


async def test_paying_an_expired_order_charges_nothing(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    alice = gql.token_for(await create_user(db))
    order = (await checkout(gql, alice, await hold(gql, alice, show.id, show.seat_ids[:1])))[
        "order"
    ]
    async with db.transaction() as session:
        await session.execute(text("UPDATE orders SET expires_at = now() - interval '1 s'"))
    out = await pay(gql, alice, order["id"])
    assert [e["code"] for e in out["errors"]] == ["HOLD_EXPIRED"]
    assert await _scalar(db, "SELECT count(*) FROM sandbox_charges") == 0
    assert await _scalar(db, "SELECT count(*) FROM payments") == 0


async def test_orders_and_tickets_are_private(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    alice_user = await create_user(db)
    alice = gql.token_for(alice_user)
    bob = gql.token_for(await create_user(db))
    staff = gql.token_for(await create_user(db, role="MANAGER"))
    order = await buy(gql, alice, show.id, show.seat_ids[:1])
    ticket = order["tickets"][0]["id"]
    for token, visible in ((alice, True), (staff, True), (bob, False), (None, False)):
        found = await gql.execute(ORDER, {"id": order["id"]}, token=token)
        assert (found["order"] is not None) is visible
        node = await gql.execute(
            "query ($id: ID!) { node(id: $id) { id } }", {"id": ticket}, token=token
        )
        assert (node["node"] is not None) is visible
    # Only staff check tickets in.
    denied = await gql.raw(
        CHECK_IN, {"input": {"bookingReference": order["tickets"][0]["bookingReference"]}}, alice
    )
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_me_orders_statements_do_not_grow(gql: GraphQLClient, db: Database) -> None:

    user = await create_user(db)
    token = gql.token_for(user)

    # A short tickets page beside a long orders page: the orders' lines name seats the
    # tickets page does not, and still no seat costs a statement of its own.
    query = """
    query { me {
      orders(first: 50) { edges { node { number lines { seat { id rowLabel } }
        tickets { bookingReference seat { id } showtime { id } } payments { status } } } }
      tickets(first: 1) { edges { node { seat { id number } order { number } } } }
    } }
    """

    async def statements() -> int:
        with capture_statements() as seen:
            await gql.execute(query, token=token)
        return len(seen)

    show = await create_bookable_showtime(db, rows=3, seats_per_row=10)
    await buy(gql, token, show.id, show.seat_ids[:1])
    few = await statements()
    for i in range(1, 8):
        await buy(gql, token, show.id, show.seat_ids[i * 2 : i * 2 + 2])
    many = await statements()
    assert few == many


async def test_review_is_verified_after_a_past_showtime(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db, starts_in=timedelta(hours=3))
    user = await create_user(db)
    token = gql.token_for(user)
    await buy(gql, token, show.id, show.seat_ids[:1])
    movie = await _scalar(db, "SELECT movie_id FROM showtimes WHERE id = :id", id=show.id)
    review = await gql.execute(
        """mutation ($input: CreateReviewInput!) {
             createReview(input: $input) { review { id verifiedPurchase } errors { code } }
           }""",
        {"input": {"movieId": gid("Movie", movie), "rating": 8, "title": "Good", "body": "Fine."}},
        token=token,
    )
    assert review["createReview"]["review"]["verifiedPurchase"] is False  # not seen yet
    async with db.transaction() as session:
        await session.execute(
            text(
                "UPDATE showtimes SET starts_at = now() - interval '3 hours', "
                "ends_at = now() - interval '1 hour' WHERE id = :id"
            ),
            {"id": show.id},
        )
    found = await gql.execute(
        "query ($id: ID!) { node(id: $id) { ... on Review { verifiedPurchase } } }",
        {"id": review["createReview"]["review"]["id"]},
    )
    assert found["node"]["verifiedPurchase"] is True
    # In a page of reviews: a reviewer without a ticket is not verified, and the field costs
    # one statement for the whole page, only when it is selected.
    other = gql.token_for(await create_user(db))
    created = await gql.execute(
        "mutation ($input: CreateReviewInput!) { createReview(input: $input) { errors { code } } }",
        {"input": {"movieId": gid("Movie", movie), "rating": 3, "title": "Meh", "body": "No."}},
        token=other,
    )
    assert created["createReview"]["errors"] == []
    page = """query ($id: ID!) { movie(id: $id) { reviews(first: 5) { edges { node {
                 title %s } } } } }"""
    counts = []
    for fields in ("", "verifiedPurchase"):
        with capture_statements() as log:
            listed = await gql.execute(page % fields, {"id": gid("Movie", movie)})
        counts.append(len(log))
    nodes = listed["movie"]["reviews"]["edges"]
    assert {e["node"]["title"]: e["node"]["verifiedPurchase"] for e in nodes} == {
        "Good": True,
        "Meh": False,
    }
    assert counts[1] == counts[0] + 1


async def test_total_spent_is_in_the_currency_paid(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    token = gql.token_for(await create_user(db))
    before = (await gql.execute(ME, {"first": 1}, token=token))["me"]["totalSpent"]
    assert before == {"amount": "0.00", "currency": "USD"}  # MARQUEE_CURRENCY
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE showtime_prices SET currency = 'EUR' WHERE showtime_id = :id"),
            {"id": show.id},
        )
    order = await buy(gql, token, show.id, show.seat_ids[:1])
    assert order["total"] == {"amount": "10.00", "currency": "EUR"}
    after = (await gql.execute(ME, {"first": 1}, token=token))["me"]["totalSpent"]
    assert after == {"amount": "10.00", "currency": "EUR"}


async def test_a_reused_key_shows_no_one_elses_order(gql: GraphQLClient, db: Database) -> None:
    """A payment key reused with another customer's order id is refused, and the payload
    holds no order: payloads only show orders the viewer may see."""
    show = await create_bookable_showtime(db)
    alice = gql.token_for(await create_user(db))
    mallory = gql.token_for(await create_user(db))
    victim = await buy(gql, alice, show.id, show.seat_ids[:1])
    own = (await checkout(gql, mallory, await hold(gql, mallory, show.id, show.seat_ids[1:2])))[
        "order"
    ]
    await pay(gql, mallory, own["id"], "tok_chargeDeclined", idempotencyKey="K")
    stolen = await pay(gql, mallory, victim["id"], "tok_chargeDeclined", idempotencyKey="K")
    assert [e["code"] for e in stolen["errors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    assert stolen["order"] is None
    other = await pay(gql, mallory, victim["id"], "tok_visa")
    assert [e["code"] for e in other["errors"]] == ["NOT_FOUND"]
    assert other["order"] is None
    cancel = await gql.execute(CANCEL, {"input": {"orderId": victim["id"]}}, token=mallory)
    assert cancel["cancelOrder"]["order"] is None


async def test_the_planner_expects_an_orders_few_tickets_from_fulfilment(db: Database) -> None:
    """`marquee_settle_payment` joins `marquee_fulfil_order`'s rows (one per ticket) to
    `seats` and `order_lines`. Guessing a function's default 1,000 rows, PostgreSQL hashed
    both whole tables for every payment (migration 0022_fulfil_rows); a later CREATE OR
    REPLACE of the function without its ROWS clause would bring that back."""
    async with db.transaction() as session:
        rows = (
            await session.execute(
                text("SELECT prorows FROM pg_proc WHERE proname = 'marquee_fulfil_order'")
            )
        ).scalar_one()
    assert 0 < rows <= Settings().max_seats_per_hold


async def test_the_seat_functions_keep_generic_plans(db: Database) -> None:
    """The announcer's count (migration 0027_generic_plans) and a statement of the hold
    (0028_hold_seat_order) were planned again at every call until the functions were set to
    keep generic plans; a later CREATE OR REPLACE without the SET clause would bring the
    planning back. The checkout keeps PostgreSQL's own choice (not measured with it)."""
    async with db.transaction() as session:
        rows = dict(
            (
                await session.execute(
                    text(
                        "SELECT proname, proconfig FROM pg_proc WHERE proname IN"
                        " ('marquee_announce_seats', 'marquee_hold_seats', 'marquee_checkout')"
                    )
                )
            ).all()
        )
    assert rows == {
        "marquee_announce_seats": ["plan_cache_mode=force_generic_plan"],
        "marquee_hold_seats": ["plan_cache_mode=force_generic_plan"],
        "marquee_checkout": None,
    }


PAYLOAD_ORDER = """
  id number status currency promoCode createdAt expiresAt paidAt cancelledAt user { id }
  subtotal { amount currency } discount { amount currency } total { amount currency }
"""


PAYLOAD_TICKETS = """
  tickets { id bookingReference status checkedInAt price { amount currency } order { id }
    showtime { id } seat { id rowLabel number type x y isBlocked } }
"""


async def test_the_order_the_sale_functions_return_is_the_order_read_again(
    gql: GraphQLClient, db: Database
) -> None:
    """checkout and payOrder answer with the order their own statement read (migration
    0029_payload_order), not with a read of their own: the same fields, value for value, as
    `order(id:)` reads them afterwards, with a promo code and a discount; and the answers
    cost the mutation no statement for the order."""
    async with db.transaction() as session:
        await create_promo_code(
            session, {"code": "HALF", "percent_off": Decimal(50)}, currency="USD"
        )
    show = await create_bookable_showtime(db)
    user = await create_user(db)
    token = gql.token_for(user)
    held = await hold(gql, token, show.id, show.seat_ids[:2])
    checkout_doc = (
        "mutation ($input: CheckoutInput!) { checkout(input: $input) {"
        f" order {{ {PAYLOAD_ORDER} }} errors {{ code }} }} }}"
    )
    pay_doc = (
        "mutation ($input: PayOrderInput!) { payOrder(input: $input) {"
        f" order {{ {PAYLOAD_ORDER} {PAYLOAD_TICKETS} }} errors {{ code }} }} }}"
    )
    read_doc = f"query ($id: ID!) {{ order(id: $id) {{ {PAYLOAD_ORDER} }} }}"
    read_paid_doc = f"query ($id: ID!) {{ order(id: $id) {{ {PAYLOAD_ORDER} {PAYLOAD_TICKETS} }} }}"
    with capture_statements() as log:
        answer = await gql.execute(
            checkout_doc, {"input": {"holdId": held, "promoCode": "half"}}, token=token
        )
    assert not any("FROM orders" in s and "marquee_checkout" not in s for s in log)
    pending = answer["checkout"]["order"]
    assert (pending["status"], pending["promoCode"], pending["discount"]["amount"]) == (
        "PENDING_PAYMENT",
        "HALF",
        str(Decimal(pending["subtotal"]["amount"]) / 2),
    )
    read = await gql.execute(read_doc, {"id": pending["id"]}, token=token)
    assert read["order"] == pending
    with capture_statements() as log:
        answer = await gql.execute(
            pay_doc, {"input": {"orderId": pending["id"], "paymentToken": "tok_visa"}}, token=token
        )
    # Neither the order nor its tickets and their seats (0031_payload_tickets) are read
    # again: the settling statement returned them.
    assert not any(
        ("FROM orders" in s or "FROM tickets" in s or "FROM seats" in s) and "marquee_" not in s
        for s in log
    )
    paid = answer["payOrder"]["order"]
    assert paid["status"] == "PAID"
    assert paid["paidAt"] is not None
    assert sorted(t["seat"]["id"] for t in paid["tickets"]) == sorted(
        to_global_id("Seat", s) for s in show.seat_ids[:2]
    )
    read = await gql.execute(read_paid_doc, {"id": pending["id"]}, token=token)
    assert read["order"] == paid


async def test_a_declined_payment_answers_with_no_tickets_and_reads_none(
    gql: GraphQLClient, db: Database
) -> None:
    """A declined payment's settle returns the order with no tickets (empty arrays, not
    NULL): the payload shows none, and reads none."""
    show = await create_bookable_showtime(db)
    user = await create_user(db)
    token = gql.token_for(user)
    held = await hold(gql, token, show.id, show.seat_ids[:1])
    order = await gql.execute(
        "mutation ($input: CheckoutInput!) { checkout(input: $input) { order { id } } }",
        {"input": {"holdId": held}},
        token=token,
    )
    order_id = order["checkout"]["order"]["id"]
    with capture_statements() as log:
        answer = await gql.execute(
            "mutation ($input: PayOrderInput!) { payOrder(input: $input) {"
            f" order {{ status {PAYLOAD_TICKETS} }} errors {{ code }} }} }}",
            {"input": {"orderId": order_id, "paymentToken": "tok_chargeDeclined"}},
            token=token,
        )
    assert answer["payOrder"] == {
        "order": {"status": "PENDING_PAYMENT", "tickets": []},
        "errors": [{"code": "PAYMENT_DECLINED"}],
    }
    assert not any("FROM tickets" in s and "marquee_" not in s for s in log)


async def test_a_booking_reference_that_clashes_is_drawn_again(
    gql: GraphQLClient, db: Database
) -> None:
    """A paid order's tickets are made in one INSERT (migration 0034_fewer_statements): a
    booking reference already taken leaves its line without a ticket, and the next round
    draws again for that line only. The draw is made to clash here by a stand-in for
    `marquee_random_code` that hands out a taken reference first (the test's transaction
    rolls it back)."""
    show = await create_bookable_showtime(db)
    first = await buy(gql, gql.token_for(await create_user(db)), show.id, show.seat_ids[:1])
    taken = first["tickets"][0]["bookingReference"]
    assert taken.isalnum()  # written into the stand-in's text below
    async with db.transaction() as session:
        await session.execute(
            text("ALTER FUNCTION marquee_random_code(integer) RENAME TO marquee_random_code_real")
        )
        await session.execute(text("CREATE TEMPORARY TABLE drawn (code text)"))
        await session.execute(
            text(
                "CREATE FUNCTION marquee_random_code(p_length integer) RETURNS text"
                " LANGUAGE plpgsql AS $fn$ DECLARE v_code text; BEGIN"
                " v_code := CASE WHEN p_length = 8 AND NOT EXISTS (SELECT 1 FROM drawn)"
                f" THEN '{taken}' ELSE marquee_random_code_real(p_length) END;"
                " IF p_length = 8 THEN INSERT INTO drawn VALUES (v_code); END IF;"
                " RETURN v_code; END $fn$"
            )
        )
    paid = await buy(gql, gql.token_for(await create_user(db)), show.id, show.seat_ids[1:3])
    references = [t["bookingReference"] for t in paid["tickets"]]
    assert len(references) == 2
    assert taken not in references
    async with db.transaction() as session:
        drawn = [r[0] for r in (await session.execute(text("SELECT code FROM drawn"))).all()]
        owners = (
            await session.execute(
                text("SELECT count(*) FROM tickets WHERE booking_reference = :r"), {"r": taken}
            )
        ).scalar_one()
    # Three draws: the clash and the other line's in the first round, one more in the second.
    assert drawn[0] == taken
    assert sorted(drawn[1:]) == sorted(references)
    assert owners == 1
