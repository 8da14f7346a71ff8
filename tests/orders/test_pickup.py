"""Products picked up at the cinema (docs/shop.md, "Pickup"): fulfilment statuses as the
customer sees them, markPickedUp (staff) by booking reference or order number, its errors,
a refund after a pickup (picked-up products stay out of stock), and two staff racing."""

from __future__ import annotations

import asyncio
from typing import Any

from db.orders import actions as order_actions
from db.payments import actions as payment_actions
from db.session import Database
from db.showtimes.actions import cancel_showtime
from graph.orders.services import payments_of
from graph.settings import Settings
from tests.conftest import GraphQLClient
from tests.factories import create_bookable_showtime, create_user
from tests.orders.flows import CANCEL, hold, pay
from tests.orders.test_shop_checkout import line, product, shop_checkout, stock

LINE_FIELDS = "id kind description fulfilmentStatus pickedUpAt"
PICK_UP = f"""
mutation ($input: MarkPickedUpInput!) {{
  markPickedUp(input: $input) {{
    order {{ number status lines {{ {LINE_FIELDS} }} }}
    pickedUp {{ {LINE_FIELDS} }}
    errors {{ code message field }}
  }}
}}
"""
MY_ORDERS = f"""
{{ me {{ orders(first: 10) {{ edges {{ node {{ number status
  lines {{ {LINE_FIELDS} }} tickets {{ bookingReference }} }} }} }} }} }}
"""


async def pick_up(gql: GraphQLClient, token: str, **given: Any) -> dict[str, Any]:
    data = await gql.execute(PICK_UP, {"input": given}, token=token)
    payload: dict[str, Any] = data["markPickedUp"]
    return payload


def statuses(lines: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(x["kind"], x["fulfilmentStatus"]) for x in lines]


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def my_order(gql: GraphQLClient, token: str) -> dict[str, Any]:
    data = await gql.execute(MY_ORDERS, token=token)
    [edge] = data["me"]["orders"]["edges"]
    node: dict[str, Any] = edge["node"]
    return node


async def _order_with_products(
    gql: GraphQLClient, db: Database, show_id: int, seat: int, *, stock_of: int = 10
) -> tuple[str, dict[str, Any], list[int]]:
    """A customer's order of one seat, a T-shirt (2) and a cola (1), not yet paid."""
    token = gql.token_for(await create_user(db))
    shirt, (m,) = await product(db, f"Shirt {seat}", "20.00", [("M", "0", stock_of)])
    cola, (c,) = await product(db, f"Cola {seat}", "3.00", [("Standard", "0", stock_of)])
    hold_id = await hold(gql, token, show_id, [seat])
    out = await shop_checkout(gql, token, hold_id, products=[line(shirt, m, 2), line(cola, c, 1)])
    assert out["errors"] == [], out
    return token, out["order"], [m, c]


async def test_statuses_and_pickup(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    staff = gql.token_for(await create_user(db, role="MANAGER"))
    token, order, _ = await _order_with_products(gql, db, show.id, show.seat_ids[0])
    mine = await my_order(gql, token)
    assert statuses(mine["lines"]) == [
        ("TICKET", None),
        ("PRODUCT", "PENDING"),
        ("PRODUCT", "PENDING"),
    ]
    # Not paid yet: nothing to hand over.
    pending = await pick_up(gql, staff, orderNumber=mine["number"])
    assert codes(pending) == ["ORDER_NOT_PAID"]
    assert pending["order"]["number"] == mine["number"]

    await pay(gql, token, order["id"])
    mine = await my_order(gql, token)
    assert statuses(mine["lines"])[1:] == [("PRODUCT", "READY"), ("PRODUCT", "READY")]
    reference = mine["tickets"][0]["bookingReference"]

    # Customers may not hand over anything.
    denied = await gql.raw(PICK_UP, {"input": {"bookingReference": reference}}, token=token)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # Unknown order, malformed input, a ticket line named.
    assert codes(await pick_up(gql, staff, bookingReference="AAAAAAAA")) == ["NOT_FOUND"]
    assert codes(await pick_up(gql, staff, orderNumber="MQ-XXXXXX")) == ["NOT_FOUND"]
    assert codes(await pick_up(gql, staff)) == ["VALIDATION_ERROR"]
    ticket_line = mine["lines"][0]["id"]
    wrong = await pick_up(gql, staff, bookingReference=reference, lineIds=[ticket_line])
    assert [(e["code"], e["field"]) for e in wrong["errors"]] == [("NOT_FOUND", "lineIds")]

    # One line by number (lower case and spaces are forgiven), then the rest by reference.
    shirt_line = mine["lines"][1]["id"]
    first = await pick_up(
        gql, staff, orderNumber=f" {mine['number'].lower()} ", lineIds=[shirt_line]
    )
    assert first["errors"] == []
    assert [x["id"] for x in first["pickedUp"]] == [shirt_line]
    assert first["pickedUp"][0]["fulfilmentStatus"] == "PICKED_UP"
    assert first["pickedUp"][0]["pickedUpAt"] is not None
    assert statuses(first["order"]["lines"])[1:] == [
        ("PRODUCT", "PICKED_UP"),
        ("PRODUCT", "READY"),
    ]
    again = await pick_up(gql, staff, bookingReference=reference, lineIds=[shirt_line])
    assert codes(again) == ["ALREADY_PICKED_UP"]
    rest = await pick_up(gql, staff, bookingReference=reference.lower())
    assert rest["errors"] == []
    assert [x["description"] for x in rest["pickedUp"]] == [mine["lines"][2]["description"]]
    done = await pick_up(gql, staff, bookingReference=reference)
    assert codes(done) == ["ALREADY_PICKED_UP"]
    assert done["pickedUp"] == []
    # The customer sees it.
    mine = await my_order(gql, token)
    assert statuses(mine["lines"]) == [
        ("TICKET", None),
        ("PRODUCT", "PICKED_UP"),
        ("PRODUCT", "PICKED_UP"),
    ]


async def test_refund_keeps_picked_up_products_out_of_stock(
    gql: GraphQLClient, db: Database, settings: Settings
) -> None:
    show = await create_bookable_showtime(db)
    staff = gql.token_for(await create_user(db, role="MANAGER"))
    token, order, (shirt, cola) = await _order_with_products(gql, db, show.id, show.seat_ids[0])
    await pay(gql, token, order["id"])
    assert (await stock(db, shirt), await stock(db, cola)) == (8, 9)
    mine = await my_order(gql, token)
    picked = await pick_up(gql, staff, orderNumber=mine["number"], lineIds=[mine["lines"][1]["id"]])
    assert picked["errors"] == []

    # Like a used ticket, a picked-up product makes the order not cancellable (staff too).
    for who in (token, staff):
        refused = (await gql.execute(CANCEL, {"input": {"orderId": order["id"]}}, token=who))[
            "cancelOrder"
        ]
        assert [e["code"] for e in refused["errors"]] == ["ORDER_NOT_CANCELLABLE"]
    # A cancelled showtime refunds it all the same (as the background work does).
    async with db.transaction() as session:
        await cancel_showtime(session, show.id)
    async with db.transaction() as session:
        released = await order_actions.release_cancelled_showtime(session, show.id)
    assert released.refunds_pending == 1
    providers = payments_of({}, db, settings).providers
    assert await payment_actions.refund_cancelled_showtimes(db, providers) == 1
    # The shirts were handed over: they stay out of stock; the cola goes back.
    assert (await stock(db, shirt), await stock(db, cola)) == (8, 10)
    mine = await my_order(gql, token)
    assert mine["status"] == "REFUNDED"
    assert statuses(mine["lines"])[1:] == [("PRODUCT", "PICKED_UP"), ("PRODUCT", "PENDING")]
    after = await pick_up(gql, staff, orderNumber=mine["number"])
    assert codes(after) == ["ORDER_CANCELLED"]


async def test_two_staff_race_for_one_pickup(
    committed_gql: GraphQLClient, committed_db: Database
) -> None:
    gql = committed_gql
    show = await create_bookable_showtime(committed_db)
    staff = [gql.token_for(await create_user(committed_db, role="MANAGER")) for _ in range(2)]
    token, order, _ = await _order_with_products(gql, committed_db, show.id, show.seat_ids[0])
    await pay(gql, token, order["id"])
    mine = await my_order(gql, token)
    reference = mine["tickets"][0]["bookingReference"]
    # One by reference, one by number: the same order, at once.
    results = await asyncio.gather(
        pick_up(gql, staff[0], bookingReference=reference),
        pick_up(gql, staff[1], orderNumber=mine["number"]),
    )
    outcomes = sorted(codes(r)[0] if r["errors"] else "OK" for r in results)
    assert outcomes == ["ALREADY_PICKED_UP", "OK"]
    winner = next(r for r in results if not r["errors"])
    assert len(winner["pickedUp"]) == 2
    mine = await my_order(gql, token)
    assert statuses(mine["lines"])[1:] == [("PRODUCT", "PICKED_UP"), ("PRODUCT", "PICKED_UP")]
